import { hostname } from 'node:os';
import { type Clock, Priority, type PriorityName } from '@db-safeguards/core';
import { EventEmitter } from '../internal/event-emitter.js';
import { monotonicClock } from '../internal/monotonic-clock.js';
import { RecentPeak } from '../internal/recent-peak.js';
import { assertInteger, assertString } from '../internal/validate.js';
import type {
  DemandSnapshot,
  SharedBudgetLimitChange,
  SharedBudgetMode,
  SharedBudgetModeChange,
  SharedBudgetStats,
  SharedConnectionBudget,
} from '../shared-connection-budget.js';
import type { AllocationReply, AllocationRequest, Suspect } from './allocation.js';
import type { BudgetConnection } from './budget-connection.js';

/**
 * One round trip to wherever the allocation runs: the Lua script on Redis in production
 * (`redisBudgetExchange`), `allocate()` over simulated latency in the simulation.
 */
export type BudgetExchange = (request: AllocationRequest) => Promise<AllocationReply>;

/** Timing and limits of a leased budget; every field but `capacity` has a default. */
export interface LeasedBudgetOptions {
  /** Connections all instances share (every instance must pass the same number). */
  capacity: number;
  /** This instance's name in the budget; unique per process. Default `<hostname>:<pid>:<random>`. */
  instanceId?: string;
  /**
   * How long a grant stays valid without renewal. A crashed or frozen instance's slots return after at
   * most this long; a live instance that cannot reach Redis keeps its grant this long before it falls
   * back. Default 5 000 ms.
   */
  leaseMs?: number;
  /** Renewal period while nothing changes. Default 500 ms; at most `leaseMs / 2`. */
  refreshMs?: number;
  /**
   * How long this instance's lease may go unrenewed before it is *suspect*: if its Redis connection is
   * gone by then too (the process died), another instance returns its slots at once instead of after
   * `leaseMs`; and once this instance sees its own connection close, it uses its grant only until this
   * long after its last renewal was sent. Needs a `BudgetConnection` (`createRedisBudget` on a
   * standalone ioredis `Redis`); without one, leases end by expiry only. Default `3 × refreshMs` (at most
   * `leaseMs - 1`); between `refreshMs` and `leaseMs - 1`.
   */
  staleMs?: number;
  /** The shortest gap between two calls of this instance (demand changes are batched). Default 20 ms. */
  minRefreshMs?: number;
  /** A call without an answer after this long counts as failed. Default 1 000 ms; below `leaseMs`. */
  requestTimeoutMs?: number;
  /**
   * Slots this instance may use while Redis is unreachable. Default: the capacity divided by the number
   * of instances Redis last reported (at least 1), so instances that all lose Redis together still
   * stay near the capacity; 1 before Redis has ever answered. Never unlimited.
   */
  fallbackLimit?: number;
  /**
   * How long a slot this instance stopped using still counts as held, so that Redis hands it to another
   * instance only once this instance's pool can have closed the connection. Set it to the pool's idle
   * timeout plus a margin when the pool keeps idle connections open (postgres.js, pg, Neon's Pool all
   * do): until then the connection still takes one of the database's slots, and another instance
   * opening one would meet "too many connections". What the instance wants is reported as the most it
   * wanted over the same window, so shares follow lasting demand rather than moving a slot back and
   * forth. Default 0: a slot is free when no operation holds it, and wants are each moment's.
   */
  releaseDelayMs?: number;
  /** Time source for leases and timers. Default: this process's monotonic clock, timers unref'd. */
  clock?: Clock;
}

const bandOf: Readonly<Record<PriorityName, number>> = Priority;

function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * The client side of the shared budget: holds this instance's lease, renews it in the background,
 * asks early when demand grows past the grant, gives slots back early when others are waiting, and
 * falls back to a local limit when Redis is unreachable. No Redis call is made on the path of a
 * database operation: `limit` reads a field and the clock, `reportDemand` stores numbers and maybe
 * moves a timer.
 *
 * Lease validity is counted on this process's clock from the moment the request was *sent*, which is
 * never later than when Redis started the lease, minus a 1% margin for clock-rate differences: the
 * instance always stops using a grant before Redis hands it to anyone else.
 *
 * With a `BudgetConnection`, each call also carries the CLIENT ID of the Redis connection it travels on,
 * and Redis may drop the lease `staleMs` after its renewal once that connection is gone (reaping.ts).
 * So a grant from a call that carried a client id is valid only until `staleMs` after that call was sent
 * (minus a tenth of it, room for a late timer) as soon as a close of the connection has been seen after
 * the send: the call may have gone out on the connection that closed, or be resent on the next with
 * the old id. A later call sent with the id of the new connection (or with 0, before it is known)
 * restores the full lease.
 * Instances offered suspects by Redis check them (at most once per `refreshMs`) and reap the dead.
 */
