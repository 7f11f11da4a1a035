import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { type RetryPolicy, retryOptions, retryTimeOf } from './retry-policy.js';

const policy: RetryPolicy = { maxRetries: 3, maxWaitMs: 60_000 };

/** An error as a tRPC client receives it from the app: its `userFriendly` data in `data`. */
function serverError(userFriendly: Record<string, unknown>) {
  const error = new TRPCClientError('raw message the page never shows');
  Object.assign(error, {
    data: {
      userFriendly: {
        type: 'QUEUE_FULL',
        reason: 'shed',
        message: "We're handling a lot of requests right now.",
        suggestedActions: [],
        retryable: true,
        retryAfterMs: 2000,
        errorId: 'err_1',
        degraded: false,
        ...userFriendly,
      },
    },
  });
  return error;
}

describe('retryOptions', () => {
  const { retry, retryDelay } = retryOptions(policy);

  it('waits the server’s retryAfterMs (plus up to 20% jitter) and keeps when the retry starts, for the countdown', () => {
    const error = serverError({});
    const before = Date.now();
    const delay = retryDelay(0, error);
    expect(retry(0, error)).toBe(true);
    expect(delay).toBeGreaterThanOrEqual(2000);
    expect(delay).toBeLessThanOrEqual(2400);
    expect(retryTimeOf(error)).toBeGreaterThanOrEqual(before + delay);
  });

  it('does not retry what the server says is not retryable, nor past maxRetries, and forgets the countdown', () => {
    const refused = serverError({ type: 'VALIDATION', retryable: false, retryAfterMs: null });
    retryDelay(0, refused);
    expect(retry(0, refused)).toBe(false);
    expect(retryTimeOf(refused)).toBeUndefined();
    const busy = serverError({});
    retryDelay(3, busy);
    expect(retry(3, busy)).toBe(false);
    expect(retryTimeOf(busy)).toBeUndefined();
  });

  it('leaves a wait longer than maxWaitMs to the person', () => {
    const limited = serverError({ type: 'RATE_LIMIT', retryAfterMs: 15 * 60_000 });
    retryDelay(0, limited);
    expect(retry(0, limited)).toBe(false);
  });

  it('retries a call that got no answer (the network) from 1 s, doubling', () => {
    const lost = new TRPCClientError('Failed to fetch');
    const first = retryDelay(0, lost);
    const third = retryDelay(2, lost);
    expect(retry(0, lost)).toBe(true);
    expect(first).toBeGreaterThanOrEqual(1000);
    expect(first).toBeLessThanOrEqual(1200);
    expect(third).toBeGreaterThanOrEqual(4000);
    expect(third).toBeLessThanOrEqual(4800);
  });
});
