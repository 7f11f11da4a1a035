import { describe, expect, it } from 'vitest';
import type { SafeguardsOptions } from '../config/safeguards-options.js';
import { isSafeguardError } from '../errors/safeguard-error.js';
import { createSafeguards } from '../safeguards.js';
import { driverErrorSamples } from '../testing/driver-error-samples.js';
import { ManualClock } from '../testing/manual-clock.js';
import type { LimitChange } from './effective-limit.js';

const tooManyForRole = driverErrorSamples.find(
  (s) => s.name === 'postgres.js too many connections for role',
)!;
const neonEndpointFull = driverErrorSamples.find((s) =>
  s.name.startsWith('Neon proxy: too many connections'),
)!;

/**
 * A stand-in database that accepts `capacity` connections at once (the others' share of a role limit
 * already taken) and refuses the rest as full, the way PostgreSQL answers 53300. Each query takes 10 ms.
 */
function fullDatabase(clock: ManualClock, capacity: number, refusal = tooManyForRole.create) {
  let open = 0;
  let peak = 0;
  let refused = 0;
  return {
    query: () => {
      if (open >= capacity) {
        refused++;
        return Promise.reject(refusal());
      }
      open++;
      peak = Math.max(peak, open);
      return new Promise<string>((resolve) =>
        clock.setTimeout(() => {
          open--;
          resolve('row');
        }, 10),
      );
    },
    get peak() {
      return peak;
    },
    get refused() {
      return refused;
    },
    setCapacity(value: number) {
      capacity = value;
    },
  };
}

function setup(options: SafeguardsOptions = {}) {
  const clock = new ManualClock(0);
  const safeguards = createSafeguards({ clock, random: () => 0.5, ...options });
  const breakerChanges: string[] = [];
  safeguards.onBreakerStateChange((change) => breakerChanges.push(`${change.breaker}:${change.to}`));
  const limits: LimitChange[] = [];
  safeguards.onLimitChange((change) => limits.push(change));
  return { clock, safeguards, breakerChanges, limits };
}

async function settle<T>(clock: ManualClock, promises: Promise<T>[], stepMs = 5, maxMs = 60_000) {
  const results = Promise.allSettled(promises);
  let done = false;
  void results.then(() => {
    done = true;
  });
  for (let t = 0; t < maxMs && !done; t += stepMs) await clock.advance(stepMs);
  return results;
}

