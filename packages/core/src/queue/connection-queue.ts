import { abortedWhileQueued, queueRefusal, queueWaitTimeout, shuttingDown } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { type Clock, systemClock } from '../internal/clock.js';
import { type DueEntry, DueTimers } from '../internal/due-timers.js';
import { type Event, EventEmitter } from '../internal/events.js';
import { type Percentiles, SampleWindow } from '../internal/sample-window.js';
import { Priority, type PriorityName, priorities, priorityName } from '../priority.js';
import { type QueueOptions, resolveQueueOptions } from './queue-options.js';
import { type LaneEntry, WaiterLane } from './waiter-lane.js';

/** How a released slot is counted: `processed`, `failed`, or (`neutral`) neither, for work that never ran. */
export type LeaseOutcome = 'success' | 'failure' | 'neutral';

/**
 * A held slot of the budget. Release it exactly once, when the work on it has ended; later calls do
 * nothing. If the queue reclaimed the slot as abandoned meanwhile (see `abandonAfterMs`), that release
 * tells it the work has finally ended (`abandonedRunning` goes down).
 */
export interface Lease {
  readonly priority: Priority;
  readonly acquiredAt: number;
  /** True once released, or reclaimed as abandoned. */
  readonly isReleased: boolean;
  /** Gives the slot back. `outcome` feeds the processed/failed counters; default 'success'. */
  release(outcome?: LeaseOutcome): void;
}

/** Options of one `acquire`. */
export interface AcquireOptions {
  /** Absolute deadline (epoch ms; not NaN); the waiter leaves with TIMEOUT when it passes. */
  deadline?: number | undefined;
  /** Aborting removes the waiter at once. */
  signal?: AbortSignal | undefined;
  /**
   * The operation continues a request that already ran one (a later query of the same tRPC call): it
   * waits ahead of the first operations of new requests of its priority, is never shed by queue fill
   * (only refused by a full queue), and is displaced only after them. Under overload the budget then
   * finishes the requests it has started, instead of spending slots on work that is refused half way.
   */
  continuation?: boolean | undefined;
}

/** Why a waiter was refused without running. */
export type ShedReason = 'displaced' | 'shed' | 'queue-full' | 'closed';

export interface ShedEvent {
  priority: Priority;
  reason: ShedReason;
  queued: number;
}

export interface QueueTimeoutEvent {
  priority: Priority;
  waitedMs: number;
  reason: 'queue-timeout' | 'deadline';
}

export interface AbandonEvent {
  priority: Priority;
  heldMs: number;
}

/** A live readout of the budget. */
export interface QueueStats {
  maxConcurrentConnections: number;
  /**
   * Slots that may be held now: `maxConcurrentConnections` unless a load signal lowered it (see
   * {@link ConnectionQueue.setLimit}). `active` can exceed it for a while after it drops.
   */
  effectiveLimit: number;
  reservedForCritical: number;
  maxQueueSize: number;
  active: number;
  /** Slots held right now by operations of each priority; they add up to `active`. */
  activeByPriority: Record<PriorityName, number>;
  /** The most slots ever held at once; never above `maxConcurrentConnections`. */
  peakActive: number;
  queued: number;
  queuedByPriority: Record<PriorityName, number>;
  /** active / maxConcurrentConnections. */
  utilization: number;
  /** queued / maxQueueSize (0 when the queue size is 0). */
  queueFill: number;
  /** Time waited for a slot, by waiters granted one and by those that timed out, aborted or were displaced. */
  waitMs: Percentiles;
  waitMsByPriority: Record<PriorityName, Percentiles>;
  processed: number;
  failed: number;
  shed: number;
  timedOut: number;
  aborted: number;
  /** Slots reclaimed from operations still running `abandonAfterMs` after their deadline, ever. */
  abandoned: number;
  /**
   * Of those, the operations that still run: their slot is free again but their connection may still
   * be busy, so real connections in use can exceed `active` by up to this many (the driver's own pool,
   * sized to the budget, still caps them). Goes down when such an operation finally settles.
   */
  abandonedRunning: number;
  paused: PriorityName[];
  closed: boolean;
}

