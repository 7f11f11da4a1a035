import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AllocationRequest,
  allocate,
  type BudgetState,
  emptyBudgetState,
  fairShare,
  growthHoldMs,
  type RedisEnvironment,
} from './allocation.js';

const runId = 'run-a';
const longUp = 3_600_000;

function request(
  instanceId: string,
  seq: number,
  overrides: Partial<AllocationRequest> = {},
): AllocationRequest {
  return {
    instanceId,
    seq,
    enforcing: 0,
    inUse: 0,
    wants: [0, 0, 0, 0, 0],
    leaving: false,
    capacity: 8,
    leaseMs: 5000,
    clientId: 0,
    staleMs: 1500,
    checksSuspects: false,
    ...overrides,
  };
}

function env(now: number, overrides: Partial<RedisEnvironment> = {}): RedisEnvironment {
  return { now, runId, uptimeMs: longUp, ...overrides };
}

/** wants for one band only: [BATCH, LOW, NORMAL, HIGH, CRITICAL]. */
const band = { BATCH: 0, LOW: 1, NORMAL: 2, HIGH: 3, CRITICAL: 4 } as const;
function wanting(which: keyof typeof band, count: number): number[] {
  const wants = [0, 0, 0, 0, 0];
  wants[band[which]] = count;
  return wants;
}

/** The band where capacity runs out has at least one slot left for each instance wanting any there. */
function everyoneFitsTheContendedBand(capacity: number, demands: number[][]): boolean {
  let left = capacity;
  for (let k = 4; k >= 0 && left > 0; k--) {
    const total = demands.reduce((sum, wants) => sum + wants[k]!, 0);
    const count = demands.filter((wants) => wants[k]! > 0).length;
    if (total > left) return count <= left;
    left -= total;
  }
  return true;
}

describe('fairShare', () => {
  it('serves higher bands in full first, and shares the band where capacity runs out', () => {
    // Others want 6 HIGH; I want 4 HIGH and 4 BATCH: HIGH needs 10 > 8, so my share is 8 × 4 / 10 = 3.2.
    expect(fairShare([4, 0, 0, 4, 0], [0, 0, 0, 6, 0], [0, 0, 0, 1, 0], 8)).toEqual({
      target: 4,
      entitled: 3,
    });
    // Others want 2 HIGH; my 4 HIGH fit; my BATCH shares the remaining 2 with others' 6 BATCH: 2 × 4 / 10.
    expect(fairShare([4, 0, 0, 4, 0], [6, 0, 0, 2, 0], [1, 0, 0, 1, 0], 8)).toEqual({
      target: 5,
      entitled: 5,
    });
    // Nothing left for my BATCH when HIGH takes everything.
    expect(fairShare(wanting('BATCH', 3), wanting('HIGH', 8), wanting('HIGH', 1), 8)).toEqual({
      target: 0,
      entitled: 0,
    });
  });

  it('rounds a tiny share up to one slot, so many small instances are not all rounded down to nothing', () => {
    expect(fairShare(wanting('NORMAL', 1), wanting('NORMAL', 999), wanting('NORMAL', 999), 8)).toEqual({
      target: 1,
      entitled: 1,
    });
  });

  it('owes no more than the capacity in all while the contended band has a slot for each instance wanting one (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.array(fc.nat(30), { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 12 }),
        (capacity, demands) => {
          const capped = demands.map((wants) => wants.map((n) => Math.min(n, capacity)));
          const totals = [0, 0, 0, 0, 0];
          const counts = [0, 0, 0, 0, 0];
          for (const wants of capped)
            wants.forEach((n, k) => {
              totals[k]! += n;
              if (n > 0) counts[k]! += 1;
            });
          fc.pre(everyoneFitsTheContendedBand(capacity, capped));
          let owed = 0;
          for (const wants of capped) {
            const others = totals.map((total, k) => total - wants[k]!);
            const othersWanting = counts.map((count, k) => count - (wants[k]! > 0 ? 1 : 0));
            const share = fairShare(wants, others, othersWanting, capacity);
            expect(share.entitled).toBeLessThanOrEqual(share.target);
            owed += share.entitled;
          }
          expect(owed).toBeLessThanOrEqual(capacity);
        },
      ),
    );
  });
});

