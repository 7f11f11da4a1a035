import { Writable } from 'node:stream';
import { createSafeguards } from '@db-safeguards/core';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { failure, signUp } from './app/app-client.js';
import { sharedPglite } from './support/shared-pglite.js';

// The sample app admits every tRPC call at its HTTP edge, before the body is read: a refused call
// never reaches tRPC. Shown here by a request tRPC itself would turn down before any middleware runs
// (a content type it has no parser for: 415); the edge's typed 429 comes first. (A body that is not
// JSON would not show it: tRPC reads the input lazily, after the middleware.)

const shared = sharedPglite();

/** The sample app on the shared PGlite with an `api` limit of 3 a minute. */
async function startApp(options: Partial<Parameters<typeof shared.serve>[1]> = {}) {
  const safeguards = createSafeguards(loadEnv({ RATE_LIMIT_API_MAX: '3' }).safeguards);
  const app = await shared.serve(safeguards, {
    adminToken: 'admin-token-0123456789',
    trustProxy: ['127.0.0.1'],
    webRoot: false,
    ...options,
  });
  return { app, safeguards };
}

/** A request tRPC would answer 415 before any middleware: only the edge can refuse it. */
function unparseable(url: string, user: { token: string; ip: string }) {
  return fetch(`${url}/api/trpc/animals.update`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${user.token}`,
      'x-forwarded-for': user.ip,
      'content-type': 'application/x-unheard-of',
    },
    body: 'whatever',
  });
}

describe('the sample app refuses at the edge', () => {
  it('refuses a rate-limited user before the body is read, typed for the client, and it is no failure', async () => {
    const { app, safeguards } = await startApp();
    const user = await signUp(app.url, 'edge');
    const neighbour = await signUp(app.url, 'neighbour');
    // The first call looks the token up (then it is in the session cache); the limit is 3.
    for (let call = 0; call < 3; call++) expect((await user.client.auth.me.query()).id).toBe(user.userId);

    // tRPC would answer 415 UNSUPPORTED_MEDIA_TYPE before any middleware: the edge answers first.
    const response = await unparseable(app.url, user);
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

  it('a flood of refusals makes a few log lines a second and one count of the rest, nothing lost', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const { app } = await startApp({ log: createLogger('warn', stream), refusalLinesPerSecond: 3 });
    const user = await signUp(app.url, 'edge-flood');
    for (let call = 0; call < 3; call++) await user.client.auth.me.query();
    const flood = 150;
    const statuses = await Promise.all(
      Array.from({ length: flood }, async () => (await unparseable(app.url, user)).status),
    );
    expect(statuses).toEqual(Array(flood).fill(429));
    // Closing the server writes the count of the refusals not logged one by one.
    await app.drain(0);
    const full = lines.filter((line) => line.msg === 'procedure failed');
    const summaries = lines.filter((line) => line.msg === 'refused requests not logged one by one');
    // Three a second: the flood took well under the seconds it would need to log more than a few.
    expect(full.length).toBeGreaterThanOrEqual(3);
    expect(full.length).toBeLessThan(flood / 5);
    expect(full[0]).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      path: 'animals.update',
      error: { type: 'RATE_LIMIT', reason: 'rate-limit' },
      requestId: expect.any(String),
    });
    const summarised = summaries.reduce((sum, line) => sum + (line.refusedRequests as number), 0);
    expect(full.length + summarised).toBe(flood);
    const byKind = summaries.reduce(
      (sum, line) => sum + (line.byKind as Record<string, number>)['RATE_LIMIT:rate-limit']!,
      0,
    );
    expect(byKind).toBe(summarised);
  });

  it('still refuses a user at the edge once their session is due for a new lookup, and forgets a token a lookup finds gone', async () => {
    const { app } = await startApp({ sessionTtlMs: 100 });
    const user = await signUp(app.url, 'edge-stale');
    for (let call = 0; call < 3; call++) expect((await user.client.auth.me.query()).id).toBe(user.userId);
    // Past the cache's 100 ms the token needs a new lookup; the edge still knows whose it was.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const response = await unparseable(app.url, user);
    expect(response.status).toBe(429);
    expect(response.headers.get('x-ratelimit-remaining')).toBe('0');

    // A token signed out (here, as on another instance: its row gone) is found gone by the next lookup
    // and no longer charged to its old user: the edge leaves it to tRPC (415) and the lookup (401).
    const other = await signUp(app.url, 'edge-signed-out');
    expect((await other.client.auth.me.query()).id).toBe(other.userId);
    await shared.pglite.query('delete from auth_tokens where user_id = $1', [other.userId]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await unparseable(app.url, other)).status).toBe(415);
    expect((await failure(other.client.auth.me.query())).status).toBe(401);
    expect((await unparseable(app.url, other)).status).toBe(415);
  });
});
