import { describe, expect, it } from 'vitest';
import { isInfrastructureFailure } from '../pipeline/failure-policy.js';
import { createSafeguards } from '../safeguards.js';
import { ManualClock } from '../testing/manual-clock.js';
import { classifyError } from './classify-error.js';

/**
 * Regression: the Neon proxy and connection message rules were applied to every error's message, so
 * an app's own errors read as database outages, opened the breaker and switched on read-only mode.
 */
const appErrors: Array<[string, () => unknown]> = [
  ['an AI API quota', () => new Error('you exceeded your current quota, please check your plan')],
  [
    'an upload limit',
    () => Object.assign(new Error('Upload exceeded the size limit'), { name: 'UploadError' }),
  ],
  ['an HTTP 404 of another API', () => new Error('API endpoint /v1/foo not found')],
  [
    'a push service WebSocket',
    () => Object.assign(new Error('Pusher websocket closed'), { name: 'PusherError' }),
  ],
  ['a payment provider', () => new TypeError('Stripe: Network error')],
  ['another service limit', () => new Error('Too many connections to the SMTP relay')],
  ['a bare fetch failure', () => new TypeError('fetch failed')],
];

describe('regression: ordinary app errors are not database outages', () => {
  it.each(appErrors)('%s stays INTERNAL and is no infrastructure failure', (_name, create) => {
    const classified = classifyError(create());
    expect(classified).toMatchObject({ type: 'INTERNAL', reason: 'unexpected', retryable: false });
    expect(isInfrastructureFailure(classified)).toBe(false);
  });

  it('failing with them neither opens the breaker nor switches on read-only mode', async () => {
    const safeguards = createSafeguards({ clock: new ManualClock(), retry: { maxAttempts: 1 } });
    for (let round = 0; round < 3; round++) {
      for (const [, create] of appErrors) {
        await expect(
          safeguards.run(
            async () => {
              throw create();
            },
            { operationType: 'write' },
          ),
        ).rejects.toMatchObject({ type: 'INTERNAL' });
      }
    }
    expect(safeguards.breakers.get('primary').state).toBe('CLOSED');
    expect(safeguards.readOnly.status().active).toBe(false);
    await safeguards.close();
  });

  it('the same failures from a driver still open the breaker (the test above can fail)', async () => {
    const safeguards = createSafeguards({ clock: new ManualClock(), retry: { maxAttempts: 1 } });
    for (let i = 0; i < 5; i++) {
      await safeguards
        .run(
          async () => {
            throw Object.assign(new Error("Couldn't connect to compute node"), {
              name: 'error',
              code: 'XX000',
            });
          },
          { operationType: 'write' },
        )
        .catch(() => undefined);
    }
    expect(safeguards.breakers.get('primary').state).toBe('OPEN');
    await safeguards.close();
  });
});

describe('message rules apply only where the message is a driver’s', () => {
  const classify = (error: unknown) => {
    const { type, reason, retryable } = classifyError(error);
    return { type, reason, retryable };
  };

  it('Neon proxy messages count with XX000, on a NeonDbError and in a Neon HTTP body', () => {
    const expected = { type: 'CONNECTION', reason: 'neon-compute-unreachable', retryable: true };
    expect(classify(Object.assign(new Error("Couldn't connect to compute node"), { code: 'XX000' }))).toEqual(
      expected,
    );
    expect(
      classify(Object.assign(new Error("Couldn't connect to compute node"), { name: 'NeonDbError' })),
    ).toEqual(expected);
    expect(
      classify(new Error('Server error (HTTP status 500): {"message":"Couldn\'t connect to compute node"}')),
    ).toEqual(expected);
    expect(classify(new Error("Couldn't connect to compute node"))).toMatchObject({ type: 'INTERNAL' });
  });

  it('connection words count on driver-shaped errors: a driver name, a code, an errno or a syscall', () => {
    const expected = { type: 'CONNECTION', reason: 'network-error', retryable: true };
    expect(classify(Object.assign(new Error('socket hang up'), { code: 'ERR_SOCKET_HANGUP' }))).toEqual(
      expected,
    );
    expect(classify(Object.assign(new Error('socket hang up'), { errno: -104 }))).toEqual(expected);
    expect(classify(Object.assign(new Error('socket hang up'), { syscall: 'read' }))).toEqual(expected);
    expect(classify(Object.assign(new Error('socket hang up'), { name: 'PostgresError' }))).toEqual(expected);
    expect(classify(new Error('socket hang up'))).toMatchObject({ type: 'INTERNAL' });
    expect(
      classify(Object.assign(new Error('sorry, too many clients already'), { name: 'DatabaseError' })),
    ).toEqual({ type: 'CONNECTION', reason: 'too-many-connections', retryable: true });
  });

  it("pg's own failures, plain Errors with no field, are known by their exact text only", () => {
    expect(classify(new Error('Connection terminated unexpectedly'))).toMatchObject({
      reason: 'connection-lost',
    });
    expect(classify(new Error('Connection terminated due to connection timeout'))).toMatchObject({
      reason: 'connect-timeout',
    });
    expect(classify(new Error('Cannot use a pool after calling end on the pool'))).toMatchObject({
      reason: 'client-closed',
      retryable: false,
    });
    expect(classify(new Error('Upload: Connection terminated unexpectedly by the peer'))).toMatchObject({
      type: 'INTERNAL',
    });
  });
});

describe('08P01 and XX000 have rule lists of their own', () => {
  const classify = (code: string, message: string) => {
    const { type, reason, retryable } = classifyError(
      Object.assign(new Error(message), { name: 'error', code }),
    );
    return { type, reason, retryable };
  };

  it("08P01 is transient only with PgBouncer's messages", () => {
    expect(classify('08P01', 'query_wait_timeout')).toEqual({
      type: 'CONNECTION',
      reason: 'pool-wait-timeout',
      retryable: true,
    });
    expect(classify('08P01', 'no more connections allowed (max_client_conn)')).toEqual({
      type: 'CONNECTION',
      reason: 'too-many-connections',
      retryable: true,
    });
    // A Neon proxy message under 08P01 is no PgBouncer error: a protocol violation, not retried.
    expect(classify('08P01', "Couldn't connect to compute node")).toEqual({
      type: 'DATABASE',
      reason: 'protocol-violation',
      retryable: false,
    });
    expect(classify('08P01', 'invalid frontend message type 0')).toEqual({
      type: 'DATABASE',
      reason: 'protocol-violation',
      retryable: false,
    });
  });

  it("XX000 reads Neon's proxy messages, not PgBouncer's", () => {
    expect(classify('XX000', 'query_wait_timeout')).toEqual({
      type: 'DATABASE',
      reason: 'internal-error',
      retryable: false,
    });
  });
});