/**
 * The lane of a waiter: two per priority, new requests below continuations, so the lane index orders
 * everything (higher index first; displacement takes from the lowest).
 */
function laneOf(priority: Priority, continuation: boolean | undefined): number {
  return priority * 2 + (continuation ? 1 : 0);
}

class Waiter implements LaneEntry, DueEntry {
  settled = false;
  dueNext: DueEntry | undefined = undefined;
  duePrev: DueEntry | undefined = undefined;
  dueListed = false;
  abortListener: (() => void) | undefined;

  constructor(
    readonly priority: Priority,
    readonly lane: number,
    readonly enqueuedAt: number,
    readonly dueAt: number,
    readonly expiresByDeadline: boolean,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (lease: Lease) => void,
    readonly reject: (error: SafeguardError) => void,
    private readonly queue: ConnectionQueue,
  ) {}

  onDue(): void {
    this.queue.expire(this);
  }
}

const held = 0;
const released = 1;
const abandoned = 2;

class QueueLease implements Lease, DueEntry {
  dueAt = 0;
  dueNext: DueEntry | undefined = undefined;
  duePrev: DueEntry | undefined = undefined;
  dueListed = false;
  private state: typeof held | typeof released | typeof abandoned = held;

  constructor(
    readonly priority: Priority,
    readonly acquiredAt: number,
    private readonly queue: ConnectionQueue,
  ) {}

  get isReleased(): boolean {
    return this.state !== held;
  }

  release(outcome: LeaseOutcome = 'success'): void {
    if (this.state === released) return;
    const wasAbandoned = this.state === abandoned;
    this.state = released;
    if (wasAbandoned) this.queue.abandonedWorkEnded();
    else this.queue.settleLease(this, outcome);
  }

  /** Fired `abandonAfterMs` after the operation's deadline if it still holds the slot. */
  onDue(): void {
    if (this.state !== held) return;
    this.state = abandoned;
    this.queue.settleLease(this, 'abandoned');
  }
}

function byPriority<T>(make: (name: PriorityName) => T): Record<PriorityName, T> {
  return {
    CRITICAL: make('CRITICAL'),
    HIGH: make('HIGH'),
    NORMAL: make('NORMAL'),
    LOW: make('LOW'),
    BATCH: make('BATCH'),
  };
}

/**
 * The one connection budget of a process: at most `maxConcurrentConnections` operations hold a slot,
 * whatever their priority or type. Waiters are served highest priority first and first-come within a
 * priority; one slot (by default) is kept for CRITICAL work; when the queue is full an arrival displaces
 * the newest waiter of a lower priority; a share of grants goes to starving low-priority waiters.
 */
export class ConnectionQueue {
  readonly options: Readonly<QueueOptions>;
  private readonly clock: Clock;
  private readonly timers: DueTimers;
  /** Indexed by {@link laneOf}: lanes[2p] holds new requests of priority p, lanes[2p + 1] continuations. */
  private readonly lanes = Array.from({ length: 10 }, () => new WaiterLane<Waiter>());
  private readonly pausedLanes = [false, false, false, false, false];
  private readonly shedFill: number[];
  private readonly rescueEvery: number;
  private readonly waits = new SampleWindow(2048);
  private readonly waitsByPriority = Array.from({ length: 5 }, () => new SampleWindow(512));
  private idleWaiters: Array<() => void> = [];
  /** Told when slots are taken or released or waiters come and go (see {@link setDemandHook}). */
  private demandHook: (() => void) | undefined = undefined;
  /** Asked before slots are handed out (see {@link setLimitProbe}). */
  private limitProbe: (() => void) | undefined = undefined;
  private grantsSinceRescue = 0;
  private isClosed = false;

