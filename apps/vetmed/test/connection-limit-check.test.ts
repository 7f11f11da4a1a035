import { PassThrough } from 'node:stream';
import { ConnectionLimitExceededError } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { startVetmed } from '../src/start-vetmed.js';

/** The start-up check of issue 14: a budget of 8 on a role whose CONNECTION LIMIT is 4. */
let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 4 });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

function capturedLogger() {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
  });
  return { log: createLogger('info', stream), lines };
}

const env = (extra: Record<string, string> = {}) =>
  loadEnv({ DATABASE_URL: server.appUrl, DB_DRIVER: 'postgres', PORT: '0', SEED_DEMO: 'false', ...extra });

describe('start-up connection limit check (postgres.js)', () => {
  it('logs a typed warning when the budget exceeds the role limit, and starts', async () => {
    const { log, lines } = capturedLogger();
    const app = await startVetmed(env(), { log });
    try {
      const warning = lines.find((line) => line.code === 'budget-exceeds-connection-limit');
      expect(warning).toMatchObject({ level: 40, budget: 8, limit: 4, limitedBy: 'role', roleLimit: 4 });
      expect(String(warning!.msg)).toMatch(/budget of 8/);
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('refuses to start with CONNECTION_LIMIT_CHECK=error, and starts when the budget fits', async () => {
    const { log } = capturedLogger();
    await expect(startVetmed(env({ CONNECTION_LIMIT_CHECK: 'error' }), { log })).rejects.toBeInstanceOf(
      ConnectionLimitExceededError,
    );
    const fits = capturedLogger();
    const app = await startVetmed(env({ CONNECTION_LIMIT_CHECK: 'error', QUEUE_MAX_CONNECTIONS: '4' }), {
      log: fits.log,
    });
    await app.stop();
    expect(fits.lines.some((line) => line.code === 'budget-exceeds-connection-limit')).toBe(false);
  }, 60_000);
});
