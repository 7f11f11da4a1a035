import { setTimeout as sleep } from 'node:timers/promises';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../src/start-vetmed.js';

/**
 * REDIS_URL switches on one connection budget and one set of rate limits for every instance of the
 * sample app (issue 14); without it the app runs as before (the other app tests).
 */
let server: TestPostgres;
let redis: TestRedis;
const apps: RunningVetmed[] = [];

beforeAll(async () => {
  [server, redis] = await Promise.all([
    startTestPostgres({ appRoleConnectionLimit: 8 }),
    startTestRedis({ externalUrl: false }),
  ]);
  // A Redis up for less than a lease starts by learning; not the subject here.
  await sleep(1000);
}, 60_000);

afterAll(async () => {
  for (const app of apps) await app.stop();
  await redis?.stop();
  await server?.stop();
});

async function instance(extra: Record<string, string> = {}) {
  const config = loadEnv({
    DATABASE_URL: server.appUrl,
    DB_DRIVER: 'postgres',
    PORT: '0',
    SEED_DEMO: 'false',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.keyPrefix,
    RATE_LIMIT_API_MAX: '10',
    // The shared budget and limits are under test, not this busy machine's event loop.
    LOAD_SHEDDING: 'off',
    ...extra,
  });
  const app = await startVetmed(config, { log: createLogger('silent') });
  apps.push(app);
  return app;
}

async function waitForMode(app: RunningVetmed, mode: string): Promise<void> {
  const start = Date.now();
  while (app.safeguards.metrics().capacity.shared?.mode !== mode) {
    if (Date.now() - start > 15_000)
      throw new Error(`still ${app.safeguards.metrics().capacity.shared?.mode}, not ${mode}`);
    await sleep(50);
  }
}

describe('the sample app with REDIS_URL', () => {
  it('two instances share one budget and one rate limit; Redis stopped, health says degraded (206) and calls go on; back, shared again', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    // A Redis up for less than a lease (5 s) starts by learning, then shares.
    for (const app of [a!, b!]) await waitForMode(app, 'shared');
    for (const app of [a, b]) {
      expect(app!.safeguards.metrics().capacity.shared).toMatchObject({ mode: 'shared', capacity: 8 });
    }
    // One user's 'api' limit of 10 a minute, spread over both instances: 10 admitted, not 20.
    let admitted = 0;
    for (let i = 0; i < 30; i++) {
      const app = i % 2 === 0 ? a! : b!;
      await app.safeguards.admit({ policy: 'api', userId: 'one-user' }).then(
        () => admitted++,
        () => undefined,
      );
    }
    expect(admitted).toBe(10);

    await redis.stopServer();
    try {
      await waitForMode(a!, 'fallback');
      const health = await fetch(`${a!.url}/api/health`);
      expect(health.status).toBe(206);
      // The fallback limit: the capacity shared by the two instances Redis last counted.
      expect(a!.safeguards.metrics().capacity).toMatchObject({ effective: 4, limitedBy: 'shared' });
      // The database is still served, within the fallback's limit.
      expect((await fetch(`${a!.url}/api/ready`)).status).toBe(200);
      await a!.safeguards.run(() => Promise.resolve('ok'), { operationType: 'read' });
    } finally {
      await redis.startServer();
    }
    await waitForMode(a!, 'shared');
    expect((await fetch(`${a!.url}/api/health`)).status).toBe(200);
  }, 60_000);
});