  private activeCount = 0;
  /** Slots any priority may hold now, and those other than CRITICAL may (see {@link setLimit}). */
  private limitAll: number;
  private limitShared: number;
  private readonly activeOfPriority = [0, 0, 0, 0, 0];
  private queuedCount = 0;
  private peak = 0;
  /** The most slots held since the last {@link takeHeldPeak}. */
  private heldPeak = 0;
  /** The most slots held, and waiters, since the last {@link takePeaks}. */
  private recentPeaks = { active: 0, queued: 0 };
  private counters = {
    processed: 0,
    failed: 0,
    shed: 0,
    timedOut: 0,
    aborted: 0,
    abandoned: 0,
    abandonedRunning: 0,
  };

  private readonly shedEmitter = new EventEmitter<ShedEvent>();
  private readonly timeoutEmitter = new EventEmitter<QueueTimeoutEvent>();
  private readonly abandonEmitter = new EventEmitter<AbandonEvent>();
  /** A waiter was refused: displaced, shed by load, queue full, or closed. */
  readonly onShed: Event<ShedEvent> = this.shedEmitter.event;
  /** A waiter gave up waiting (queue timeout or its deadline). */
  readonly onTimeout: Event<QueueTimeoutEvent> = this.timeoutEmitter.event;
  /** A slot was reclaimed from an operation still running `abandonAfterMs` after its deadline. */
  readonly onAbandon: Event<AbandonEvent> = this.abandonEmitter.event;

  constructor(options: Partial<QueueOptions> = {}, clock: Clock = systemClock) {
    this.options = resolveQueueOptions(options);
    this.clock = clock;
    this.timers = new DueTimers(clock);
    this.shedFill = Array.from(
      { length: 5 },
      (_, p) => this.options.shedAt[priorityName(p as Priority)] ?? 1,
    );
    this.limitAll = this.options.maxConcurrentConnections;
    this.limitShared = this.limitAll - this.options.reservedForCritical;
    this.rescueEvery =
      this.options.starvationShare > 0
        ? Math.max(1, Math.round(1 / this.options.starvationShare) - 1)
        : Infinity;
  }

  get active(): number {
    return this.activeCount;
  }

  get queued(): number {
    return this.queuedCount;
  }

  /** True when an arrival of this priority would have to wait. */
  isSaturatedFor(priority: Priority): boolean {
    return !this.canGrant(priority) || this.pausedLanes[priority]!;
  }

  /**
   * Takes a slot at once if one is free for this priority and nothing is ahead of it, else returns
   * undefined. The pipeline's fast path: no promise, no timer.
   */
  tryAcquire(priority: Priority, now = this.clock.now()): Lease | undefined {
    this.limitProbe?.();
    if (this.isClosed || this.pausedLanes[priority] || !this.canGrant(priority)) return undefined;
    const lease = this.grantSlot(priority, now);
    this.recordWait(priority, 0);
    return lease;
  }

  /**
   * Waits for a slot. Rejects with a SafeguardError: QUEUE_FULL (shed, displaced or full), TIMEOUT
   * (queue timeout or deadline; reason `queue-timeout`, `deadline` or `aborted`) or CONNECTION (closed).
   */
  acquire(priority: Priority, options: AcquireOptions = {}): Promise<Lease> {
    // An aborted signal or a passed deadline is refused even when a slot is free.
    if (options.signal?.aborted) return Promise.reject(abortedWhileQueued(priority, options.signal));
    const now = this.clock.now();
    const deadline = options.deadline;
    if (deadline !== undefined && Number.isNaN(deadline)) {
      return Promise.reject(new TypeError('Expected options.deadline to be a number (epoch ms), got NaN'));
    }
    if (deadline !== undefined && now >= deadline) {
      return Promise.reject(queueWaitTimeout('deadline', priority, 0));
    }
    const immediate = this.tryAcquire(priority, now);
    if (immediate) return Promise.resolve(immediate);
    const refusal = this.checkAdmission(priority, options.continuation);
    if (refusal) return Promise.reject(refusal);
    return new Promise<Lease>((resolve, reject) => this.enqueue(priority, options, resolve, reject));
  }