/**
 * Instances calling in turn with steady demand, each applying its grant before its next call (its
 * operations then run at the new limit). Returns the grants after `rounds` rounds in `order`.
 */
function settle(capacity: number, demands: number[][], order: number[], rounds: number): number[] {
  const state = emptyBudgetState();
  const grants = demands.map(() => 0);
  const seqs = demands.map(() => 0);
  let now = 1000;
  for (let round = 0; round < rounds; round++) {
    // A round is one renewal of every instance; renewals of one instance come at least this far apart
    // while demand is steady (refreshMs, 500 ms by default), so a grant may grow once per round.
    now += growthHoldMs;
    for (const who of order) {
      now += 1;
      seqs[who]! += 1;
      const reply = allocate(
        state,
        request(String(who), seqs[who]!, {
          capacity,
          enforcing: grants[who]!,
          inUse: grants[who]!,
          wants: demands[who]!,
          leaseMs: 1_000_000,
        }),
        env(now),
      );
      grants[who] = reply.grant;
    }
  }
  return grants;
}

describe('allocate: fairness between instances', () => {
  it('gives instances that ask while another holds everything their share, ahead of its renewals', () => {
    const state = emptyBudgetState();
    const a = (seq: number, held: number, now: number) =>
      allocate(
        state,
        request('a', seq, { enforcing: held, inUse: held, wants: wanting('NORMAL', 8) }),
        env(now),
      );
    expect(a(1, 0, 1000).grant).toBe(8);
    // b, c and d want 2 each while a holds all 8: nothing is free; each is owed one slot
    // (8 × 2 / 14 = 1.14, rounded down), and a's share is 8 × 8 / 14 = 4.57.
    for (const id of ['b', 'c', 'd'])
      expect(allocate(state, request(id, 1, { wants: wanting('NORMAL', 2) }), env(1001)).grant).toBe(0);
    // a renews: 5 (its share rounded up) leaves the 3 slots the others are owed; its 8 stay reserved
    // until it says they are gone.
    expect(a(2, 8, 1002)).toMatchObject({ grant: 5, reserved: 8 });
    // a renews first again, now using 5: 3 are free, and they are not a's to take.
    expect(a(3, 5, 1003).grant).toBe(5);
    expect(a(4, 5, 1004).grant).toBe(5);
    // Rounding each share up would give b 2 and leave d nothing; each gets at least what it is owed.
    for (const id of ['b', 'c', 'd'])
      expect(allocate(state, request(id, 2, { wants: wanting('NORMAL', 2) }), env(1005)).grant).toBe(1);
  });

  it('does not starve an instance whose rounded-up share does not fit (shares 3, 3, 3 and 1 of 8)', () => {
    // Wants 20, 20, 20 and 5: shares 2.46 × 3 and 0.6, rounded up 3 + 3 + 3 + 1 = 10 > 8.
    const demands = [
      wanting('NORMAL', 20),
      wanting('NORMAL', 20),
      wanting('NORMAL', 20),
      wanting('NORMAL', 5),
    ];
    const grants = settle(8, demands, [0, 1, 2, 3], 10);
    expect(grants[3]).toBeGreaterThanOrEqual(1);
    expect(grants.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('settles on equal shares, whatever the order of calls, using the whole capacity (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.nat(7), { minLength: 1, maxLength: 12 }),
        (capacity, instances, b, extra, shuffle) => {
          // Every instance wants more than an equal share of the same band.
          const wanted = Math.ceil(capacity / instances) + extra;
          const demands = Array.from({ length: instances }, () => {
            const wants = [0, 0, 0, 0, 0];
            wants[b] = wanted;
            return wants;
          });
          const order = Array.from({ length: instances }, (_, i) => i);
          for (const [i, j] of shuffle.entries()) {
            const x = i % instances;
            const y = j % instances;
            [order[x], order[y]] = [order[y]!, order[x]!];
          }
          const grants = settle(capacity, demands, order, 6);
          const used = grants.reduce((sum, grant) => sum + grant, 0);
          expect(used).toBe(Math.min(capacity, wanted * instances));
          if (instances <= capacity) expect(Math.max(...grants) - Math.min(...grants)).toBeLessThanOrEqual(1);
          else expect(Math.max(...grants)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('settles with every instance holding what it is owed, when the contended band has a slot for each (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.array(fc.nat(20), { minLength: 5, maxLength: 5 }), { minLength: 2, maxLength: 8 }),
        (capacity, demands) => {
          fc.pre(
            everyoneFitsTheContendedBand(
              capacity,
              demands.map((wants) => wants.map((n) => Math.min(n, capacity))),
            ),
          );
          const grants = settle(
            capacity,
            demands,
            demands.map((_, i) => i),
            8,
          );
          demands.forEach((wants, i) => {
            // An instance wanting only slots that higher bands of others take in full gets none.
            const others = [0, 0, 0, 0, 0];
            const othersWanting = [0, 0, 0, 0, 0];
            demands.forEach((w, j) => {
              if (j === i) return;
              w.forEach((n, k) => {
                others[k]! += Math.min(n, capacity);
                if (n > 0) othersWanting[k]! += 1;
              });
            });
            const capped = wants.map((n) => Math.min(n, capacity));
            const { entitled } = fairShare(capped, others, othersWanting, capacity);
            expect(grants[i]).toBeGreaterThanOrEqual(entitled);
          });
        },
      ),
    );
  });
});

describe('allocate', () => {
  it('lets instances that start together each take a share, not the first to call every free slot', () => {
    const state = emptyBudgetState();
    // Four idle instances with leases.
    for (const id of ['a', 'b', 'c', 'd']) allocate(state, request(id, 1), env(1000));
    // All four start work at once; a reaches Redis first. Alone it could take all 8.
    expect(allocate(state, request('a', 2, { wants: wanting('NORMAL', 20) }), env(1001)).grant).toBe(2);
    for (const id of ['b', 'c', 'd'])
      expect(allocate(state, request(id, 2, { wants: wanting('NORMAL', 20) }), env(1002)).grant).toBe(2);
    // A lone instance still gets everything at once; one already holding doubles per call once it has
    // held its grant for growthHoldMs.
    const alone = emptyBudgetState();
    expect(allocate(alone, request('x', 1, { wants: wanting('NORMAL', 8) }), env(1000)).grant).toBe(8);
    const pair = emptyBudgetState();
    allocate(pair, request('y', 1), env(1000));
    const grants = [1000, 1000 + growthHoldMs / 2, 1000 + growthHoldMs, 1000 + 2 * growthHoldMs].map(
      (time, i) =>
        allocate(
          pair,
          request('z', i + 1, { enforcing: 8, inUse: 0, wants: wanting('NORMAL', 8) }),
          env(time),
        ).grant,
    );
    expect(grants).toEqual([4, 4, 8, 8]);
  });

  it('holds the first caller of a burst at an equal share until the others woken with it have asked', () => {
    const state = emptyBudgetState();
    for (const id of ['a', 'b', 'c', 'd']) allocate(state, request(id, 1), env(1000));
    // A burst reaches all four; a calls twice before the others' first calls arrive. Without the hold
    // it would double to 4 on its second call, and b, c, d would wait for those slots' release delay.
    expect(allocate(state, request('a', 2, { wants: wanting('HIGH', 10) }), env(2000)).grant).toBe(2);
    expect(allocate(state, request('a', 3, { wants: wanting('HIGH', 10) }), env(2020)).grant).toBe(2);
    for (const id of ['b', 'c', 'd'])
      expect(allocate(state, request(id, 2, { wants: wanting('HIGH', 10) }), env(2030)).grant).toBe(2);
    // Later, with everyone's wants known, a keeps its fair share of 2.
    expect(
      allocate(
        state,
        request('a', 4, { enforcing: 2, wants: wanting('HIGH', 10) }),
        env(2000 + 2 * growthHoldMs),
      ).grant,
    ).toBe(2);
  });

  it('grants what is wanted while capacity lasts, then only what is free', () => {
    const state = emptyBudgetState();
    const a = allocate(state, request('a', 1, { wants: wanting('NORMAL', 6) }), env(1000));
    expect(a).toMatchObject({ status: 'granted', grant: 6, reserved: 6, instances: 1, totalWants: 6 });
    // b's fair share of NORMAL is ceil(8 × 6 / 12) = 4, but only 2 are free: a reserved 6.
    const b = allocate(state, request('b', 1, { wants: wanting('NORMAL', 6) }), env(1001));
    expect(b).toMatchObject({ grant: 2, instances: 2, totalWants: 12 });
  });

  it('keeps a shrinking instance’s old limit reserved until it reports the slots gone', () => {
    const state = emptyBudgetState();
    allocate(state, request('batch', 1, { wants: wanting('BATCH', 8) }), env(1000));
    // A HIGH caller: its share is all 8, but batch reserved 8.
    expect(allocate(state, request('high', 1, { wants: wanting('HIGH', 8) }), env(1001)).grant).toBe(0);
    // batch calls again while enforcing 8 with 8 in use: its target is 0, but the 8 stay reserved.
    const shrink = allocate(
      state,
      request('batch', 2, { enforcing: 8, inUse: 8, wants: wanting('BATCH', 8) }),
      env(1002),
    );
    expect(shrink).toMatchObject({ grant: 0, reserved: 8 });
    expect(allocate(state, request('high', 2, { wants: wanting('HIGH', 8) }), env(1003)).grant).toBe(0);
    // batch now enforces 0, with 3 operations still running: 3 stay reserved, 5 are free for HIGH,
    // which grows into them: an equal share of the two leases' capacity first, then twice its grant.
    allocate(state, request('batch', 3, { enforcing: 0, inUse: 3, wants: wanting('BATCH', 8) }), env(1004));
    expect(allocate(state, request('high', 3, { wants: wanting('HIGH', 8) }), env(1005)).grant).toBe(4);
    expect(
      allocate(state, request('high', 4, { wants: wanting('HIGH', 8) }), env(1005 + growthHoldMs)).grant,
    ).toBe(5);
  });

  it('gives a crashed instance’s slots back when its lease runs out, not before', () => {
    const state = emptyBudgetState();
    allocate(state, request('dead', 1, { wants: wanting('NORMAL', 8) }), env(1000));
    expect(allocate(state, request('live', 1, { wants: wanting('NORMAL', 8) }), env(5999)).grant).toBe(0);
    const after = allocate(state, request('live', 2, { wants: wanting('NORMAL', 8) }), env(6000));
    expect(after).toMatchObject({ grant: 8, instances: 1 });
  });

  it('ignores a stale request (a timed-out call that Redis ran late)', () => {
    const state = emptyBudgetState();
    allocate(state, request('a', 5, { wants: wanting('NORMAL', 2) }), env(1000));
    const stale = allocate(state, request('a', 4, { wants: wanting('NORMAL', 8) }), env(1001));
    expect(stale).toMatchObject({ status: 'stale', grant: 2 });
    expect(state.leases.get('a')?.wants).toEqual(wanting('NORMAL', 2));
  });

  it('drops the lease of a leaving instance at once', () => {
    const state = emptyBudgetState();
    allocate(state, request('a', 1, { wants: wanting('NORMAL', 8) }), env(1000));
    expect(allocate(state, request('a', 2, { leaving: true }), env(1001)).status).toBe('released');
    expect(allocate(state, request('b', 1, { wants: wanting('NORMAL', 8) }), env(1002)).grant).toBe(8);
  });

  it('learns after a Redis restart: callers keep what they enforce, newcomers wait a lease', () => {
    const state = emptyBudgetState();
    allocate(state, request('a', 1, { wants: wanting('NORMAL', 4) }), env(1000));
    // Same stored state, another run id: Redis restarted with its data (AOF) or failed over.
    const known = allocate(
      state,
      request('a', 2, { enforcing: 4, inUse: 4, wants: wanting('NORMAL', 8) }),
      env(2000, { runId: 'run-b' }),
    );
    expect(known).toMatchObject({ grant: 4, learning: true, learningUntil: 7000 });
    expect(
      allocate(state, request('new', 1, { wants: wanting('HIGH', 2) }), env(2001, { runId: 'run-b' })),
    ).toMatchObject({ grant: 0, learning: true });
    expect(
      allocate(state, request('new', 2, { wants: wanting('HIGH', 2) }), env(7000, { runId: 'run-b' })),
    ).toMatchObject({ grant: 2, learning: false });
  });

  it('learns when the state is gone and Redis has been up for less than a lease, not on a long-lived Redis', () => {
    const fresh = emptyBudgetState();
    expect(
      allocate(fresh, request('a', 1, { wants: wanting('NORMAL', 4) }), env(10_000, { uptimeMs: 2000 })),
    ).toMatchObject({
      grant: 0,
      learningUntil: 13_000,
    });
    const longLived = emptyBudgetState();
    expect(allocate(longLived, request('a', 1, { wants: wanting('NORMAL', 4) }), env(10_000)).grant).toBe(4);
  });
});

/**
 * The safety property, on a model of instances that follow the protocol adversarially: each starts
 * operations whenever it is below the limit it enforces, a call is sent, run by Redis and answered in
 * three separate steps (operations start in between, under the old limit), and answers may be lost.
 * Whatever the interleaving, the operations running across all instances never exceed the capacity.
 */
describe('allocate: the global count never exceeds the capacity (property)', () => {
  interface Instance {
    enforcing: number;
    inUse: number;
    wants: number[];
    seq: number;
    sent: AllocationRequest | undefined;
    answered: { seq: number; grant: number } | undefined;
    /** Requests given up on (timed out) that Redis may still run later. */
    ghosts: AllocationRequest[];
  }

  const step = fc.record({
    who: fc.nat(4),
    action: fc.constantFrom('start', 'finish', 'send', 'run', 'deliver', 'lose', 'ghost', 'want'),
    count: fc.integer({ min: 1, max: 6 }),
    band: fc.integer({ min: 0, max: 4 }),
    dt: fc.integer({ min: 0, max: 400 }),
  });

  it('holds for any interleaving of five instances', () => {
    let busiest = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(step, { minLength: 100, maxLength: 400 }),
        (capacity, steps) => {
          const state: BudgetState = emptyBudgetState();
          const instances: Instance[] = Array.from({ length: 5 }, () => ({
            enforcing: 0,
            inUse: 0,
            wants: [0, 0, 0, 0, 0],
            seq: 0,
            sent: undefined,
            answered: undefined,
            ghosts: [],
          }));
          // Leases long enough that no live instance loses its lease (expiry is tested separately).
          const leaseMs = 1_000_000;
          let now = 1000;
          for (const { who, action, count, band: b, dt } of steps) {
            now += dt;
            const instance = instances[who]!;
            if (action === 'start')
              instance.inUse = Math.max(instance.inUse, Math.min(instance.enforcing, instance.inUse + count));
            else if (action === 'finish') instance.inUse = Math.max(0, instance.inUse - count);
            else if (action === 'want') instance.wants[b] = count;
            else if (action === 'send' && instance.sent === undefined) {
              instance.seq += 1;
              instance.sent = {
                instanceId: String(who),
                seq: instance.seq,
                enforcing: instance.enforcing,
                inUse: instance.inUse,
                wants: [...instance.wants],
                leaving: false,
                capacity,
                leaseMs,
                clientId: 0,
                staleMs: 1500,
                checksSuspects: false,
              };
            } else if (action === 'run' && instance.sent !== undefined) {
              const reply = allocate(state, instance.sent, env(now));
              if (reply.status === 'granted')
                instance.answered = { seq: instance.sent.seq, grant: reply.grant };
            } else if (action === 'deliver' && instance.sent !== undefined) {
              // Only the answer to the latest request is applied, as the client does.
              if (instance.answered?.seq === instance.sent.seq) instance.enforcing = instance.answered.grant;
              instance.sent = undefined;
            } else if (action === 'lose' && instance.sent !== undefined) {
              instance.ghosts.push(instance.sent);
              instance.sent = undefined;
            } else if (action === 'ghost') {
              const ghost = instance.ghosts.shift();
              if (ghost) allocate(state, ghost, env(now));
            }
            const running = instances.reduce((sum, each) => sum + each.inUse, 0);
            expect(running).toBeLessThanOrEqual(capacity);
            busiest = Math.max(busiest, running);
          }
        },
      ),
      { numRuns: 500 },
    );
    // The model did reach the capacity: the property was tested under load, not on idle instances.
    expect(busiest).toBeGreaterThanOrEqual(2);
  });
});