describe('the database saying it is full (53300) is capacity, not an outage', () => {
  it('lowers the effective limit, retries within the deadline, and never opens a breaker, goes read-only or turns health unhealthy', async () => {
    const { clock, safeguards, breakerChanges, limits } = setup();
    const db = fullDatabase(clock, 3);
    const calls = Array.from({ length: 60 }, (_, i) =>
      safeguards.run(db.query, {
        operationType: i % 2 === 0 ? 'read' : 'write',
        atomic: true,
        timeoutMs: 20_000,
      }),
    );
    const results = await settle(clock, calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(db.refused).toBeGreaterThan(0);
    expect(breakerChanges).toEqual([]);
    expect(safeguards.readOnly.status().active).toBe(false);
    const metrics = safeguards.metrics();
    expect(metrics.capacity.adaptive!.refusals).toBe(db.refused);
    expect(metrics.capacity.adaptive!.decreases).toBeGreaterThan(0);
    expect(Math.min(...limits.map((l) => l.limit))).toBeLessThanOrEqual(3);
    expect(limits[0]).toMatchObject({ previous: 8, limitedBy: 'database' });
    expect(metrics.operations.windowFailed).toBe(0);
    const health = await safeguards.health();
    expect(health.status).not.toBe('unhealthy');
    expect(health.components.errors.status).toBe('healthy');
    expect(health.components.capacity.status).toBe('healthy');
  });

  it('grows back one slot per interval of successes once the database has room again', async () => {
    const { clock, safeguards } = setup({ capacity: { increaseIntervalMs: 1000 } });
    const db = fullDatabase(clock, 1);
    await settle(
      clock,
      Array.from({ length: 10 }, () => safeguards.run(db.query, { operationType: 'read' })),
    );
    expect(safeguards.metrics().capacity.effective).toBe(1);
    db.setCapacity(8);
    const seen: number[] = [];
    for (let second = 0; second < 9; second++) {
      await settle(clock, [safeguards.run(db.query, { operationType: 'read' })]);
      await clock.advance(1000);
      seen.push(safeguards.metrics().capacity.effective);
    }
    expect(safeguards.metrics().capacity.effective).toBe(8);
    // Additive: never more than one slot back per second of successes.
    for (let i = 1; i < seen.length; i++) expect(seen[i]! - seen[i - 1]!).toBeLessThanOrEqual(1);
    expect(safeguards.metrics().capacity.limitedBy).toBeUndefined();
  });

  it('retries a refusal apart from maxAttempts and the retry budget, but only until the deadline', async () => {
    const { clock, safeguards } = setup({
      retry: { maxAttempts: 2, budget: { ratio: 0, minPerSecond: 0, windowMs: 10_000 } },
    });
    let refusals = 5;
    const op = () => (refusals-- > 0 ? Promise.reject(tooManyForRole.create()) : Promise.resolve('ok'));
    const [ok] = await settle(clock, [safeguards.run(op, { operationType: 'read', timeoutMs: 20_000 })]);
    expect(ok).toEqual({ status: 'fulfilled', value: 'ok' });
    expect(safeguards.metrics().retries.attempted).toBe(5);

    // Refused for ever: it ends at its deadline with the typed refusal, not before.
    const always = () => Promise.reject(neonEndpointFull.create());
    const started = clock.now();
    const [failed] = await settle(clock, [
      safeguards.run(always, { operationType: 'read', timeoutMs: 3_000 }),
    ]);
    expect(failed!.status).toBe('rejected');
    const error = (failed as PromiseRejectedResult).reason;
    expect(isSafeguardError(error) && [error.type, error.reason]).toEqual([
      'CONNECTION',
      'too-many-connections',
    ]);
    expect(clock.now() - started).toBeGreaterThan(2_000);
    expect(clock.now() - started).toBeLessThanOrEqual(3_005);
  });

  it('does not retry a refusal of work that may have been applied in part (neither idempotent nor atomic)', async () => {
    const { clock, safeguards } = setup();
    let calls = 0;
    const op = () => {
      calls++;
      return Promise.reject(tooManyForRole.create());
    };
    const [result] = await settle(clock, [safeguards.run(op, { operationType: 'write' })]);
    expect(result!.status).toBe('rejected');
    expect(calls).toBe(1);
    expect(safeguards.metrics().capacity.effective).toBeLessThan(8);
  });

  it('a health probe refused as full reports the database up', async () => {
    const { safeguards, clock } = setup({
      health: { probe: () => Promise.reject(tooManyForRole.create()), probeTimeoutMs: 500 },
    });
    const report = safeguards.health({ probe: true });
    await clock.advance(1000);
    const health = await report;
    expect(health.components.database).toMatchObject({ status: 'healthy' });
    expect(health.components.database!.message).toMatch(/connection limit/);
    expect(health.status).not.toBe('unhealthy');
  });

  it('with capacity.adaptive off the limit stays at the budget, and refusals still never open a breaker', async () => {
    const { clock, safeguards, breakerChanges } = setup({ capacity: { adaptive: false } });
    const db = fullDatabase(clock, 2);
    const results = await settle(
      clock,
      Array.from({ length: 30 }, () =>
        safeguards.run(db.query, { operationType: 'read', timeoutMs: 20_000 }),
      ),
    );
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(safeguards.metrics().capacity).toMatchObject({ effective: 8, adaptive: undefined });
    expect(breakerChanges).toEqual([]);
  });

  it('refuses bad capacity options with a message naming them', () => {
    expect(() => createSafeguards({ capacity: { decreaseFactor: 2 } })).toThrow(/capacity\.decreaseFactor/);
    expect(() => createSafeguards({ capacity: { increaseIntervalMs: 0 } })).toThrow(
      /capacity\.increaseIntervalMs/,
    );
  });
});