  /**
   * Would an arrival of this priority be refused right now without waiting? Returns the error it would
   * get (closed, shed by load, or a full queue with nobody lower to displace), else undefined. Used by
   * adapters to fail fast before doing any work. A `continuation` (see {@link AcquireOptions}) is
   * not shed by queue fill.
   */
  checkAdmission(priority: Priority, continuation = false): SafeguardError | undefined {
    if (this.isClosed) return this.closedError();
    if (!this.isSaturatedFor(priority)) return undefined;
    const size = this.options.maxQueueSize;
    const fill = size === 0 ? 1 : this.queuedCount / size;
    if (
      !continuation &&
      priority !== Priority.CRITICAL &&
      fill >= this.shedFill[priority]! &&
      this.shedFill[priority]! < 1
    ) {
      return this.queueFullError(priority, 'shed');
    }
    if (this.queuedCount >= size && this.lowestBelow(laneOf(priority, continuation)) === undefined) {
      return this.queueFullError(priority, 'queue-full');
    }
    return undefined;
  }

  /** Stops granting slots to the given priorities (all when omitted). Waiters stay queued. */
  pause(which: readonly Priority[] = priorities): void {
    for (const priority of which) this.pausedLanes[priority] = true;
  }

  /** Resumes the given priorities (all when omitted) and hands out free slots. */
  resume(which: readonly Priority[] = priorities): void {
    for (const priority of which) this.pausedLanes[priority] = false;
    this.dispatch();
  }

  isPaused(priority?: Priority): boolean {
    return priority === undefined ? this.pausedLanes.every(Boolean) : this.pausedLanes[priority]!;
  }

  /** Slots that may be held now (see {@link setLimit}). */
  get limit(): number {
    return this.limitAll;
  }

  /**
   * Sets how many slots may be held from now on, from 0 to `maxConcurrentConnections`: the process's
   * effective limit, lowered by load signals (the database saying it is full, a shared budget's
   * grant). Slots already held are not taken back: while more are held than the limit allows, nothing
   * new is granted. The CRITICAL reserve shrinks with the limit (`reservedForCritical × limit / budget`,
   * rounded down), so a small limit is not spent on a reserve that leaves ordinary work one slot or none.
   */
  setLimit(limit: number): void {
    const max = this.options.maxConcurrentConnections;
    if (!Number.isInteger(limit) || limit < 0 || limit > max) {
      throw new TypeError(`Expected a limit between 0 and ${max}, got ${String(limit)}`);
    }
    const grew = limit > this.limitAll;
    this.limitAll = limit;
    this.limitShared = limit - Math.floor((this.options.reservedForCritical * limit) / max);
    if (grew && this.queuedCount > 0) this.dispatch();
  }

  /**
   * Sets the one function told (synchronously, without arguments) whenever the demand may have
   * changed: a slot taken or released, a waiter added or gone. A shared budget's link uses it to
   * report {@link demand}; it must be cheap. `undefined` removes it.
   */
  setDemandHook(hook: (() => void) | undefined): void {
    this.demandHook = hook;
  }

  /**
   * Sets the one function asked (synchronously) before slots are handed out, so that it may lower
   * the limit first (`setMaxConcurrent`): a shared budget's link uses it to read a grant whose end the
   * budget has not announced yet. It must be cheap. `undefined` removes it.
   */
  setLimitProbe(probe: (() => void) | undefined): void {
    this.limitProbe = probe;
  }

  /**
   * Slots wanted now per priority, held plus waiting, capped at `maxConcurrentConnections` from the
   * highest priority down: what this process would use if a shared budget granted it.
   */
  demand(): Record<PriorityName, number> {
    let room = this.options.maxConcurrentConnections;
    const wanted = byPriority(() => 0);
    for (let p = Priority.CRITICAL; p >= Priority.BATCH && room > 0; p--) {
      const priority = p as Priority;
      const want =
        this.activeOfPriority[priority]! +
        this.lanes[laneOf(priority, false)]!.size +
        this.lanes[laneOf(priority, true)]!.size;
      const granted = Math.min(room, want);
      wanted[priorityName(priority)] = granted;
      room -= granted;
    }
    return wanted;
  }

  /** Starts `peakActive` again from the slots held now (e.g. between test cases or load phases). */
  resetPeak(): void {
    this.peak = this.activeCount;
  }

