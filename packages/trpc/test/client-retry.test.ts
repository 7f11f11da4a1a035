import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import {
  computeRetryDelay,
  getUserFriendlyError,
  retryDelay,
  safeguardsRetryLink,
  shouldRetry,
} from '../src/client/index.js';
import { type AppRouter, startFixture } from './fixture.js';

function clientWithRetries(url: string, options: Parameters<typeof safeguardsRetryLink>[0] = {}) {
  const retries: string[] = [];
  const client = createTRPCClient<AppRouter>({
    links: [
      safeguardsRetryLink<AppRouter>({
        random: () => 0,
        onRetry: ({ op, delayMs }) => retries.push(`${op.path}:${delayMs}`),
        ...options,
      }),
      httpLink({ url, transformer: superjson }),
    ],
  });
  return { client, retries };
}

describe('safeguardsRetryLink (real server over HTTP)', () => {
  it('retries a query the server marked retryable and succeeds, waiting the server retry-after', async () => {
    await using fixture = await startFixture();
    const { client, retries } = clientWithRetries(fixture.url);
    await expect(client.flaky.query()).resolves.toBe('recovered');
    expect(fixture.probes.calls.flaky).toBe(3);
    // 53300 tells the client to come back after 1 s.
    expect(retries).toEqual(['flaky:1000', 'flaky:1000']);
  });

  it('never retries a mutation that is not marked idempotent', async () => {
    await using fixture = await startFixture();
    const { client, retries } = clientWithRetries(fixture.url);
    const error = await client.writeLostConnection.mutate().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(fixture.probes.calls.writeLostConnection).toBe(1);
    expect(retries).toEqual([]);
    // The server also tells the client that retrying blindly is not safe: the outcome is unknown.
    expect(getUserFriendlyError(error)).toMatchObject({
      type: 'CONNECTION',
      reason: 'connection-reset',
      retryable: false,
    });
  });

  it('never retries an unmarked mutation, even when the server says its error is retryable', async () => {
    await using fixture = await startFixture({
      safeguards: { breakers: { 'shed-write': { openDurationMs: 50 } } },
    });
    fixture.safeguards.breakers.get('shed-write').forceOpen();
    const { client, retries } = clientWithRetries(fixture.url);
    const error = await client.shedWrite.mutate().catch((e: unknown) => e);
    // Refused before the body ran: nothing was written, so the server says a retry is safe.
    expect(getUserFriendlyError(error)).toMatchObject({ type: 'CIRCUIT_BREAKER', retryable: true });
    expect(fixture.probes.calls.shedWrite).toBeUndefined();
    expect(retries).toEqual([]);
  });

  it('retries the same mutation once it is marked idempotent', async () => {
    await using fixture = await startFixture({
      safeguards: { breakers: { 'shed-write': { openDurationMs: 50 } } },
    });
    fixture.safeguards.breakers.get('shed-write').forceOpen();
    const { client, retries } = clientWithRetries(fixture.url);
    await expect(client.shedWrite.mutate(undefined, { context: { idempotent: true } })).resolves.toBe(
      'written',
    );
    expect(fixture.probes.calls.shedWrite).toBe(1);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/^shedWrite:\d+$/);
  });

  it('a mutation refused inside its body is not retryable, even when that operation wrote nothing', async () => {
    await using fixture = await startFixture();
    const { client, retries } = clientWithRetries(fixture.url);
    const error = await client.shedInBodyWrite
      .mutate(undefined, { context: { idempotent: true } })
      .catch((e: unknown) => e);
    // The body may have written before the refused operation: only the procedure could say it is safe.
    expect(getUserFriendlyError(error)).toMatchObject({
      type: 'QUEUE_FULL',
      retryable: false,
      retryAfterMs: null,
    });
    expect(fixture.probes.calls.shedInBodyWrite).toBe(1);
    expect(retries).toEqual([]);
  });

  it('retries a mutation marked idempotent (by the call or the link options)', async () => {
    await using fixture = await startFixture();
    const { client } = clientWithRetries(fixture.url, { baseDelayMs: 10 });
    await expect(
      client.recordDose.mutate({ key: 'dose-1' }, { context: { idempotent: true } }),
    ).resolves.toEqual({ recorded: 'dose-1' });
    expect(fixture.probes.calls.recordDose).toBe(2);

    await using second = await startFixture();
    const byList = clientWithRetries(second.url, { idempotentMutations: ['recordDose'] });
    await expect(byList.client.recordDose.mutate({ key: 'dose-2' })).resolves.toEqual({ recorded: 'dose-2' });
    expect(second.probes.calls.recordDose).toBe(2);
  });

  it('stops at the deadline instead of retrying past it', async () => {
    await using fixture = await startFixture();
    const { client, retries } = clientWithRetries(fixture.url, { maxAttempts: 10, maxTotalMs: 700 });
    const started = performance.now();
    const error = await client.alwaysUnavailable.query().catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(getUserFriendlyError(error)).toMatchObject({
      type: 'QUEUE_FULL',
      retryable: true,
      retryAfterMs: 300,
    });
    // Waits of 300 ms: at 0 and ~300 ms a retry still fits in 700 ms, at ~600 ms it would not.
    expect(fixture.probes.calls.alwaysUnavailable).toBe(3);
    expect(retries).toHaveLength(2);
    expect(elapsed).toBeLessThan(1500);
  });

  it('aborts an attempt still in flight when the deadline passes', async () => {
    await using fixture = await startFixture();
    const { client } = clientWithRetries(fixture.url);
    // waitForAbort answers only when its request is aborted.
    const error = await client.waitForAbort
      .query(undefined, { context: { timeoutMs: 300 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    await expect.poll(() => fixture.probes.seen.at(-1), { timeout: 2000 }).toBe('aborted');
  });

  it('honours the AbortSignal while waiting to retry', async () => {
    await using fixture = await startFixture();
    const { client } = clientWithRetries(fixture.url, { maxAttempts: 10, maxTotalMs: 60_000 });
    const controller = new AbortController();
    const started = performance.now();
    const pending = client.alwaysUnavailable.query(undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toBeInstanceOf(TRPCClientError);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(fixture.probes.calls.alwaysUnavailable).toBe(1);
  });

  it('gives up at once when the server asks for a longer wait than maxDelayMs', async () => {
    await using fixture = await startFixture();
    // 53300 asks for 1 s; a retry after 200 ms would come back too early.
    const short = clientWithRetries(fixture.url, { maxDelayMs: 200 });
    const error = await short.client.flaky.query().catch((e: unknown) => e);
    expect(getUserFriendlyError(error)).toMatchObject({ type: 'CONNECTION', retryAfterMs: 1000 });
    expect(fixture.probes.calls.flaky).toBe(1);
    expect(short.retries).toEqual([]);

    // An open breaker asks for ~30 s, past the default cap of 10 s.
    fixture.safeguards.breakers.get('primary').forceOpen();
    const byDefault = clientWithRetries(fixture.url);
    const open = await byDefault.client.dbRead.query().catch((e: unknown) => e);
    expect(getUserFriendlyError(open)).toMatchObject({ type: 'CIRCUIT_BREAKER', retryable: true });
    expect(byDefault.retries).toEqual([]);
  });

  it('does not retry errors that are not retryable', async () => {
    await using fixture = await startFixture();
    const { client, retries } = clientWithRetries(fixture.url);
    await expect(client.boom.query('notFound')).rejects.toBeInstanceOf(TRPCClientError);
    expect(retries).toEqual([]);
  });
});

describe('TanStack Query helpers', () => {
  const withUserFriendly = (userFriendly: object) => ({
    data: { userFriendly: { type: 'CONNECTION', message: 'x', suggestedActions: [], ...userFriendly } },
  });

  it('shouldRetry follows the server verdict and a maximum', () => {
    expect(shouldRetry(0, withUserFriendly({ retryable: true }))).toBe(true);
    expect(shouldRetry(3, withUserFriendly({ retryable: true }))).toBe(false);
    expect(shouldRetry(0, withUserFriendly({ retryable: false }))).toBe(false);
    expect(shouldRetry(0, new Error('network down'))).toBe(false);
  });

  it('shouldRetry gives up when the server asks for a longer wait than maxDelayMs', () => {
    const longWait = withUserFriendly({ retryable: true, retryAfterMs: 60_000 });
    expect(shouldRetry(0, longWait)).toBe(false);
    expect(shouldRetry(0, longWait, { maxDelayMs: 60_000 })).toBe(true);
    expect(shouldRetry(0, withUserFriendly({ retryable: true, retryAfterMs: 10_000 }))).toBe(true);
  });

  it('retryDelay uses retry-after with jitter and a cap, else exponential; never sooner than the server asked', () => {
    expect(
      retryDelay(0, withUserFriendly({ retryable: true, retryAfterMs: 2000 }), {
        random: () => 0.5,
        jitter: 0.2,
      }),
    ).toBe(2200);
    expect(
      retryDelay(0, withUserFriendly({ retryable: true, retryAfterMs: 9000 }), { random: () => 0.9 }),
    ).toBe(10_000);
    expect(
      retryDelay(0, withUserFriendly({ retryable: true, retryAfterMs: 60_000 }), { random: () => 0 }),
    ).toBe(60_000);
    expect(
      computeRetryDelay(1, getUserFriendlyError(withUserFriendly({ retryable: true, retryAfterMs: 60_000 }))),
    ).toBe(undefined);
    expect(retryDelay(2, new Error('x'), { random: () => 0, baseDelayMs: 100 })).toBe(400);
  });
});
