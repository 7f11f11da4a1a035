import { createSafeguards } from '@db-safeguards/core';
import { describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/index.js';
import { loadEnv } from '../src/env.js';
import { startAppServer } from '../src/server/app-server.js';
import { createLogger } from '../src/server/logger.js';
import { failure, signUp } from './app/app-client.js';
import { sharedPglite } from './support/shared-pglite.js';

// The sample app admits every tRPC call at its HTTP edge, before the body is read: a refused call
// never reaches tRPC. Shown here by a request tRPC itself would turn down before any middleware runs
// (a content type it has no parser for: 415); the edge's typed 429 comes first. (A body that is not
// JSON would not show it: tRPC reads the input lazily, after the middleware.)

const shared = sharedPglite();
const opened = shared.opened;

describe('the sample app refuses at the edge', () => {
  it('refuses a rate-limited user before the body is read, typed for the client, and it is no failure', async () => {
    const safeguards = createSafeguards(loadEnv({ RATE_LIMIT_API_MAX: '3' }).safeguards);
    opened.push(() => safeguards.close());
    const database = await createDatabase({
      config: { driver: 'pglite' },
      pglite: shared.pglite,
      safeguards,
    });
    opened.push(() => database.close());
    const app = await startAppServer({
      database,
      safeguards,
      log: createLogger('silent'),
      port: 0,
      host: '127.0.0.1',
      adminToken: 'admin-token-0123456789',
      requestTimeoutMs: 5000,
      bodyLimitBytes: 65_536,
      trustProxy: ['127.0.0.1'],
      webRoot: false,
    });
    opened.push(() => app.drain(0));
    const user = await signUp(app.url, 'edge');
    const neighbour = await signUp(app.url, 'neighbour');
    // The first call looks the token up (then it is in the session cache); the limit is 3.
    for (let call = 0; call < 3; call++) expect((await user.client.auth.me.query()).id).toBe(user.userId);

    // tRPC would answer 415 UNSUPPORTED_MEDIA_TYPE before any middleware: the edge answers first.
    const response = await fetch(`${app.url}/api/trpc/animals.update`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user.token}`,
        'x-forwarded-for': user.ip,
        'content-type': 'application/x-unheard-of',
      },
      body: 'whatever',
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(response.headers.get('x-ratelimit-limit')).toBe('3');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
    const body = (await response.json()) as {
      error: { json: { data: { userFriendly: { type: string; reason: string; retryable: boolean } } } };
    };
    expect(body.error.json.data.userFriendly).toMatchObject({
      type: 'RATE_LIMIT',
      reason: 'rate-limit',
      retryable: true,
    });

    // The real client sees the same typed refusal.
    const refused = await failure(user.client.auth.me.query());
    expect(refused.userFriendly?.type).toBe('RATE_LIMIT');
    // Another user's limit is their own, also behind the same address.
    expect((await neighbour.client.auth.me.query()).id).toBe(neighbour.userId);

    const metrics = safeguards.metrics();
    expect(metrics.operations.windowFailed).toBe(0);
    for (const breaker of Object.values(metrics.breakers)) expect(breaker.state).toBe('CLOSED');
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
  });
});