  /**
   * The most slots held at once, and the most waiters, since the previous call (since the queue was
   * made, the first time); counting then starts again from what is held and waiting now. A sampler
   * reading it once a second sees every burst, even one that took and gave back its slots between
   * two of its readings (an in-process database such as PGlite answers within one turn of the event
   * loop). One reader per queue: each call starts the count again for everyone. `peakActive` is
   * unaffected.
   */
  takePeaks(): { active: number; queued: number } {
    const peaks = this.recentPeaks;
    this.recentPeaks = { active: this.activeCount, queued: this.queuedCount };
    return peaks;
  }

  /**
   * The most slots held at once since the previous call, then counting again from the slots held now.
   * Read by the effective limit at each change (for `LimitChange.peakHeld`): one reader per queue.
   */
  takeHeldPeak(): number {
    const peak = this.heldPeak;
    this.heldPeak = this.activeCount;
    return peak;
  }

  /** Resolves when no slot is held and nobody waits. */
  onIdle(): Promise<void> {
    if (this.activeCount === 0 && this.queuedCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses every waiter and every later arrival with CONNECTION (`closed`). Held slots finish normally. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const lane of this.lanes) {
      for (let waiter = lane.shiftOldest(); waiter; waiter = lane.shiftOldest()) {
        this.queuedCount--;
        this.settleWaiter(waiter);
        this.counters.shed++;
        waiter.reject(this.closedError());
      }
    }
    this.notifyIdle();
  }

  stats(): QueueStats {
    const queuedByPriority = byPriority(
      (name) =>
        this.lanes[laneOf(Priority[name], false)]!.size + this.lanes[laneOf(Priority[name], true)]!.size,
    );
    return {
      maxConcurrentConnections: this.options.maxConcurrentConnections,
      effectiveLimit: this.limitAll,
      reservedForCritical: this.options.reservedForCritical,
      maxQueueSize: this.options.maxQueueSize,
      active: this.activeCount,
      activeByPriority: byPriority((name) => this.activeOfPriority[Priority[name]]!),
      peakActive: this.peak,
      queued: this.queuedCount,
      queuedByPriority,
      utilization: this.activeCount / this.options.maxConcurrentConnections,
      queueFill: this.options.maxQueueSize === 0 ? 0 : this.queuedCount / this.options.maxQueueSize,
      waitMs: this.waits.percentiles(),
      waitMsByPriority: byPriority((name) => this.waitsByPriority[Priority[name]]!.percentiles()),
      ...this.counters,
      paused: priorities.filter((p) => this.pausedLanes[p]).map(priorityName),
      closed: this.isClosed,
    };
  }

  /**
   * Starts the abandonment countdown of a lease whose operation missed its deadline (or ended while
   * work it started still runs on the slot): if it still holds the slot `abandonAfterMs` after `from`
   * (default now), the slot is reclaimed. A countdown already running is kept. Called by the pipeline.
   */
  abandonLater(lease: Lease, from = this.clock.now()): void {
    if (!(lease instanceof QueueLease) || lease.isReleased || lease.dueListed) return;
    lease.dueAt = from + this.options.abandonAfterMs;
    this.timers.add(lease);
  }

  /** @internal Called by a lease when it is released or abandoned. */
  settleLease(lease: QueueLease, outcome: LeaseOutcome | 'abandoned'): void {
    this.demandHook?.();
    this.timers.delete(lease);
    this.activeCount--;
    this.activeOfPriority[lease.priority]!--;
    if (outcome === 'success') this.counters.processed++;
    else if (outcome === 'failure') this.counters.failed++;
    else if (outcome === 'abandoned') {
      this.counters.abandoned++;
      this.counters.abandonedRunning++;
      if (this.abandonEmitter.hasListeners) {
        this.abandonEmitter.emit({ priority: lease.priority, heldMs: this.clock.now() - lease.acquiredAt });
      }
    }
    if (this.queuedCount > 0) this.dispatch();
    else if (this.activeCount === 0) this.notifyIdle();
  }

