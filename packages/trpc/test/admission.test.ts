import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { type AppRouter, type Fixture, failure, startFixture } from './fixture.js';

/** One connection, and BATCH and LOW work shed as soon as it would have to wait. */
const saturable = {
  queue: { maxConcurrentConnections: 1, maxQueueSize: 4, shedAt: { BATCH: 0, LOW: 0 }, timeoutMs: 2000 },
};

/** Holds the only connection until the returned function is called. */
async function holdTheConnection(fixture: Fixture): Promise<() => Promise<void>> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = fixture.safeguards.run(() => gate, { operationType: 'read' });
  await expect.poll(() => fixture.safeguards.queue.active).toBe(1);
  return async () => {
    release();
    await held;
  };
}

const client = (url: string, user = 'someone') =>
  createTRPCClient<AppRouter>({
    links: [httpLink({ url, transformer: superjson, headers: { 'x-user-id': user } })],
  });

describe('admission (real HTTP, superjson)', () => {
  it('a BATCH call is refused at once when the budget is saturated, without running its body', async () => {
    await using fixture = await startFixture({ safeguards: saturable });
    const release = await holdTheConnection(fixture);
    try {
      const error = await failure(client(fixture.url).batchJob.query());
      expect(error.data?.httpStatus).toBe(503);
      expect(error.data?.userFriendly).toMatchObject({ type: 'QUEUE_FULL', reason: 'shed', retryable: true });
      expect(fixture.probes.calls.batchJob).toBeUndefined();
      expect(fixture.safeguards.queue.stats().queued).toBe(0);
    } finally {
      await release();
    }
    // With the connection free again, the same call runs at BATCH.
    await expect(client(fixture.url).batchJob.query()).resolves.toBe(0);
  });

  it('a LOW call is refused at once too, and is run once the budget has room', async () => {
    await using fixture = await startFixture({ safeguards: saturable });
    const release = await holdTheConnection(fixture);
    try {
      const error = await failure(client(fixture.url).lowReport.query());
      expect(error.data?.userFriendly).toMatchObject({ type: 'QUEUE_FULL', reason: 'shed' });
      expect(fixture.probes.calls.lowReport).toBeUndefined();
    } finally {
      await release();
    }
    await expect(client(fixture.url).lowReport.query()).resolves.toBe('report');
  });

  it('checks in order: rate limit, then breaker, then load shedding', async () => {
    await using fixture = await startFixture({ safeguards: saturable });
    const release = await holdTheConnection(fixture);
    const breaker = fixture.safeguards.breakers.get('primary');
    breaker.forceOpen();
    const typeOf = async (user: string) =>
      (await failure(client(fixture.url, user).lowReport.query())).data?.userFriendly.type;
    try {
      // Breaker open and budget saturated: the rate limit is charged first...
      expect(await typeOf('alice')).toBe('CIRCUIT_BREAKER');
      expect(await typeOf('alice')).toBe('CIRCUIT_BREAKER');
      // ...so once it is spent, it is what refuses.
      expect(await typeOf('alice')).toBe('RATE_LIMIT');
      // Within its limit, the open breaker refuses before shedding is looked at.
      expect(await typeOf('bob')).toBe('CIRCUIT_BREAKER');
      breaker.reset();
      // Breaker closed: the saturated budget sheds it.
      expect(await typeOf('bob')).toBe('QUEUE_FULL');
      expect(fixture.probes.calls.lowReport).toBeUndefined();
    } finally {
      breaker.reset();
      await release();
    }
  });
});
