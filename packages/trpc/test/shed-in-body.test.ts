import { createSafeguards, type LoadSample, Priority } from '@db-safeguards/core';
import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSafeguardsMiddleware, type SafeguardsMeta, safeguardsErrorFormatter } from '../src/index.js';
import { failure, type Served, serve } from './fixture.js';

// The load monitor's readings, set by hand through its sampler (the core's input for them): calm when
// the middleware admits the call, past NORMAL's mark by the time the body reaches the database.
let reading: LoadSample = { eventLoopDelayMs: 0 };
const safeguards = createSafeguards({
  retry: { maxAttempts: 1 },
  load: { sampler: { sample: () => reading }, sampleIntervalMs: 1, sustainedReadings: 1 },
});
const writes: string[] = [];
const t = initTRPC
  .meta<SafeguardsMeta>()
  .create({ transformer: superjson, errorFormatter: safeguardsErrorFormatter({ exposeStack: false }) });
const procedure = t.procedure.use(createSafeguardsMiddleware(safeguards, { defaultRateLimit: false }));
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
const router = t.router({
  /** Its first database operation meets the load. */
  create: procedure.meta({ priority: Priority.NORMAL }).mutation(async () => {
    reading = { eventLoopDelayMs: 300 };
    await pause();
    await safeguards.run(async () => writes.push('create'));
    return 'created';
  }),
  /** One write, then the load, then a second operation: already started, so not shed. */
  twoSteps: procedure.meta({ priority: Priority.NORMAL }).mutation(async () => {
    await safeguards.run(async () => writes.push('first'));
    reading = { eventLoopDelayMs: 300 };
    await pause();
    await safeguards.run(async () => writes.push('second'));
    return 'done';
  }),
});

let served: Served;
beforeAll(async () => {
  served = await serve(router, () => ({}), safeguards);
});
afterAll(() => served?.close());

const client = () =>
  createTRPCClient<typeof router>({ links: [httpLink({ url: served.url, transformer: superjson })] });

describe('a mutation shed for load at its first database operation', () => {
  it('is retryable, with a Retry-After: nothing of it ran in the database', async () => {
    reading = { eventLoopDelayMs: 0 };
    writes.length = 0;
    const error = await failure(client().create.mutate());
    expect(error.data?.userFriendly).toMatchObject({
      type: 'QUEUE_FULL',
      reason: 'overloaded',
      retryable: true,
      retryAfterMs: 1000,
    });
    expect(writes).toEqual([]);
  });

  it('a call whose work has started is not shed by the load that comes after', async () => {
    reading = { eventLoopDelayMs: 0 };
    writes.length = 0;
    expect(await client().twoSteps.mutate()).toBe('done');
    expect(writes).toEqual(['first', 'second']);
  });
});
