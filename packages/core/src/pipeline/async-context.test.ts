import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { createSafeguards } from '../safeguards.js';

/** A macrotask: lets every pending promise chain run, so a call really ends after another began. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * An application's own async-local storage (a request-ID logger, a tracing span). Work the safeguards
 * start later, from another call's callback, must still see the store of the code that asked for it.
 */
const requestId = new AsyncLocalStorage<string>();

const oneSlot = () => createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });

/** Three callers, each in its own request context, each reading the store from inside its call. */
const callersInTheirOwnContexts = (safeguards: ReturnType<typeof oneSlot>) =>
  Promise.all(
    ['a', 'b', 'c'].map((id) =>
      requestId.run(id, () =>
        safeguards.run(async () => {
          await tick();
          return requestId.getStore();
        }),
      ),
    ),
  );

describe("work started later runs in its caller's async context", () => {
  it('a nested call that waited for its turn on a slot sees its own caller’s store, not the previous call’s', async () => {
    const safeguards = oneSlot();
    const seen = await safeguards.run(() => callersInTheirOwnContexts(safeguards));
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(safeguards.metrics().operations.started).toBe(1);
  });

  it('a waiting nested call whose operation ended first runs on a slot of its own, in its caller’s context', async () => {
    const safeguards = oneSlot();
    let late: Promise<string | undefined> | undefined;
    await requestId.run('outer', () =>
      safeguards.run(() => {
        void safeguards.run(tick);
        // Lined up behind the call above; the operation returns before its turn comes.
        late = requestId.run('late', () => safeguards.run(async () => requestId.getStore()));
        return 'done';
      }),
    );
    expect(await late).toBe('late');
    expect(safeguards.metrics().operations.started).toBe(2);
  });

  it('an operation that queued for a slot sees its own caller’s store once a slot frees', async () => {
    const safeguards = oneSlot();
    const seen = await callersInTheirOwnContexts(safeguards);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(safeguards.queue.stats()).toMatchObject({ peakActive: 1, processed: 3 });
  });
});