export class LeasedConnectionBudget implements SharedConnectionBudget {
  readonly capacity: number;
  readonly instanceId: string;
  private readonly leaseMs: number;
  private readonly refreshMs: number;
  private readonly staleMs: number;
  private readonly minRefreshMs: number;
  private readonly requestTimeoutMs: number;
  private readonly configuredFallback: number | undefined;
  private readonly clock: Clock;

  private currentMode: SharedBudgetMode = 'connecting';
  private grant = 0;
  private validUntil = Number.NEGATIVE_INFINITY;
  private learningEndsAt = Number.NEGATIVE_INFINITY;
  private lastReply: AllocationReply | undefined;
  private seq = 0;
  private inFlight: Promise<void> | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private pollDelay: number;
  private inUse = 0;
  private readonly held: RecentPeak;
  /** Per band, the most wanted within the release delay: what is sent (see `refresh`). */
  private readonly wantPeaks: RecentPeak[];
  private wants: number[] = [0, 0, 0, 0, 0];
  private wantsTotal = 0;
  private reported: number[] = [0, 0, 0, 0, 0];
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private leaseTimer: unknown;
  private lastLimit = 0;
  private requests = 0;
  private failedRequests = 0;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private readyWaiters: Array<() => void> = [];
  /** When the call behind the current grant was sent, on this process's clock. */
  private grantSentAt = Number.NEGATIVE_INFINITY;
  /** The full validity of the current grant, before any cap for a closed connection. */
  private grantLeaseEnd = Number.NEGATIVE_INFINITY;
  /** The call behind the current grant carried a client id: Redis may reap its lease `staleMs` on. */
  private grantReapable = false;
  /** `connectionCloses` when that call was sent. */
  private grantCloses = 0;
  /** Closes of the Redis connection seen so far. */
  private connectionCloses = 0;
  private stopWatchingConnection: (() => void) | undefined;
  /** CLIENT LIST ID failed with an error from Redis: this instance checks no more suspects. */
  private checksDisabled = false;
  private checking = false;
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  private reapedLeases = 0;

  private readonly limitEmitter = new EventEmitter<SharedBudgetLimitChange>();
  private readonly modeEmitter = new EventEmitter<SharedBudgetModeChange>();
  readonly onLimitChange = this.limitEmitter.event;
  readonly onModeChange = this.modeEmitter.event;

  /**
   * @param exchange one round trip to the allocation (the script on Redis in production).
   * @param connection the Redis connection the exchange's calls travel on, to take part in returning a
   *   dead instance's slots early (see the class comment). Optional: without it, expiry only.
   */
  constructor(
    options: LeasedBudgetOptions,
    private readonly exchange: BudgetExchange,
    private readonly connection?: BudgetConnection,
  ) {
    this.capacity = options.capacity;
    this.instanceId = options.instanceId ?? defaultInstanceId();
    this.leaseMs = options.leaseMs ?? 5000;
    this.refreshMs = options.refreshMs ?? Math.min(500, Math.floor(this.leaseMs / 2));
    this.staleMs = options.staleMs ?? Math.min(3 * this.refreshMs, this.leaseMs - 1);
    this.minRefreshMs = options.minRefreshMs ?? Math.min(20, this.refreshMs);
    this.requestTimeoutMs = options.requestTimeoutMs ?? Math.min(1000, this.leaseMs - 1);
    this.configuredFallback = options.fallbackLimit;
    this.clock = options.clock ?? monotonicClock;
    const releaseDelayMs = options.releaseDelayMs ?? 0;
    assertInteger('capacity', this.capacity, 1, 1_000_000);
    assertInteger('releaseDelayMs', releaseDelayMs, 0, 600_000);
    this.held = new RecentPeak(releaseDelayMs);
    this.wantPeaks = Array.from({ length: 5 }, () => new RecentPeak(releaseDelayMs));
    assertString('instanceId', this.instanceId, /^\S{1,200}$/, 'a name without spaces (1 to 200 characters)');
    assertInteger('leaseMs', this.leaseMs, 100);
    assertInteger('refreshMs', this.refreshMs, 1, Math.floor(this.leaseMs / 2));
    assertInteger('staleMs', this.staleMs, this.refreshMs, this.leaseMs - 1);
    assertInteger('minRefreshMs', this.minRefreshMs, 1, this.refreshMs);
    assertInteger('requestTimeoutMs', this.requestTimeoutMs, 1, this.leaseMs - 1);
    if (this.configuredFallback !== undefined)
      assertInteger('fallbackLimit', this.configuredFallback, 1, this.capacity);
    this.pollDelay = this.minRefreshMs;
    this.stopWatchingConnection = this.connection?.onClose(() => this.onConnectionClose());
    this.refresh();
  }