  /** @internal The operation of an abandoned lease has finally settled. */
  abandonedWorkEnded(): void {
    this.counters.abandonedRunning--;
  }

  /** @internal Called when a waiter's queue timeout or deadline passes. */
  expire(waiter: Waiter): void {
    if (waiter.settled) return;
    this.removeWaiting(waiter);
    const reason = waiter.expiresByDeadline ? 'deadline' : 'queue-timeout';
    const waitedMs = this.clock.now() - waiter.enqueuedAt;
    this.recordWait(waiter.priority, waitedMs);
    this.counters.timedOut++;
    if (this.timeoutEmitter.hasListeners)
      this.timeoutEmitter.emit({ priority: waiter.priority, waitedMs, reason });
    waiter.reject(queueWaitTimeout(reason, waiter.priority, waitedMs));
  }

  private canGrant(priority: Priority): boolean {
    return this.activeCount < (priority === Priority.CRITICAL ? this.limitAll : this.limitShared);
  }

  private grantSlot(priority: Priority, now: number): QueueLease {
    this.demandHook?.();
    this.activeCount++;
    this.activeOfPriority[priority]!++;
    if (this.activeCount > this.peak) this.peak = this.activeCount;
    if (this.activeCount > this.heldPeak) this.heldPeak = this.activeCount;
    if (this.activeCount > this.recentPeaks.active) this.recentPeaks.active = this.activeCount;
    return new QueueLease(priority, now, this);
  }

  /**
   * Every wait that ended is recorded, granted or not: leaving out the waiters that timed out, aborted
   * or were displaced would make the percentiles look best exactly when the queue is overloaded. A
   * refusal at arrival waited 0 and is not recorded.
   */
  private recordWait(priority: Priority, waitedMs: number): void {
    this.waits.record(waitedMs);
    this.waitsByPriority[priority]!.record(waitedMs);
  }

  private enqueue(
    priority: Priority,
    options: AcquireOptions,
    resolve: (lease: Lease) => void,
    reject: (error: SafeguardError) => void,
  ): void {
    const lane = laneOf(priority, options.continuation);
    if (this.queuedCount >= this.options.maxQueueSize) {
      const victim = this.lowestBelow(lane)?.popNewest();
      if (!victim) {
        reject(this.queueFullError(priority, 'queue-full'));
        return;
      }
      this.queuedCount--;
      this.settleWaiter(victim);
      this.recordWait(victim.priority, this.clock.now() - victim.enqueuedAt);
      victim.reject(this.queueFullError(victim.priority, 'displaced'));
    }
    const now = this.clock.now();
    const queueExpiry = now + this.options.timeoutMs;
    const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
    const waiter = new Waiter(
      priority,
      lane,
      now,
      Math.min(queueExpiry, deadline),
      deadline <= queueExpiry,
      options.signal,
      resolve,
      reject,
      this,
    );
    if (options.signal) {
      const signal = options.signal;
      waiter.abortListener = () => {
        if (waiter.settled) return;
        this.removeWaiting(waiter);
        this.recordWait(priority, this.clock.now() - waiter.enqueuedAt);
        this.counters.aborted++;
        waiter.reject(abortedWhileQueued(priority, signal));
      };
      signal.addEventListener('abort', waiter.abortListener, { once: true });
    }
    this.lanes[lane]!.push(waiter);
    this.queuedCount++;
    this.demandHook?.();
    if (this.queuedCount > this.recentPeaks.queued) this.recentPeaks.queued = this.queuedCount;
    this.timers.add(waiter);
  }

  /**
   * The lane to displace from: the lowest non-empty lane strictly below `lane` (new requests of a
   * priority go before its continuations, and both before anything of a higher priority).
   */
  private lowestBelow(lane: number): WaiterLane<Waiter> | undefined {
    for (let l = 0; l < lane; l++) if (this.lanes[l]!.size > 0) return this.lanes[l];
    return undefined;
  }

