import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSafeguards, type Safeguards } from '../src/index.js';

/**
 * Issue 14, part A, on a real PostgreSQL: several processes' budgets of 8 against an app role whose
 * CONNECTION LIMIT is far lower. Before, every 53300 counted against the breaker: it opened, the app
 * went read-only for 30 s although the database was up and merely full.
 */
let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 3 });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

function instance(name: string) {
  // Idle connections close quickly: a pool's idle connections would otherwise keep the role's slots
  // from the other instances (the sample app closes them when the limit drops; this test stays small).
  const sql = postgres(server.appUrl, { max: 8, idle_timeout: 0.2, onnotice: () => undefined });
  const safeguards = createSafeguards({ capacity: { increaseIntervalMs: 200 } });
  const breakerChanges: string[] = [];
  safeguards.onBreakerStateChange((change) => breakerChanges.push(`${name} ${change.breaker} ${change.to}`));
  let lowest = 8;
  safeguards.onLimitChange((change) => {
    lowest = Math.min(lowest, change.limit);
  });
  return {
    sql,
    safeguards,
    breakerChanges,
    get lowest() {
      return lowest;
    },
  };
}

function load(safeguards: Safeguards, sql: postgres.Sql, calls: number) {
  return Promise.allSettled(
    Array.from({ length: calls }, (_, i) =>
      safeguards.run(() => sql`select pg_sleep(0.02)`, {
        operationType: i % 3 === 0 ? 'write' : 'read',
        atomic: true,
        timeoutMs: 30_000,
      }),
    ),
  );
}

describe('three processes with a budget of 8 each, on a role limited to 3 connections', () => {
  it('every call succeeds; 53300 lowers each effective limit and never opens a breaker, goes read-only or turns health unhealthy', async () => {
    const instances = ['a', 'b', 'c'].map(instance);
    const sampler = server.sampleAppConnections(5);
    try {
      const results = await Promise.all(instances.map(({ safeguards, sql }) => load(safeguards, sql, 30)));
      const peak = (await sampler.stop()).peak;
      const failures = results.flat().filter((r) => r.status === 'rejected');
      expect(failures.map((f) => String((f as PromiseRejectedResult).reason))).toEqual([]);
      expect(peak).toBeLessThanOrEqual(3);
      const refusals = instances.map((i) => i.safeguards.metrics().capacity.adaptive!.refusals);
      expect(
        refusals.reduce((a, b) => a + b, 0),
        'the role limit was reached',
      ).toBeGreaterThan(0);
      for (const i of instances) {
        expect(i.breakerChanges).toEqual([]);
        expect(i.safeguards.readOnly.status().active).toBe(false);
        const health = await i.safeguards.health();
        expect(health.status).not.toBe('unhealthy');
        expect(health.components.errors.status).toBe('healthy');
      }
      // At least one instance saw the database full and lowered its limit to what the role leaves it.
      expect(Math.min(...instances.map((i) => i.lowest))).toBeLessThanOrEqual(3);

      // With room again, the limit grows back (one slot per 200 ms of successes here).
      const [a] = instances;
      for (let round = 0; round < 30 && a!.safeguards.metrics().capacity.effective < 8; round++) {
        await a!.safeguards.run(() => a!.sql`select 1`, { operationType: 'read' });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(a!.safeguards.metrics().capacity.effective).toBe(8);
    } finally {
      await sampler.stop().catch(() => undefined);
      for (const i of instances) {
        await i.safeguards.close();
        await i.sql.end({ timeout: 1 });
      }
    }
  }, 90_000);
});
