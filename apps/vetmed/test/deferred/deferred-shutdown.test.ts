import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeferredDoseQueue } from '../../src/deferred/deferred-dose-queue.js';
import { createLogger } from '../../src/server/logger.js';
import { createHouseholdWithAnimal, signUp } from '../app/app-client.js';
import { type FaultTarget, rateLimitsOutOfTheWay, startFaultTarget } from '../faults/fault-fixture.js';
import { freePort, vetmedProcess } from '../faults/vetmed-process.js';

// VetMed in its own process (REDIS_URL set) on a real PostgreSQL behind the fault proxy and a real
// redis-server: SIGTERM while its worker applies a deferred dose.
let redis: TestRedis;
let target: FaultTarget;
beforeAll(async () => {
  redis = await startTestRedis({ externalUrl: false });
  // Its in-process app (no REDIS_URL) is not used: the fixture gives the server, the proxy and an
  // admin connection.
  target = await startFaultTarget();
}, 90_000);
afterAll(async () => {
  await target?.stop();
  await redis?.stop();
});

describe('SIGTERM with a deferred dose being applied', () => {
  it('stops taking doses, lets the one being applied finish, then closes the database and exits 0: the dose is recorded once and its receipt says applied', async () => {
    const app = vetmedProcess({
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SEED_DEMO: 'false',
      TRUST_PROXY: '127.0.0.1',
      DATABASE_URL: target.proxy.proxyUrl(target.server.appUrl),
      REDIS_URL: redis.url,
      SHUTDOWN_DRAIN_MS: '10000',
      LOAD_SHEDDING: 'off',
      ...rateLimitsOutOfTheWay,
    });
    // The test's own producer on the app's queue (same Redis, same default prefix).
    const producer = new DeferredDoseQueue(redis.url, 'vetmed:', createLogger('silent'));
    try {
      await app.start();
      const carer = await signUp(app.url, 'deferred-shutdown');
      const world = await createHouseholdWithAnimal(carer);
      // 300 ms each way between app and database: applying a dose (an access check, then a
      // transaction) takes seconds, so it is under way when the signal comes.
      target.proxy.setLatency(300);
      const key = randomUUID();
      const receiptId = await producer.defer({
        userId: carer.userId,
        regimenId: world.regimen.id,
        idempotencyKey: key,
        acceptedAt: new Date().toISOString(),
      });
      const job = async () => (await producer.queue.getJob(receiptId))!;
      const deadline = Date.now() + 10_000;
      while ((await (await job()).getState()) !== 'active' && Date.now() < deadline) await sleep(20);
      expect(await (await job()).getState()).toBe('active');
      await sleep(300);
      const code = await app.terminate();
      expect(code, app.output()).toBe(0);
      expect(app.output()).toContain('shut down cleanly');
      // Finished before the database closed: applied, not cut off, failed or sent back to the queue.
      const settled = await job();
      expect(await settled.getState()).toBe('completed');
      expect(settled.returnvalue).toMatchObject({ state: 'applied', created: true });
      target.proxy.setLatency(0);
      const [row] = await target.admin<[{ n: number }]>`
        select count(*)::int as n from administrations where idempotency_key = ${key}`;
      expect(row!.n).toBe(1);
    } finally {
      target.proxy.setLatency(0);
      await app.kill();
      await producer.queue.obliterate({ force: true }).catch(() => undefined);
      await producer.close();
    }
  }, 90_000);
});
