import type { Clock, PriorityName } from '@db-safeguards/core';
import { LeasedConnectionBudget } from '@db-safeguards/redis/allocation';
import type { SimClock } from './sim-clock.js';
import type { SimulatedRedis } from './simulated-redis.js';

export const bandNames: readonly PriorityName[] = ['BATCH', 'LOW', 'NORMAL', 'HIGH', 'CRITICAL'];

/**
 * One instance's view of time: while it is frozen (a serverless function between invocations) its
 * timers and incoming answers wait until it wakes, as in a frozen process; its clock keeps running.
 */
class InstanceClock implements Clock {
  frozenUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly sim: SimClock) {}

  now(): number {
    return this.sim.now();
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle: { inner: unknown; cancelled: boolean } = { inner: undefined, cancelled: false };
    const fire = () => {
      if (handle.cancelled) return;
      if (this.sim.now() < this.frozenUntil) {
        handle.inner = this.sim.setTimeout(fire, this.frozenUntil - this.sim.now());
        return;
      }
      callback();
    };
    handle.inner = this.sim.setTimeout(fire, ms);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    const timer = handle as { inner: unknown; cancelled: boolean } | undefined;
    if (!timer) return;
    timer.cancelled = true;
    this.sim.clearTimeout(timer.inner);
  }

  deliver(resume: () => void): void {
    if (this.sim.now() < this.frozenUntil)
      this.sim.setTimeout(() => this.deliver(resume), this.frozenUntil - this.sim.now());
    else resume();
  }
}

export interface Operation {
  band: number;
  arrivedAt: number;
  durationMs: number;
  timedOut: boolean;
}

/** What every instance reports to the run's collector. */
export interface InstanceObserver {
  started(instance: SimInstance, op: Operation, waitedMs: number): void;
  finished(instance: SimInstance, op: Operation): void;
  timedOut(instance: SimInstance, op: Operation): void;
  firstSlot(instance: SimInstance, kind: 'new' | 'woken', waitedMs: number): void;
  demandChanged(delta: number): void;
}

export interface SimInstanceOptions {
  id: string;
  /** Its Redis connection's client id; 0: it does not watch its connection (leases end by expiry only). */
  clientId: number;
  capacity: number;
  leaseMs: number;
  refreshMs: number;
  queueTimeoutMs: number;
}

/**
 * An instance of the app: the real `LeasedConnectionBudget` (talking to the simulated Redis) and a
 * priority queue standing in for the core's connection queue: at most `budget.limit` operations run,
 * highest priority first, first come first served within a priority, and every change is reported.
 */
export class SimInstance {
  readonly budget: LeasedConnectionBudget;
  readonly clock: InstanceClock;
  private readonly lanes: Operation[][] = [[], [], [], [], []];
  private readonly queued = [0, 0, 0, 0, 0];
  private readonly running = [0, 0, 0, 0, 0];
  inUse = 0;
  offered = 0;
  served = 0;
  timedOutCount = 0;
  private firstSlotPending: { kind: 'new' | 'woken'; since: number | undefined } | undefined;
  crashed = false;

  constructor(
    readonly options: SimInstanceOptions,
    private readonly sim: SimClock,
    redis: SimulatedRedis,
    private readonly observer: InstanceObserver,
  ) {
    this.clock = new InstanceClock(sim);
    this.firstSlotPending = { kind: 'new', since: undefined };
    const deliver = (resume: () => void) => this.clock.deliver(resume);
    this.budget = new LeasedConnectionBudget(
      {
        capacity: options.capacity,
        instanceId: options.id,
        leaseMs: options.leaseMs,
        refreshMs: options.refreshMs,
        clock: this.clock,
      },
      redis.exchangeFor(deliver),
      options.clientId > 0 ? redis.connectionFor(options.clientId, deliver) : undefined,
    );
    this.budget.onLimitChange(() => this.dispatch());
  }

  get isFrozen(): boolean {
    return this.sim.now() < this.clock.frozenUntil;
  }

  get isIdle(): boolean {
    return this.inUse === 0 && this.queued.every((count) => count === 0);
  }

  /** Freezes the (idle) instance until `until`; its first operation after waking is timed. */
  freeze(until: number): void {
    // A killed instance stays dead: its burst cycle goes on, but must not wake it.
    if (this.crashed) return;
    this.clock.frozenUntil = until;
    this.firstSlotPending = { kind: 'woken', since: undefined };
  }

  /**
   * SIGKILL: nothing of the process runs again (its timers and answers wait for ever), its waiting
   * operations are gone, and Redis drops its connection. Operations already running are left to end
   * (they last milliseconds; a real one ends as its database connection closes).
   */
  crash(redis: SimulatedRedis): void {
    this.crashed = true;
    this.clock.frozenUntil = Number.POSITIVE_INFINITY;
    let waiting = 0;
    for (let band = 0; band < 5; band++) {
      waiting += this.queued[band]!;
      this.queued[band] = 0;
      this.lanes[band] = [];
    }
    this.observer.demandChanged(-waiting);
    if (this.options.clientId > 0) redis.disconnect(this.options.clientId);
  }

  arrive(op: Operation): void {
    if (this.crashed) return;
    this.offered += 1;
    if (this.firstSlotPending && this.firstSlotPending.since === undefined)
      this.firstSlotPending.since = op.arrivedAt;
    this.lanes[op.band]!.push(op);
    this.queued[op.band]! += 1;
    this.observer.demandChanged(1);
    this.sim.setTimeout(() => {
      if (op.timedOut || !this.lanes[op.band]!.includes(op)) return;
      op.timedOut = true;
      this.queued[op.band]! -= 1;
      this.timedOutCount += 1;
      this.observer.demandChanged(-1);
      this.observer.timedOut(this, op);
      this.report();
    }, this.options.queueTimeoutMs);
    this.dispatch();
    this.report();
  }

  private dispatch(): void {
    while (!this.crashed && this.inUse < this.budget.limit) {
      let band = 4;
      while (band >= 0 && this.queued[band] === 0) band--;
      if (band < 0) break;
      const lane = this.lanes[band]!;
      let op = lane.shift();
      while (op?.timedOut) op = lane.shift();
      if (!op) break;
      this.queued[band]! -= 1;
      this.running[band]! += 1;
      this.inUse += 1;
      const now = this.sim.now();
      this.observer.started(this, op, now - op.arrivedAt);
      if (this.firstSlotPending?.since !== undefined) {
        this.observer.firstSlot(this, this.firstSlotPending.kind, now - this.firstSlotPending.since);
        this.firstSlotPending = undefined;
      }
      const started = op;
      this.sim.setTimeout(() => this.finish(started), op.durationMs);
    }
    this.report();
  }

  private finish(op: Operation): void {
    this.running[op.band]! -= 1;
    this.inUse -= 1;
    this.served += 1;
    this.observer.demandChanged(-1);
    this.observer.finished(this, op);
    this.dispatch();
  }

  private report(): void {
    if (this.crashed) return;
    const wanted: Partial<Record<PriorityName, number>> = {};
    for (let band = 0; band < 5; band++) wanted[bandNames[band]!] = this.running[band]! + this.queued[band]!;
    this.budget.reportDemand({ inUse: this.inUse, wanted });
  }
}
