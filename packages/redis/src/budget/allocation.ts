/**
 * The shared budget's allocation decision, as a pure function over the state kept in Redis. The Lua
 * script in `allocation-script.ts` is a line-by-line port of `allocate` (kept in lockstep by a
 * property test on a real Redis), and the simulation in bench/ drives this function directly.
 *
 * Terms (from Google's Doorman design): each instance holds a *lease* on `grant` slots, valid for
 * `leaseMs` of Redis time and renewed by calling again. It reports what it *wants* per priority (slots
 * held plus operations waiting). Capacity is handed out by priority band, highest first; within the
 * band where it runs out, in proportion to what each instance wants there.
 *
 * Safety rests on `reserved`: what an instance may still be using, whatever it was last granted. A
 * shrinking instance keeps running the operations it started under its old grant, so its old limit
 * (`enforcing`) and its `inUse` stay reserved until a later call reports them gone; the sum of
 * `reserved` over live leases is what the allocator never lets exceed the capacity.
 *
 * Fairness rests on `starving`: each instance has an *entitled* share (see `FairShare`: at least one
 * slot when it wants any, and never more than the band gets in all while there are enough slots for
 * one each) and a *target* (its proportional share rounded up, so spare slots are used). When slots
 * come free they go to whoever calls first, so without more an instance that asks while others hold
 * everything could wait for ever behind instances that keep renewing first. An instance granted less
 * than its entitled share records the difference as `starving`; while others starve, an instance may
 * still take free slots up to its own entitled share, but not beyond it, and one above its entitled
 * share is cut back to it. The entitled shares of a band add up to at most what the band gets (one slot
 * each when more instances want slots than there are), so holding back never stops everyone.
 *
 * Dead instances: a lease normally ends when it runs out (`leaseMs`). A SIGKILLed process's Redis
 * connection closes at once, though, while a frozen one's stays open (and so do its database
 * connections: its slots really are taken). So each call carries the Redis CLIENT ID of the connection
 * it travels on, and a lease with one that has not been renewed for `staleMs` is *suspect*. A few
 * suspects go out with the answer to one caller at a time (see `findSuspects`); that caller asks Redis
 * which of their connections are gone (CLIENT LIST, which a script may not call) and hands those back to
 * `reap` (reaping.ts), which drops each lease still unrenewed. The instance side stops using a grant by
 * then once it has seen its own connection close (leased-connection-budget.ts).
 */

/** Priority bands, indexed by the core's `Priority` value: 0 = BATCH ... 4 = CRITICAL. */
export const bandCount = 5;

/** One instance's lease, as stored in Redis. */
export interface LeaseRecord {
  /** The instance's request counter: a request with a lower or equal `seq` is stale and ignored. */
  seq: number;
  /** Slots granted by the last call. */
  grant: number;
  /** Slots the instance may still be using: max(grant, the limit it enforced when it called, inUse). */
  reserved: number;
  /** Wanted slots per band (capped at the capacity). */
  wants: number[];
  /** Redis time (epoch ms) after which the lease is void and its slots return. */
  expiresAt: number;
  /** Slots short of the instance's entitled share when it last called (others hold back that many). */
  starving: number;
  /** Redis CLIENT ID of the connection the last call came on; 0 when unknown (then only expiry ends it). */
  clientId: number;
  /** Redis time (epoch ms) of the last call; 0 for a lease stored before this was kept. */
  renewedAt: number;
  /** Redis time (epoch ms) the grant last rose (or the lease began); 0 for a lease stored before this was kept. */
  grantSince: number;
}

/**
 * How long a grant is held before it may double past an equal share of the capacity. Instances that
 * a burst of traffic wakes at the same moment all report what they want within this time, so the
 * first to call does not take slots it must then give back (a slot given back stays reserved for its
 * instance's release delay, and whoever waits for it waits that long).
 */
export const growthHoldMs = 100;

/** Totals over live leases, and what tells a restarted Redis from a live one. */
export interface BudgetMeta {
  /** Redis's `run_id` when the state was last written: a different one means Redis restarted. */
  runId: string;
  /** Until this Redis time, no new capacity is handed out (see `allocate`). 0 when not learning. */
  learningUntil: number;
  reserved: number;
  wants: number[];
  /** Live leases wanting any slot, per band. */
  wanting: number[];
  instances: number;
  /** Sum of `starving` over live leases. */
  starving: number;
  /** Redis time suspects were last looked for (see `findSuspects`). */
  suspectsAt: number;
  /** Expiry score of the last lease looked at then: the next look starts after it (round robin). */
  suspectCursor: number;
}

