import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { type AppRouter, type Fixture, startFixture } from './fixture.js';

/** One connection, and BATCH work shed as soon as it would have to wait. */
const saturable = {
  queue: { maxConcurrentConnections: 1, maxQueueSize: 4, shedAt: { BATCH: 0 }, timeoutMs: 2000 },
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

async function failure(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCClientError))
    throw new Error(`expected a TRPCClientError, got ${String(error)}`);
  return error as TRPCClientError<AppRouter>;
}

const client = (url: string) =>
  createTRPCClient<AppRouter>({ links: [httpLink({ url, transformer: superjson })] });

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
});
