import {
  type AllocationReply,
  type AllocationRequest,
  allocate,
  type BudgetExchange,
  emptyBudgetState,
} from '@db-safeguards/redis/allocation';
import { exponential, type SimClock } from './sim-clock.js';

export interface SimulatedRedisOptions {
  /** Mean one-way network latency between an instance and Redis, ms (exponentially jittered around it). */
  latencyMs: number;
  /** Time Redis spends on one script call, ms; calls run one at a time, as in Redis. */
  serviceMs: number;
}

/**
 * Redis as the simulation sees it: one thread running the budget's real allocation (`allocate`, the
 * function the Lua script is checked against) at Redis's time, behind a network with latency.
 */
export class SimulatedRedis {
  readonly state = emptyBudgetState();
  calls = 0;
  private busyUntil = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly random: () => number,
    private readonly options: SimulatedRedisOptions,
  ) {}

  /** The exchange one instance uses; `deliver` wraps the answer's arrival (a frozen instance defers it). */
  exchangeFor(deliver: (resume: () => void) => void): BudgetExchange {
    return (request: AllocationRequest) =>
      new Promise<AllocationReply>((resolve) => {
        const arrives = this.clock.now() + this.oneWay();
        const runsAt = Math.max(arrives, this.busyUntil) + this.options.serviceMs;
        this.busyUntil = runsAt;
        this.clock.setTimeout(() => {
          this.calls += 1;
          const reply = allocate(this.state, request, {
            now: this.clock.now(),
            runId: 'sim',
            uptimeMs: 1e12,
          });
          this.clock.setTimeout(() => deliver(() => resolve(reply)), this.oneWay());
        }, runsAt - this.clock.now());
      });
  }

  private oneWay(): number {
    return this.options.latencyMs * 0.5 + exponential(this.random, this.options.latencyMs * 0.5);
  }
}