/** Everything the script keeps under one budget key. */
export interface BudgetState {
  meta: BudgetMeta | undefined;
  leases: Map<string, LeaseRecord>;
}

/** One call of an instance. */
export interface AllocationRequest {
  instanceId: string;
  seq: number;
  /** The limit the instance enforces right now (its last applied grant, or its fallback limit). */
  enforcing: number;
  /** Slots it holds right now. */
  inUse: number;
  /** Wanted slots per band (held plus waiting), indexed like `bandCount`. */
  wants: readonly number[];
  /** The instance is closing: drop its lease. */
  leaving: boolean;
  capacity: number;
  leaseMs: number;
  /**
   * Redis CLIENT ID of the connection this call travels on, or 0 when unknown (not yet asked, just
   * reconnected, an ioredis Cluster): with 0 the lease is never suspect and only expiry ends it.
   */
  clientId: number;
  /** How long a lease with a client id may go unrenewed before it is suspect; below `leaseMs`. */
  staleMs: number;
  /** The caller will check suspects handed to it (it can, and has no check under way). */
  checksSuspects: boolean;
}

/** A lease that may belong to a dead instance: unrenewed for `staleMs`, with a known connection. */
export interface Suspect {
  instanceId: string;
  /** The connection to look for: gone means the instance's process is gone (or lost Redis). */
  clientId: number;
  /** The lease's `seq`: `reap` drops it only if no call came since. */
  seq: number;
}

/** What Redis itself tells the script: its clock and which run of the server this is. */
export interface RedisEnvironment {
  /** Redis time, epoch ms (`TIME`). */
  now: number;
  /** `run_id` from `INFO server`. */
  runId: string;
  /** `uptime_in_seconds` × 1000. */
  uptimeMs: number;
}

export type AllocationStatus = 'granted' | 'stale' | 'released';

/** The script's answer. */
export interface AllocationReply {
  status: AllocationStatus;
  grant: number;
  reserved: number;
  /** True while the budget is learning after a Redis restart: nothing new is handed out. */
  learning: boolean;
  /** Live leases, this one included. */
  instances: number;
  /** Wanted slots over all live leases and bands: above the capacity, instances are competing. */
  totalWants: number;
  now: number;
  expiresAt: number;
  learningUntil: number;
  /** Leases for the caller to check (empty unless it offered to, and then at most `suspectsPerReply`). */
  suspects: Suspect[];
}

/** The most suspects one answer carries: few enough to check in one CLIENT LIST call. */
export const suspectsPerReply = 8;

/** A fresh empty state (what a Redis without the budget's keys holds). */
export function emptyBudgetState(): BudgetState {
  return { meta: undefined, leases: new Map() };
}

function zeros(): number[] {
  return [0, 0, 0, 0, 0];
}

/** Takes a lease out of the totals: on expiry, renewal, leaving, and in `reap`. */
export function subtractLease(meta: BudgetMeta, lease: LeaseRecord): void {
  meta.reserved -= lease.reserved;
  for (let band = 0; band < bandCount; band++) {
    meta.wants[band]! -= lease.wants[band]!;
    if (lease.wants[band]! > 0) meta.wanting[band]! -= 1;
  }
  meta.instances -= 1;
  meta.starving -= lease.starving;
}

function add(meta: BudgetMeta, lease: LeaseRecord): void {
  meta.reserved += lease.reserved;
  for (let band = 0; band < bandCount; band++) {
    meta.wants[band]! += lease.wants[band]!;
    if (lease.wants[band]! > 0) meta.wanting[band]! += 1;
  }
  meta.instances += 1;
  meta.starving += lease.starving;
}

/** An instance's share of the capacity, given what it and all others want. */
export interface FairShare {
  /** The most it may hold: its proportional share of the band where capacity runs out, rounded up. */
  target: number;
  /**
   * What it is owed there: one slot, plus the rest of the band's slots shared in proportion to what
   * it wants beyond one, rounded down. These add up to no more than the band gets unless more
   * instances want slots in it than it has (then each is owed one, and whoever asks first gets it).
   */
  entitled: number;
}