  get mode(): SharedBudgetMode {
    return this.currentMode;
  }

  get limit(): number {
    switch (this.currentMode) {
      case 'shared':
      case 'learning':
        // The lease timer ends the grant, but a busy event loop runs timers late: read the clock too,
        // so that no call is admitted on a grant past its validity (nor past the moment Redis may
        // reap it) while the timer waits for its turn.
        return this.clock.now() < this.validUntil ? this.grant : 0;
      case 'fallback':
        return this.fallbackLimit;
      default:
        return 0;
    }
  }

  get isDegraded(): boolean {
    return this.currentMode === 'fallback';
  }

  private get fallbackLimit(): number {
    if (this.configuredFallback !== undefined) return this.configuredFallback;
    if (this.lastReply === undefined) return 1;
    return Math.max(1, Math.floor(this.capacity / Math.max(1, this.lastReply.instances)));
  }

  /** Resolves once the instance has a limit from Redis or has fallen back (or is closed). */
  ready(): Promise<void> {
    if (this.currentMode !== 'connecting' || this.lastReply !== undefined || this.consecutiveFailures > 0)
      return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  reportDemand(demand: DemandSnapshot): void {
    if (this.currentMode === 'closed') return;
    this.inUse = Math.max(0, demand.inUse | 0);
    const now = this.clock.now();
    this.held.record(this.inUse, now);
    let total = 0;
    let grew = false;
    for (const name of Object.keys(bandOf) as PriorityName[]) {
      const band = bandOf[name];
      const wanted = Math.min(this.capacity, Math.max(0, demand.wanted[name] ?? 0) | 0);
      this.wants[band] = wanted;
      this.wantPeaks[band]!.record(wanted, now);
      total += wanted;
      if (wanted > this.reported[band]!) grew = true;
    }
    this.wantsTotal = total;
    if (grew && total > this.limit) this.pollDelay = this.minRefreshMs;
    this.schedule();
  }

  stats(): SharedBudgetStats {
    return {
      mode: this.currentMode,
      limit: this.limit,
      capacity: this.capacity,
      grant: this.grant,
      fallbackLimit: this.fallbackLimit,
      instances: this.lastReply?.instances ?? 0,
      contended: this.isContended,
      leaseRemainingMs: Math.max(0, this.validUntil - this.clock.now()),
      requests: this.requests,
      failedRequests: this.failedRequests,
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
    };
  }

  /** Leases of dead instances this instance has reaped (see `staleMs`). */
  get reaped(): number {
    return this.reapedLeases;
  }

  async close(): Promise<void> {
    if (this.currentMode === 'closed') return;
    this.stopWatchingConnection?.();
    this.cancelTimer();
    if (this.leaseTimer !== undefined) this.clock.clearTimeout(this.leaseTimer);
    this.setMode('closed', 'closed');
    // A request still on its way could otherwise land after the release and re-create the lease.
    await this.inFlight;
    this.seq += 1;
    const leaving: AllocationRequest = {
      instanceId: this.instanceId,
      seq: this.seq,
      enforcing: 0,
      inUse: 0,
      wants: [0, 0, 0, 0, 0],
      leaving: true,
      capacity: this.capacity,
      leaseMs: this.leaseMs,
      clientId: 0,
      staleMs: this.staleMs,
      checksSuspects: false,
    };
    this.requests += 1;
    await this.withTimeout(this.exchange(leaving)).catch(() => {
      // Best effort: an unreachable Redis lets the lease run out instead.
      this.failedRequests += 1;
    });
  }

  private get isContended(): boolean {
    return this.lastReply !== undefined && this.lastReply.totalWants > this.capacity;
  }

  /** When the next call should go out, on this process's clock. */
  private dueAt(): number {
    const base = this.lastSentAt;
    if (
      this.currentMode === 'fallback' ||
      (this.currentMode === 'connecting' && this.consecutiveFailures > 0)
    ) {
      return base + Math.min(this.refreshMs, this.minRefreshMs * 2 ** this.consecutiveFailures);
    }
    if (this.currentMode === 'connecting') return base + this.minRefreshMs;
    let at = base + this.refreshMs;
    if (this.currentMode === 'learning') {
      at = Math.min(at, this.learningEndsAt);
    } else if (this.wantsTotal > this.grant) {
      const grew = this.wants.some((wanted, band) => wanted > this.reported[band]!);
      at = Math.min(at, base + (grew ? this.minRefreshMs : this.pollDelay));
    }
    const reserved = this.lastReply?.reserved ?? 0;
    const now = this.clock.now();
    const held = this.held.peak(now);
    if (reserved > Math.max(this.grant, held)) {
      // Redis still reserves slots this instance has stopped using (its grant shrank, or the release
      // delay passed): say so now rather than at renewal, so they reach whoever waits for them.
      at = Math.min(at, base + this.minRefreshMs);
    } else if (reserved > this.grant && held > this.grant) {
      // They are free once the release delay has passed.
      at = Math.min(at, this.held.nextDropAt(now));
    }
    if (this.isContended && this.wantsTotal < this.grant) {
      // Others wait: give back what this instance holds but does not need, now rather than at renewal.
      at = Math.min(at, base + this.minRefreshMs);
    }
    return Math.max(at, base + this.minRefreshMs);
  }

  private schedule(): void {
    if (this.currentMode === 'closed' || this.inFlight !== undefined) return;
    const at = this.dueAt();
    if (at >= this.timerAt) return;
    this.cancelTimer();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.refresh();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private refresh(): void {
    if (this.currentMode === 'closed' || this.inFlight !== undefined) return;
    this.cancelTimer();
    this.seq += 1;
    const sentAt = this.clock.now();
    this.lastSentAt = sentAt;
    this.reported = [...this.wants];
    const closesAtSend = this.connectionCloses;
    const clientId = this.connection?.clientId ?? 0;
    const request: AllocationRequest = {
      instanceId: this.instanceId,
      seq: this.seq,
      enforcing: this.limit,
      // Slots used within the release delay: their connections may still be open in the pool.
      inUse: this.held.peak(sentAt),
      // Wants over the same window: a slot given up is not free for that long anyway, so shares
      // follow demand that lasts, not each moment's (which would move slots back and forth, each
      // move costing the release delay in which neither instance can use the slot).
      wants: this.wantPeaks.map((peak) => peak.peak(sentAt)),
      leaving: false,
      capacity: this.capacity,
      leaseMs: this.leaseMs,
      clientId,
      staleMs: this.staleMs,
      checksSuspects:
        clientId > 0 && !this.checksDisabled && !this.checking && sentAt - this.lastCheckAt >= this.refreshMs,
    };
    this.requests += 1;
    this.inFlight = (async () => {
      try {
        const reply = await this.withTimeout(this.exchange(request));
        if (this.currentMode === 'closed') return;
        if (reply.status !== 'granted') {
          throw new Error(
            `the budget answered "${reply.status}" to request ${request.seq}: is another process using instanceId "${this.instanceId}"?`,
          );
        }
        this.apply(reply, sentAt, clientId > 0, closesAtSend);
        if (request.checksSuspects && reply.suspects.length > 0) this.checkSuspects(reply.suspects, sentAt);
      } catch (error) {
        if (this.currentMode !== 'closed') this.fail(error);
      } finally {
        this.inFlight = undefined;
        this.schedule();
      }
    })();
  }

  private apply(reply: AllocationReply, sentAt: number, reapable: boolean, closesAtSend: number): void {
    const previousGrant = this.grant;
    this.lastReply = reply;
    this.consecutiveFailures = 0;
    this.lastError = undefined;
    this.grant = reply.grant;
    // Counted from when the request left, minus 1% for clock-rate differences: never past Redis's expiry.
    const validFor = Math.min(this.leaseMs, reply.expiresAt - reply.now);
    this.grantSentAt = sentAt;
    this.grantLeaseEnd = sentAt + validFor - Math.ceil(validFor / 100);
    this.grantReapable = reapable;
    this.grantCloses = closesAtSend;
    this.validUntil = this.grantValidUntil();
    this.learningEndsAt = sentAt + Math.max(0, reply.learningUntil - reply.now);
    if (this.wantsTotal > this.grant && this.grant <= previousGrant) {
      this.pollDelay = Math.min(this.refreshMs, this.pollDelay * 2);
    } else {
      this.pollDelay = this.minRefreshMs;
    }
    if (this.validUntil <= this.clock.now()) {
      // The answer came too late to be of use: ask again at once.
      this.setMode('connecting', 'the answer from Redis arrived after its lease had run out');
      return;
    }
    this.setMode(
      reply.learning ? 'learning' : 'shared',
      reply.learning ? 'Redis restarted: learning' : 'granted',
    );
    if (this.leaseTimer !== undefined) this.clock.clearTimeout(this.leaseTimer);
    this.leaseTimer = this.clock.setTimeout(() => this.onLeaseEnd(), this.validUntil - this.clock.now());
  }

  /** The current grant's validity: its lease, or less once Redis may reap it (see the class comment). */
  private grantValidUntil(): number {
    if (!this.grantReapable || this.connectionCloses === this.grantCloses) return this.grantLeaseEnd;
    // A tenth of staleMs (150 ms by default) early, not 1% as for expiry: the core learns of the end
    // from the lease timer, which a busy event loop runs late, and Redis may reap right at staleMs.
    return Math.min(this.grantLeaseEnd, this.grantSentAt + this.staleMs - Math.ceil(this.staleMs / 10));
  }

  private onConnectionClose(): void {
    this.connectionCloses += 1;
    if (this.currentMode !== 'shared' && this.currentMode !== 'learning') return;
    const until = this.grantValidUntil();
    if (until >= this.validUntil) return;
    this.validUntil = until;
    if (this.leaseTimer !== undefined) this.clock.clearTimeout(this.leaseTimer);
    this.leaseTimer = this.clock.setTimeout(() => this.onLeaseEnd(), Math.max(0, until - this.clock.now()));
  }

  /**
   * Asks which of `suspects`' connections are gone and reaps those leases. One check at a time, at most
   * one per `refreshMs` (the request says whether this instance will check, so Redis hands suspects to
   * another instance meanwhile).
   */
  private checkSuspects(suspects: readonly Suspect[], offeredAt: number): void {
    const connection = this.connection;
    if (connection === undefined || this.checking || this.currentMode === 'closed') return;
    this.checking = true;
    // Counted from the call that offered to check, so checks can keep pace with renewals.
    this.lastCheckAt = offeredAt;
    const check = async () => {
      const gone = await this.withTimeout(connection.findGone([...new Set(suspects.map((s) => s.clientId))]));
      if (gone === 'unsupported') {
        this.checksDisabled = true;
        return;
      }
      const dead = suspects.filter((suspect) => gone.includes(suspect.clientId));
      if (dead.length === 0) return;
      const { reaped } = await this.withTimeout(connection.reap({ leases: dead, staleMs: this.staleMs }));
      this.reapedLeases += reaped.length;
      if (reaped.length > 0 && this.wantsTotal > this.grant) {
        // Slots just came free and this instance wants more: ask now rather than at the next poll.
        this.pollDelay = this.minRefreshMs;
        this.schedule();
      }
    };
    check()
      .catch(() => {
        // A passing failure: Redis hands the suspects out again on a later call.
      })
      .finally(() => {
        this.checking = false;
      });
  }

  private onLeaseEnd(): void {
    this.leaseTimer = undefined;
    if (this.currentMode !== 'shared' && this.currentMode !== 'learning') return;
    if (this.clock.now() < this.validUntil) return;
    if (this.consecutiveFailures > 0) {
      // Redis is known to be failing: no point waiting on another attempt with a limit of 0.
      this.setMode('fallback', `Redis unreachable: ${this.lastError}`);
      this.schedule();
      return;
    }
    // No failure seen (e.g. this process was frozen): the limit is 0 until Redis answers or fails.
    this.setMode('connecting', 'the lease ran out before it could be renewed');
    this.refresh();
  }

  private fail(error: unknown): void {
    this.failedRequests += 1;
    this.consecutiveFailures += 1;
    this.lastError = error instanceof Error ? error.message : String(error);
    const leaseValid = this.clock.now() < this.validUntil;
    if (!leaseValid || this.currentMode === 'connecting') {
      this.setMode('fallback', `Redis unreachable: ${this.lastError}`);
    }
  }

  private setMode(mode: SharedBudgetMode, reason: string): void {
    const previous = this.currentMode;
    this.currentMode = mode;
    if (previous !== mode) this.modeEmitter.emit({ mode, previous, reason });
    const limit = this.limit;
    if (limit !== this.lastLimit) {
      const before = this.lastLimit;
      this.lastLimit = limit;
      this.limitEmitter.emit({ limit, previous: before, mode });
    }
    if (mode !== 'connecting' && this.readyWaiters.length > 0) {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new Error(`no answer from Redis within ${this.requestTimeoutMs} ms`)),
        this.requestTimeoutMs,
      );
      promise.then(
        (value) => {
          this.clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}
