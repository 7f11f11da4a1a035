import { createSafeguards, type SafeguardsOptions } from '@db-safeguards/core';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/env.js';
import type { AppServerOptions } from '../../src/server/app-server.js';
import { withTokenPolicy } from '../../src/trpc/token-policy.js';
import { signUp } from '../app/app-client.js';
import { sharedPglite } from '../support/shared-pglite.js';

// The reproduction against a real sample-app server over HTTP: one request of ~2,000 calls
// with a bogus bearer token used to make /api/health answer 503 for five minutes and quarter every
// user's rate limit.

const shared = sharedPglite();

async function serve(options: SafeguardsOptions, server: Partial<AppServerOptions> = {}) {
  const safeguards = createSafeguards(options);
  const app = await shared.serve(safeguards, {
    adminToken: 'admin-token-0123456789',
    trustProxy: ['127.0.0.1'],
    ...server,
  });
  return { app, safeguards };
}

const bogusToken = 'N'.repeat(43);

interface ErrorData {
  httpStatus: number;
  userFriendly: { type: string; retryable: boolean };
}

/** The error data of each call of a tRPC response (superjson wraps it in `json`), one per call. */
async function errorsOf(response: Response): Promise<Array<ErrorData | undefined>> {
  const body = (await response.json()) as unknown;
  const entries = Array.isArray(body) ? body : [body];
  return entries.map((entry: { error?: { json?: { data: ErrorData }; data?: ErrorData } }) =>
    entry.error === undefined ? undefined : (entry.error.json?.data ?? entry.error.data),
  );
}
const attackerIp = '203.0.113.66';

function batchUrl(base: string, calls: number, procedure = 'auth.me'): string {
  return `${base}/api/trpc/${Array(calls).fill(procedure).join(',')}?batch=1`;
}

async function apiLimitOf(base: string, token: string, ip: string): Promise<string | null> {
  const response = await fetch(`${base}/api/trpc/auth.me`, {
    headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip },
  });
  expect(response.status).toBe(200);
  return response.headers.get('x-ratelimit-limit');
}

describe('one request must not take the app down (issue 11)', () => {
  it('the reproduction: 1,990 calls with a bogus token are refused whole; health stays 200, others keep their limit', async () => {
    const { app, safeguards } = await serve(loadEnv({}).safeguards);
    const user = await signUp(app.url, 'bystander');
    expect(await apiLimitOf(app.url, user.token, user.ip)).toBe('100');
    const started = safeguards.metrics().operations.started;

    const flood = await fetch(batchUrl(app.url, 1990), {
      headers: { authorization: `Bearer ${bogusToken}`, 'x-forwarded-for': attackerIp },
    });
    expect(flood.status).toBe(400);
    const [error] = await errorsOf(flood);
    expect(error!.userFriendly.type).toBe('VALIDATION');
    // Not one database operation for it.
    expect(safeguards.metrics().operations.started).toBe(started);

    const health = await fetch(`${app.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await apiLimitOf(app.url, user.token, user.ip)).toBe('100');
  });

  it('eight batches of 25 calls at once with a bogus token: one lookup per request, typed 401/429, health 200, others untouched', async () => {
    const { app, safeguards } = await serve(loadEnv({}).safeguards);
    const user = await signUp(app.url, 'bystander');
    // Behind the attacker's address (a shared NAT), with a token never looked up yet.
    const neighbour = await signUp(app.url, 'neighbour');
    const before = safeguards.metrics().operations.started;
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(batchUrl(app.url, 25), {
          headers: { authorization: `Bearer ${bogusToken}`, 'x-forwarded-for': attackerIp },
        }),
      ),
    );
    const codes = new Map<number, number>();
    for (const response of responses) {
      expect(response.status).not.toBe(500);
      for (const error of await errorsOf(response)) {
        const status = error!.httpStatus;
        codes.set(status, (codes.get(status) ?? 0) + 1);
      }
    }
    // 200 calls: each request's token is looked up once, found unknown (401 for its calls) and charged
    // once to the IP's unknown-token limit (429 past it).
    expect([...codes.keys()].sort()).toEqual([401, 429].filter((code) => codes.has(code)));
    expect(codes.get(500)).toBeUndefined();
    expect((codes.get(401) ?? 0) + (codes.get(429) ?? 0)).toBe(200);
    // At most one session lookup per request (there were 8), not one per call.
    expect(safeguards.metrics().operations.started - before).toBeLessThanOrEqual(8);

    const health = await fetch(`${app.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await apiLimitOf(app.url, user.token, user.ip)).toBe('100');
    expect(safeguards.rateLimiter.effectiveLimit('api', { userId: user.userId })).toBe(100);
    // The neighbour's limits are its own: the flood from its address did not use them up.
    expect(await apiLimitOf(app.url, neighbour.token, attackerIp)).toBe('100');
    // The refusals are summarised apart: the admin error log is not flooded.
    const errors = (await (
      await fetch(`${app.url}/api/admin/errors`, {
        headers: { authorization: 'Bearer admin-token-0123456789' },
      })
    ).json()) as { errors: unknown[]; refusals: Array<{ type: string; count: number }> };
    expect(errors.errors.length).toBeLessThan(5);
    expect(errors.refusals.length).toBeLessThan(5);
  });

  it('a call shed while its token is looked up answers 503 with Retry-After, typed, never 500', async () => {
    const { app, safeguards } = await serve(
      withTokenPolicy({ queue: { maxConcurrentConnections: 2, reservedForCritical: 1, maxQueueSize: 0 } }),
    );
    // Every ordinary slot busy: the lookup of an unknown token cannot get one and is shed.
    let release: () => void = () => undefined;
    const held = safeguards.run(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
      { operationType: 'read' },
    );
    try {
      const response = await fetch(`${app.url}/api/trpc/auth.me`, {
        headers: { authorization: `Bearer ${'u'.repeat(40)}`, 'x-forwarded-for': '192.0.2.50' },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      const [error] = await errorsOf(response);
      expect(error!.userFriendly).toMatchObject({ type: 'QUEUE_FULL', retryable: true });
    } finally {
      release();
      await held;
    }
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
  });
});
