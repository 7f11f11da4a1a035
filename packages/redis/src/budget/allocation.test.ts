import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AllocationRequest,
  allocate,
  type BudgetState,
  emptyBudgetState,
  fairTarget,
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

describe('fairTarget', () => {
  it('serves higher bands in full first, and shares the band where capacity runs out', () => {
    // Others want 6 HIGH; I want 4 HIGH and 4 BATCH: HIGH needs 10 > 8, so I get ceil(8 × 4 / 10) = 4.
    expect(fairTarget([4, 0, 0, 4, 0], [0, 0, 0, 6, 0], 8)).toBe(4);
    // Others want 2 HIGH; my 4 HIGH fit; my BATCH shares the remaining 2 with others' 6 BATCH: ceil(2 × 4 / 10) = 1.
    expect(fairTarget([4, 0, 0, 4, 0], [6, 0, 0, 2, 0], 8)).toBe(5);
    // Nothing left for my BATCH when HIGH takes everything.
    expect(fairTarget(wanting('BATCH', 3), wanting('HIGH', 8), 8)).toBe(0);
  });

  it('rounds a tiny share up, so many small instances are not all rounded down to nothing', () => {
    expect(fairTarget(wanting('NORMAL', 1), wanting('NORMAL', 999), 8)).toBe(1);
  });
});

describe('allocate', () => {
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
    // batch now enforces 0, with 3 operations still running: 3 stay reserved, 5 are free for HIGH.
    allocate(state, request('batch', 3, { enforcing: 0, inUse: 3, wants: wanting('BATCH', 8) }), env(1004));
    expect(allocate(state, request('high', 3, { wants: wanting('HIGH', 8) }), env(1005)).grant).toBe(5);
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