/**
 * An instance's share: bands from CRITICAL down are served in full while capacity lasts; the band
 * where it runs out is shared in proportion to what each instance wants in it; lower bands get nothing.
 * The target rounds up, so spare slots get used (1,000 instances wanting one slot each of 8 are not all
 * rounded down to nothing: the first to ask get them, the others when they are given back).
 *
 * `othersWanting[band]` counts the other instances wanting any slot in that band.
 */
export function fairShare(
  wants: readonly number[],
  othersWants: readonly number[],
  othersWanting: readonly number[],
  capacity: number,
): FairShare {
  let remaining = capacity;
  let target = 0;
  let entitled = 0;
  for (let band = bandCount - 1; band >= 0; band--) {
    const mine = wants[band]!;
    const all = othersWants[band]! + mine;
    if (all > 0) {
      if (all <= remaining) {
        target += mine;
        entitled += mine;
        remaining -= all;
      } else {
        if (mine > 0) {
          const sharers = othersWanting[band]! + 1;
          const owed =
            sharers >= remaining ? 1 : 1 + Math.floor(((remaining - sharers) * (mine - 1)) / (all - sharers));
          target += Math.max(Math.min(mine, Math.ceil((remaining * mine) / all)), owed);
          entitled += owed;
        }
        remaining = 0;
      }
    }
    if (remaining <= 0) break;
  }
  return { target, entitled };
}

/**
 * Applies one call to `state` (mutated in place) and returns the answer.
 *
 * Learning: leases live only in Redis. When Redis restarts (a new `run_id`) or its state is gone while
 * it has been up for less than a lease, instances may still hold leases Redis no longer knows of. Until
 * every such lease has run out (one `leaseMs`), each caller keeps only the limit it reports enforcing
 * and nothing new is handed out; as instances call, their reservations are learned again.
 */
export function allocate(
  state: BudgetState,
  request: AllocationRequest,
  env: RedisEnvironment,
): AllocationReply {
  const { now } = env;
  const { capacity, leaseMs } = request;
  let meta = state.meta;
  if (meta === undefined) {
    const stray = state.leases.size > 0;
    state.leases.clear();
    meta = {
      runId: env.runId,
      learningUntil: 0,
      reserved: 0,
      wants: zeros(),
      wanting: zeros(),
      instances: 0,
      starving: 0,
      suspectsAt: 0,
      suspectCursor: 0,
    };
    if (stray) meta.learningUntil = now + leaseMs;
    else if (env.uptimeMs < leaseMs) meta.learningUntil = now - env.uptimeMs + leaseMs;
    state.meta = meta;
  } else if (meta.runId !== env.runId) {
    meta.runId = env.runId;
    meta.learningUntil = Math.max(meta.learningUntil, now + leaseMs);
  }
  const totals = meta;

  for (const [id, lease] of state.leases) {
    if (lease.expiresAt <= now) {
      subtractLease(totals, lease);
      state.leases.delete(id);
    }
  }

  const reply = (
    status: AllocationStatus,
    grant: number,
    reserved: number,
    expiresAt: number,
    suspects: Suspect[] = [],
  ): AllocationReply => {
    let totalWants = 0;
    for (let band = 0; band < bandCount; band++) totalWants += totals.wants[band]!;
    return {
      status,
      grant,
      reserved,
      learning: now < totals.learningUntil,
      instances: totals.instances,
      totalWants,
      now,
      expiresAt,
      learningUntil: totals.learningUntil,
      suspects,
    };
  };

  const own = state.leases.get(request.instanceId);
  if (own !== undefined && request.seq <= own.seq)
    return reply('stale', own.grant, own.reserved, own.expiresAt);
  if (own !== undefined) {
    subtractLease(totals, own);
    state.leases.delete(request.instanceId);
  }
  if (request.leaving) return reply('released', 0, 0, now);

  const wants = request.wants.map((wanted) => Math.min(wanted, capacity));
  let grant: number;
  let starving = 0;
  if (now < totals.learningUntil) {
    grant = Math.min(request.enforcing, capacity);
  } else {
    const share = fairShare(wants, totals.wants, totals.wanting, capacity);
    const free = capacity - totals.reserved;
    // Up to its entitled share an instance takes any free slot; beyond it, only slots no starving
    // instance is owed.
    const open = Math.max(Math.min(share.entitled, free), free - totals.starving);
    // Growth per call is at most to an equal share of the capacity among the live leases, or to twice
    // the last grant once that has been held for `growthHoldMs`: instances that start work together
    // each get a share, instead of the first to call taking every free slot, which it would then hold
    // for its release delay after giving it up.
    const settled = own !== undefined && now - own.grantSince >= growthHoldMs;
    const growth = Math.max(
      settled ? 2 * own.grant : (own?.grant ?? 0),
      Math.ceil(capacity / (totals.instances + 1)),
    );
    grant = Math.max(0, Math.min(share.target, open, growth));
    starving = Math.max(0, share.entitled - grant);
  }
  const lease: LeaseRecord = {
    seq: request.seq,
    grant,
    reserved: Math.max(grant, request.enforcing, request.inUse),
    wants,
    expiresAt: now + leaseMs,
    starving,
    clientId: request.clientId,
    renewedAt: now,
    grantSince: own !== undefined && grant <= own.grant ? own.grantSince : now,
  };
  add(totals, lease);
  state.leases.set(request.instanceId, lease);
  const suspects =
    request.checksSuspects &&
    request.clientId > 0 &&
    now >= totals.learningUntil &&
    suspectsDue(totals, request, now)
      ? findSuspects(state, totals, request, now)
      : [];
  return reply('granted', grant, lease.reserved, lease.expiresAt, suspects);
}

