import { createSafeguards } from '@db-safeguards/core';
import { describe, expect, it } from 'vitest';
import { checkRequest, withConnectionMiddleware } from '../src/index.js';

describe('withConnectionMiddleware (routes outside tRPC)', () => {
  const safeguards = () =>
    createSafeguards({
      rateLimits: { policies: { webhook: { limit: 1, windowMs: 60_000 } }, adaptive: false },
    });

  it('returns null to continue, with rate-limit headers available from checkRequest', async () => {
    const sg = safeguards();
    const request = new Request('http://localhost/api/export', { method: 'GET' });
    const check = await checkRequest(request, {
      safeguards: sg,
      policy: 'webhook',
      identify: () => ({ ip: '198.51.100.1' }),
    });
    expect(check.response).toBeNull();
    expect(check.headers).toMatchObject({ 'X-RateLimit-Limit': '1', 'X-RateLimit-Remaining': '0' });
  });

  it('returns a 429 JSON response with Retry-After and userFriendly when rate limited', async () => {
    const sg = safeguards();
    const options = { safeguards: sg, policy: 'webhook', identify: () => ({ ip: '198.51.100.2' }) };
    expect(
      await withConnectionMiddleware(new Request('http://localhost/hook', { method: 'POST' }), options),
    ).toBeNull();
    const refused = await withConnectionMiddleware(
      new Request('http://localhost/hook', { method: 'POST' }),
      options,
    );
    expect(refused?.status).toBe(429);
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused?.headers.get('x-ratelimit-remaining')).toBe('0');
    const body = (await refused!.json()) as { error: { userFriendly: { type: string; retryable: boolean } } };
    expect(body.error.userFriendly).toMatchObject({ type: 'RATE_LIMIT', retryable: true });
  });

  it('returns 503 while the breaker is open, and refuses writes in read-only mode', async () => {
    const sg = safeguards();
    sg.breakers.get('primary').forceOpen();
    const read = await withConnectionMiddleware(new Request('http://localhost/list'), {
      safeguards: sg,
      policy: false,
    });
    expect(read?.status).toBe(503);
    expect(read?.headers.get('retry-after')).toBe('30');
    const write = await withConnectionMiddleware(new Request('http://localhost/save', { method: 'POST' }), {
      safeguards: sg,
      policy: false,
    });
    const body = (await write!.json()) as { error: { userFriendly: { reason: string; degraded: boolean } } };
    expect(write?.status).toBe(503);
    expect(body.error.userFriendly).toMatchObject({ reason: 'read-only', degraded: true });
  });
});
