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
}

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
}

/** A fresh empty state (what a Redis without the budget's keys holds). */
export function emptyBudgetState(): BudgetState {
  return { meta: undefined, leases: new Map() };
}

function zeros(): number[] {
  return [0, 0, 0, 0, 0];
}

function subtract(meta: BudgetMeta, lease: LeaseRecord): void {
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
      subtract(totals, lease);
      state.leases.delete(id);
    }
  }

  const reply = (
    status: AllocationStatus,
    grant: number,
    reserved: number,
    expiresAt: number,
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
    };
  };

  const own = state.leases.get(request.instanceId);
  if (own !== undefined && request.seq <= own.seq)
    return reply('stale', own.grant, own.reserved, own.expiresAt);
  if (own !== undefined) {
    subtract(totals, own);
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
    // Growth per call is at most to twice the last grant, or to an equal share of the capacity among
    // the live leases: instances that start work together each get a share, instead of the first to
    // call taking every free slot, which it would then hold for its release delay after giving it up.
    const growth = Math.max(2 * (own?.grant ?? 0), Math.ceil(capacity / (totals.instances + 1)));
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
  };
  add(totals, lease);
  state.leases.set(request.instanceId, lease);
  return reply('granted', grant, lease.reserved, lease.expiresAt);
}
