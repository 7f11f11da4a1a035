import { setTimeout as sleep } from 'node:timers/promises';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../src/start-vetmed.js';

/**
 * Issue 14 without Redis: two instances of the app on one role limited to 8 connections see each
 * other in pg_stat_activity and split 7 of the 8 (one left free, so that a newcomer can connect and be
 * seen): 4 and 3; when one leaves, the other gets 7 again; an idle instance makes no looks, so its
 * connections close.
 */
let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const env = (extra: Record<string, string> = {}) =>
  loadEnv({
    DATABASE_URL: server.appUrl,
    DB_DRIVER: 'postgres',
    PORT: '0',
    SEED_DEMO: 'false',
    LOAD_SHEDDING: 'off',
    ...extra,
  });

/** Keeps `workers` short queries running on the app's database until `stop` is called. */
function keepBusy(app: RunningVetmed, workers: number): { stop(): Promise<void> } {
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) await app.database.db.execute(sql`select pg_sleep(0.02)`).catch(() => sleep(20));
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('instances without Redis share the role through pg_stat_activity', () => {
  it('splits the role between two busy instances, takes it back when the other has gone, and looks only while busy', async () => {
    const log = createLogger('silent');
    const a = await startVetmed(env(), { log });
    const b = await startVetmed(env(), { log });
    const busyA = keepBusy(a, 8);
    const busyB = keepBusy(b, 8);
    try {
      const peers = (app: RunningVetmed) => app.safeguards.metrics().capacity.inputs.peers;
      // Both must have looked: A alone sees only itself and holds 7 until it sees B.
      await waitFor(
        () => peers(a) !== undefined && peers(b) !== undefined && peers(a)! + peers(b)! === 7,
        15_000,
        'shares of 7',
      );
      expect([peers(a), peers(b)].sort()).toEqual([3, 4]);
      // The share is a ceiling; "too many connections" answers met before the first look (both
      // started with the whole budget) may still hold the limit lower for a while.
      expect(a.safeguards.limit.limit).toBeLessThanOrEqual(peers(a)!);
      expect(b.safeguards.limit.limit).toBeLessThanOrEqual(peers(b)!);

      await busyB.stop();
      await b.stop();
      // B's name is remembered for 10 s after it was last seen; then A holds 7 again.
      await waitFor(() => peers(a) === 7, 20_000, 'A back at 7');
      // Idle: no looks, so the pool's connections close after its idle timeout (1 s).
      await busyA.stop();
      await server.waitForAppConnections(0, { timeoutMs: 15_000 });
    } finally {
      // Stopped whatever happened: a process left running would hold the role's connections and
      // bend the next test's limits.
      await busyB.stop();
      await busyA.stop();
      await b.stop();
      await a.stop();
    }
  }, 90_000);

  it('PEER_SHARE=off keeps each instance at its own budget', async () => {
    const log = createLogger('silent');
    const a = await startVetmed(env({ PEER_SHARE: 'off' }), { log });
    const b = await startVetmed(env({ PEER_SHARE: 'off' }), { log });
    const busyA = keepBusy(a, 2);
    const busyB = keepBusy(b, 2);
    try {
      await sleep(3000);
      expect(a.safeguards.limit.limit).toBe(8);
      expect(a.safeguards.metrics().capacity.inputs.peers).toBeUndefined();
    } finally {
      await busyA.stop();
      await busyB.stop();
      await a.stop();
      await b.stop();
    }
  }, 60_000);
});