/**
 * Suspects are looked for at most once per quarter of `staleMs` across all instances: a dead
 * instance's lease waits at most that much longer, and a fleet of 1,000 makes a handful of checks a
 * second rather than one per renewal. (A Redis clock that moved back does not hold them up.)
 */
function suspectsDue(meta: BudgetMeta, request: AllocationRequest, now: number): boolean {
  return now - meta.suspectsAt >= Math.ceil(request.staleMs / 4) || now < meta.suspectsAt;
}

/**
 * Up to `suspectsPerReply` suspects, round robin over the leases unrenewed for `staleMs`.
 *
 * Every lease was renewed `leaseMs` before it expires, so the expiry sorted set orders leases by their
 * last renewal too, and a range of it finds the stale ones in O(log n + k) in the script (this model
 * scans, which the simulation can afford). Looking from after the previous look's last lease, rather
 * than always from the oldest, matters: frozen instances keep their connections, stay suspect until
 * their leases run out, and with the oldest first a fleet of serverless functions would hide every
 * dead instance behind them. Leases in the range without a client id are skipped but still move the
 * cursor on. Ties in expiry are ordered by instance id, as Redis orders equal scores.
 */
function findSuspects(
  state: BudgetState,
  meta: BudgetMeta,
  request: AllocationRequest,
  now: number,
): Suspect[] {
  meta.suspectsAt = now;
  // The expiry of a lease renewed exactly staleMs ago.
  const latest = now + request.leaseMs - request.staleMs;
  let looked = leasesByExpiry(state, meta.suspectCursor, latest);
  if (looked.length === 0 && meta.suspectCursor > 0)
    looked = leasesByExpiry(state, Number.NEGATIVE_INFINITY, latest);
  meta.suspectCursor = looked.at(-1)?.[1].expiresAt ?? 0;
  const suspects: Suspect[] = [];
  for (const [instanceId, lease] of looked) {
    if (lease.clientId > 0 && lease.renewedAt <= now - request.staleMs)
      suspects.push({ instanceId, clientId: lease.clientId, seq: lease.seq });
  }
  return suspects;
}

/** The first `suspectsPerReply` leases with `after < expiresAt <= upTo`, in the sorted set's order. */
function leasesByExpiry(state: BudgetState, after: number, upTo: number): Array<[string, LeaseRecord]> {
  const inRange: Array<[string, LeaseRecord]> = [];
  for (const entry of state.leases) {
    if (entry[1].expiresAt > after && entry[1].expiresAt <= upTo) inRange.push(entry);
  }
  inRange.sort(([a, x], [b, y]) => x.expiresAt - y.expiresAt || compareAsRedis(a, b));
  return inRange.slice(0, suspectsPerReply);
}

/** Redis orders equal scores by the members' bytes: for UTF-8, that is code point order. */
function compareAsRedis(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
