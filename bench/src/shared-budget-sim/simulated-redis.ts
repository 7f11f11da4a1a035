import {
  type AllocationReply,
  type AllocationRequest,
  allocate,
  type BudgetConnection,
  type BudgetExchange,
  emptyBudgetState,
  type ReapReply,
  type ReapRequest,
  reap,
} from '@db-safeguards/redis/allocation';
import { exponential, type SimClock } from './sim-clock.js';

export interface SimulatedRedisOptions {
  /** Mean one-way network latency between an instance and Redis, ms (exponentially jittered around it). */
  latencyMs: number;
  /** Time Redis spends on one script call, ms; calls run one at a time, as in Redis. */
  serviceMs: number;
}

/** Hands a result to an instance: a frozen instance gets it when it wakes. */
type Deliver = (resume: () => void) => void;

/**
 * Redis as the simulation sees it: one thread running the budget's real allocation (`allocate`, the
 * function the Lua script is checked against) and reaping (`reap`) at Redis's time, behind a network
 * with latency; and the instances' connections, each with a client id, which a crash closes.
 */
export class SimulatedRedis {
  readonly state = emptyBudgetState();
  calls = 0;
  /** CLIENT LIST calls (suspect checks) and reaping calls, counted apart from `calls`. */
  checks = 0;
  reaps = 0;
  private busyUntil = 0;
  private readonly connected = new Set<number>();
  private readonly afterEachCall: Array<(reaped: readonly string[]) => void> = [];

  constructor(
    private readonly clock: SimClock,
    private readonly random: () => number,
    private readonly options: SimulatedRedisOptions,
  ) {}

  /** The exchange one instance uses. */
  exchangeFor(deliver: Deliver): BudgetExchange {
    return (request: AllocationRequest) =>
      this.roundTrip<AllocationReply>(deliver, () => {
        this.calls += 1;
        return allocate(this.state, request, { now: this.clock.now(), runId: 'sim', uptimeMs: 1e12 });
      });
  }

  /** An instance's connection: open until `disconnect(clientId)`. */
  connectionFor(clientId: number, deliver: Deliver): BudgetConnection {
    this.connected.add(clientId);
    return {
      get clientId() {
        return clientId;
      },
      // Only a crash closes a simulated connection, and a crashed instance listens to nothing.
      onClose: () => () => undefined,
      findGone: (ids) =>
        this.roundTrip(deliver, () => {
          this.checks += 1;
          return ids.filter((id) => !this.connected.has(id));
        }),
      reap: (request: ReapRequest) =>
        this.roundTrip<ReapReply>(deliver, () => {
          this.reaps += 1;
          return reap(this.state, request, { now: this.clock.now(), runId: 'sim' });
        }),
    };
  }

  /** The instance's process died: Redis drops its connection. */
  disconnect(clientId: number): void {
    this.connected.delete(clientId);
  }

  /** Calls `observer` after every call Redis runs, with the instances a reap dropped (if any). */
  observe(observer: (reaped: readonly string[]) => void): void {
    this.afterEachCall.push(observer);
  }

  /** Sends a call over the network, runs it when Redis is free, and sends the answer back. */
  private roundTrip<T>(deliver: Deliver, run: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      const arrives = this.clock.now() + this.oneWay();
      const runsAt = Math.max(arrives, this.busyUntil) + this.options.serviceMs;
      this.busyUntil = runsAt;
      this.clock.setTimeout(() => {
        const result = run();
        const reaped = (result as Partial<ReapReply>).reaped ?? [];
        for (const observer of this.afterEachCall) observer(reaped);
        this.clock.setTimeout(() => deliver(() => resolve(result)), this.oneWay());
      }, runsAt - this.clock.now());
    });
  }

  private oneWay(): number {
    return this.options.latencyMs * 0.5 + exponential(this.random, this.options.latencyMs * 0.5);
  }
}