  private removeWaiting(waiter: Waiter): void {
    this.demandHook?.();
    this.settleWaiter(waiter);
    this.lanes[waiter.lane]!.noteSettled();
    this.queuedCount--;
    if (this.queuedCount === 0 && this.activeCount === 0) this.notifyIdle();
  }

  private settleWaiter(waiter: Waiter): void {
    waiter.settled = true;
    this.timers.delete(waiter);
    if (waiter.abortListener) waiter.signal?.removeEventListener('abort', waiter.abortListener);
  }

  /** Hands free slots to waiters until none is free or nobody eligible waits. */
  private dispatch(): void {
    if (this.queuedCount > 0) this.limitProbe?.();
    while (this.queuedCount > 0 && !this.isClosed) {
      const nonReserveFree = this.canGrant(Priority.HIGH);
      if (!nonReserveFree && !this.canGrant(Priority.CRITICAL)) return;
      const lane = this.pickLane(nonReserveFree);
      if (!lane) return;
      const waiter = lane.shiftOldest()!;
      this.queuedCount--;
      this.settleWaiter(waiter);
      const lease = this.grantSlot(waiter.priority, this.clock.now());
      this.recordWait(waiter.priority, lease.acquiredAt - waiter.enqueuedAt);
      waiter.resolve(lease);
    }
  }

  /**
   * The lane whose oldest waiter goes next: normally the highest unpaused lane that may take the free
   * slot (the highest priority, its continuations first); every `rescueEvery` grants, the oldest waiter
   * of a lower priority that has starved long enough.
   */
  private pickLane(nonReserveFree: boolean): WaiterLane<Waiter> | undefined {
    let top = -1;
    for (let l = this.lanes.length - 1; l >= 0; l--) {
      const priority = l >> 1;
      if (
        this.lanes[l]!.size > 0 &&
        !this.pausedLanes[priority] &&
        (nonReserveFree || priority === Priority.CRITICAL)
      ) {
        top = l;
        break;
      }
    }
    if (top < 0) return undefined;
    if (
      nonReserveFree &&
      this.options.starvationAfterMs > 0 &&
      this.grantsSinceRescue >= this.rescueEvery &&
      this.mayPassOver(top >> 1)
    ) {
      const starvedBefore = this.clock.now() - this.options.starvationAfterMs;
      let rescue: WaiterLane<Waiter> | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      // Only lower priorities are rescued: within a priority, continuations going first is the point.
      for (let l = (top >> 1) * 2 - 1; l >= 0; l--) {
        const head = this.pausedLanes[l >> 1] ? undefined : this.lanes[l]!.peekOldest();
        if (head && head.enqueuedAt <= starvedBefore && head.enqueuedAt < oldest) {
          oldest = head.enqueuedAt;
          rescue = this.lanes[l];
        }
      }
      if (rescue) {
        this.grantsSinceRescue = 0;
        return rescue;
      }
    }
    this.grantsSinceRescue++;
    return this.lanes[top];
  }

  /**
   * May starvation relief hand this grant to lower work while a waiter of `priority` heads the queue?
   * Always below HIGH. A HIGH (or CRITICAL) waiter must not wait behind lower work beyond the hold in
   * progress when it arrived: relief never comes twice in a row, so with two ordinary slots or more a
   * second slot held since before it arrived frees within that hold and is its; with one (a budget
   * of one ordinary slot, or an effective limit lowered to one), the slot relief gives away is the
   * only one, and the HIGH call would wait for a second hold.
   */
  private mayPassOver(priority: number): boolean {
    // The ordinary slots of the effective limit now (the budget, or less when a load signal lowered it).
    return priority < Priority.HIGH || this.limitShared > 1;
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || this.activeCount > 0 || this.queuedCount > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private queueFullError(priority: Priority, reason: Exclude<ShedReason, 'closed'>): SafeguardError {
    this.counters.shed++;
    if (this.shedEmitter.hasListeners) this.shedEmitter.emit({ priority, reason, queued: this.queuedCount });
    return queueRefusal(reason, priority, this.activeCount, this.queuedCount);
  }

  private closedError(): SafeguardError {
    return shuttingDown('the connection budget is closed');
  }
}
