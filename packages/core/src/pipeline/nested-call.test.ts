import { describe, expect, it } from 'vitest';
import type { SafeguardsOptions } from '../config/safeguards-options.js';
import { createSafeguards } from '../safeguards.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';

const pgError = (code: string, message = 'db error') =>
  Object.assign(new Error(message), { name: 'error', code });

/** A macrotask: lets every pending promise chain and driver-like callback run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Counts leaf queries running at once, overall and per enclosing operation. */
function leafCounter() {
  let running = 0;
  let peak = 0;
  const order: string[] = [];
  return {
    query: (name: string) => async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(name);
      await tick();
      running--;
      return name;
    },
    get peak() {
      return peak;
    },
    order,
  };
}

function setup(options: SafeguardsOptions = {}) {
  const clock = new ManualClock();
  const safeguards = createSafeguards({ clock, random: () => 0.5, ...options });
  return { clock, safeguards };
}

describe('nested calls on a held slot', () => {
  it('run on a pooled driver: Promise.all of nested runs takes turns, so real work stays within the budget', async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 2, reservedForCritical: 0 } });
    const leaves = leafCounter();
    const transaction = (id: number) =>
      safeguards.run(() =>
        Promise.all(Array.from({ length: 5 }, (_, i) => safeguards.run(leaves.query(`${id}.${i}`)))),
      );
    const results = await Promise.all([transaction(0), transaction(1)]);
    expect(results[1]).toEqual(['1.0', '1.1', '1.2', '1.3', '1.4']);
    // Two slots, so at most two queries at once: one per slot (it was ten before).
    expect(leaves.peak).toBe(2);
    expect(leaves.order.filter((name) => name.startsWith('0.'))).toEqual(['0.0', '0.1', '0.2', '0.3', '0.4']);
    expect(safeguards.queue.stats()).toMatchObject({ peakActive: 2, active: 0, processed: 2 });
  });

  it('one slot runs one nested call at a time, first come first served', async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const leaves = leafCounter();
    await safeguards.run(() =>
      Promise.all(['a', 'b', 'c', 'd'].map((name) => safeguards.run(leaves.query(name)))),
    );
    expect(leaves.peak).toBe(1);
    expect(leaves.order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('calls made inside a running nested call are its children: nested-of-nested never deadlocks', async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const leaves = leafCounter();
    const result = await safeguards.run(() =>
      Promise.all(
        [1, 2, 3].map((i) =>
          safeguards.run(() =>
            Promise.all(
              [1, 2].map((j) =>
                safeguards.run(() => Promise.all([safeguards.run(leaves.query(`${i}.${j}`))])),
              ),
            ),
          ),
        ),
      ),
    );
    expect(result).toEqual([
      [['1.1'], ['1.2']],
      [['2.1'], ['2.2']],
      [['3.1'], ['3.2']],
    ]);
    expect(leaves.peak).toBe(1);
    expect(safeguards.metrics().operations.started).toBe(1);
  });

  it('scope.run takes turns too (runtimes without AsyncLocalStorage)', async () => {
    const safeguards = createSafeguards({
      queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
      ambientStorage: false,
    });
    const leaves = leafCounter();
    await safeguards.run((scope) =>
      Promise.all(['a', 'b', 'c'].map((name) => scope.run(leaves.query(name)))),
    );
    expect(leaves.peak).toBe(1);
  });

  it("the outer scope's run, called inside a nested call on it (at any depth), runs as that call's child", async () => {
    const { safeguards, clock } = setup({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const leaves = leafCounter();
    let result: unknown;
    const outer = safeguards
      .run(
        (tx) =>
          tx.run(async () => {
            const a = await tx.run(leaves.query('a'));
            const b = await tx.run(() => tx.run(() => tx.run(leaves.query('b'))));
            const rest = await Promise.all([tx.run(leaves.query('c')), tx.run(leaves.query('d'))]);
            return [a, b, ...rest];
          }),
        { timeoutMs: 10_000 },
      )
      .then((value) => {
        result = value;
      });
    for (let i = 0; i < 10 && result === undefined; i++) await tick();
    // Lined up on `tx` behind the call waiting for them, they would only end at the deadline.
    expect(result).toEqual(['a', 'b', 'c', 'd']);
    expect(leaves.peak).toBe(1);
    expect(safeguards.metrics().operations.started).toBe(1);
    await clock.advance(10_000);
    await outer;
  });

  it("the outer scope's run from the operation itself still takes turns behind a running nested call", async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const leaves = leafCounter();
    await safeguards.run((tx) =>
      Promise.all([
        tx.run(() => Promise.all([safeguards.run(leaves.query('a.1')), safeguards.run(leaves.query('a.2'))])),
        tx.run(leaves.query('b')),
      ]),
    );
    expect(leaves.peak).toBe(1);
    expect(leaves.order).toEqual(['a.1', 'a.2', 'b']);
  });

  it('without AsyncLocalStorage, work made on the scope a nested call was handed runs as its child', async () => {
    const safeguards = createSafeguards({
      queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
      ambientStorage: false,
    });
    const leaves = leafCounter();
    const result = await safeguards.run((tx) =>
      Promise.all([
        tx.run(async (inner) => [
          await inner.run(leaves.query('a.1')),
          await inner.run((deeper) => deeper.run(leaves.query('a.2'))),
        ]),
        tx.run(leaves.query('b')),
      ]),
    );
    expect(result).toEqual([['a.1', 'a.2'], 'b']);
    expect(leaves.peak).toBe(1);
    expect(leaves.order).toEqual(['a.1', 'a.2', 'b']);
  });

  it('keeps the slot while a nested call started before its operation settled still runs', async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const second = deferred<string>();
    let thirdRan = false;
    const outer = safeguards.run(() =>
      Promise.all([
        safeguards.run(() => Promise.reject(pgError('23505'))),
        safeguards.run(() => second.promise),
        safeguards.run(async () => {
          thirdRan = true;
          return 'third';
        }),
      ]),
    );
    await expect(outer).rejects.toMatchObject({ type: 'CONFLICT' });
    // The first call's failure ended the operation while the second call was running on its slot.
    expect(safeguards.queue.active).toBe(1);
    expect(thirdRan).toBe(false);
    second.resolve('second');
    await tick();
    // The slot went back when the second call ended; the third, still waiting, ran on a slot of its own.
    expect(thirdRan).toBe(true);
    expect(safeguards.queue.stats()).toMatchObject({ active: 0, peakActive: 1, abandoned: 0 });
    expect(safeguards.metrics().operations.started).toBe(2);
  });

  it('a run inside a withContext block that outlived its operation takes a slot of its own (no endless recursion)', async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const resume = deferred();
    let later: Promise<unknown> | undefined;
    await safeguards.run(async () => {
      later = safeguards.withContext({ label: 'block' }, async () => {
        await resume.promise;
        return safeguards.run(async (scope) => [safeguards.queue.active, scope.attempt, scope.context.label]);
      });
    });
    resume.resolve();
    expect(await later).toEqual([1, 1, 'block']);
    expect(safeguards.queue.stats().processed).toBe(2);
    expect(safeguards.currentScope()).toBeUndefined();
  });

  it('work left over from a failed attempt never runs on the retry slot', async () => {
    const safeguards = createSafeguards({
      queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
      retry: { baseDelayMs: 1, jitter: 'none' },
    });
    const events: string[] = [];
    const leftoverMay = deferred();
    const secondStarted = deferred();
    const secondMayEnd = deferred();
    let leftover: Promise<unknown> | undefined;
    let attempt = 0;
    const pending = safeguards.run(
      async () => {
        attempt++;
        if (attempt === 1) {
          leftover = leftoverMay.promise.then(() =>
            safeguards.run(async (scope) => events.push(`leftover ran as attempt ${scope.attempt}`)),
          );
          throw pgError('57P01', 'terminating connection due to administrator command');
        }
        events.push('attempt 2 started');
        secondStarted.resolve();
        await secondMayEnd.promise;
        events.push('attempt 2 ends');
      },
      { operationType: 'read' },
    );
    await secondStarted.promise;
    leftoverMay.resolve();
    await tick();
    secondMayEnd.resolve();
    await pending;
    await leftover;
    expect(events).toEqual(['attempt 2 started', 'attempt 2 ends', 'leftover ran as attempt 1']);
    expect(safeguards.queue.stats().peakActive).toBe(1);
  });

  describe('its own context', () => {
    it('an aborted signal answers the nested call with TIMEOUT; the slot stays with the operation', async () => {
      const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
      const controller = new AbortController();
      const hanging = deferred<string>();
      let innerSignal: AbortSignal | undefined;
      const outer = safeguards.run(async () => {
        const nested = safeguards.run(
          (scope) => {
            innerSignal = scope.signal;
            return hanging.promise;
          },
          { signal: controller.signal },
        );
        await tick();
        controller.abort();
        await expect(nested).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
        expect(innerSignal?.aborted).toBe(true);
        expect(safeguards.queue.active).toBe(1);
        hanging.resolve('late');
        return safeguards.run(async () => 'next query');
      });
      await expect(outer).resolves.toBe('next query');
      expect(safeguards.queue.active).toBe(0);
    });

    it('an already-aborted signal or a passed deadline refuses the nested call without running it', async () => {
      const { safeguards, clock } = setup();
      let ran = 0;
      await safeguards.run(async () => {
        const op = async () => {
          ran++;
        };
        await expect(safeguards.run(op, { signal: AbortSignal.abort() })).rejects.toMatchObject({
          type: 'TIMEOUT',
          reason: 'aborted',
        });
        await expect(safeguards.run(op, { deadline: clock.now() - 1 })).rejects.toMatchObject({
          type: 'TIMEOUT',
          reason: 'deadline',
        });
        await expect(safeguards.run(op, { timeoutMs: 0 })).rejects.toMatchObject({
          type: 'TIMEOUT',
          reason: 'deadline',
        });
      });
      expect(ran).toBe(0);
    });

    it('its timeoutMs answers it with TIMEOUT at its own deadline, and the next call waits until it really ends', async () => {
      const { safeguards, clock } = setup({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
      const slowQuery = deferred<string>();
      let nextStarted = false;
      let slow: Promise<string> | undefined;
      let next: Promise<string> | undefined;
      const outer = safeguards.run(
        async () => {
          slow = safeguards.run(() => slowQuery.promise, { timeoutMs: 100 });
          next = safeguards.run(async () => {
            nextStarted = true;
            return 'next';
          });
          return Promise.allSettled([slow, next]);
        },
        { timeoutMs: 10_000 },
      );
      await clock.advance(100);
      await expect(slow).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      // The timed-out query still runs on the connection: the next one must not start beside it.
      expect(nextStarted).toBe(false);
      expect(safeguards.queue.active).toBe(1);
      slowQuery.resolve('late');
      await flushMicrotasks();
      expect(nextStarted).toBe(true);
      await expect(next).resolves.toBe('next');
      await outer;
      expect(safeguards.queue.active).toBe(0);
    });

    it('calls made by an operation that already got TIMEOUT are refused without running', async () => {
      const { safeguards, clock } = setup({ queue: { abandonAfterMs: 60_000 } });
      const resume = deferred();
      const ran: string[] = [];
      const outcomes: unknown[] = [];
      let scopeSignal: AbortSignal | undefined;
      const outer = safeguards.run(
        async (scope) => {
          scopeSignal = scope.signal;
          await resume.promise;
          const query = (name: string) => async () => {
            ran.push(name);
            return name;
          };
          outcomes.push(await safeguards.run(query('ambient')).catch((error: unknown) => error));
          outcomes.push(await scope.run(query('explicit')).catch((error: unknown) => error));
          outcomes.push(
            await safeguards
              .withContext({ label: 'block' }, () => safeguards.run(query('in a block')))
              .catch((error: unknown) => error),
          );
        },
        { timeoutMs: 1000 },
      );
      outer.catch(() => undefined);
      await clock.advance(1000);
      await expect(outer).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      expect(scopeSignal?.aborted).toBe(true);
      expect(safeguards.queue.active).toBe(1); // the operation runs on, on its slot
      resume.resolve();
      await flushMicrotasks();
      expect(ran).toEqual([]);
      expect(outcomes).toHaveLength(3);
      for (const outcome of outcomes) expect(outcome).toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
    });

    it('calls made by a nested call that already got TIMEOUT, or by an aborted operation, are refused', async () => {
      const { safeguards, clock } = setup({ queue: { abandonAfterMs: 60_000 } });
      const resumeNested = deferred();
      const resumeOuter = deferred();
      const controller = new AbortController();
      const ran: string[] = [];
      const query = (name: string) => async () => {
        ran.push(name);
        return name;
      };
      let fromNested: unknown;
      let fromAborted: unknown;
      const outer = safeguards.run(
        async () => {
          const nested = safeguards.run(
            async () => {
              await resumeNested.promise;
              fromNested = await safeguards
                .run(query('inside the nested call'))
                .catch((error: unknown) => error);
            },
            { timeoutMs: 100 },
          );
          await expect(nested).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
          await resumeOuter.promise;
          fromAborted = await safeguards.run(query('after the abort'), {}).catch((error: unknown) => error);
        },
        { signal: controller.signal },
      );
      outer.catch(() => undefined);
      await clock.advance(100);
      resumeNested.resolve();
      await flushMicrotasks();
      expect(fromNested).toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      controller.abort();
      await expect(outer).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
      resumeOuter.resolve();
      await flushMicrotasks();
      expect(fromAborted).toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
      expect(ran).toEqual([]);
    });

    it('a call inside a withContext block whose shorter deadline has passed is refused before the timer fires', async () => {
      const { safeguards, clock } = setup();
      let ran = false;
      const outcome = await safeguards.run(async () =>
        safeguards.withContext({ timeoutMs: 100 }, async () => {
          clock.set(clock.now() + 100); // time passes; no timer has fired yet
          return safeguards
            .run(async () => {
              ran = true;
            })
            .catch((error: unknown) => error);
        }),
      );
      expect(outcome).toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      expect(ran).toBe(false);
    });

    it('a waiting nested call leaves the line at its deadline', async () => {
      const { safeguards, clock } = setup();
      const first = deferred<string>();
      let waitingRan = false;
      let waiting: Promise<unknown> | undefined;
      const outer = safeguards.run(async () => {
        const running = safeguards.run(() => first.promise);
        waiting = safeguards.run(
          async () => {
            waitingRan = true;
          },
          { timeoutMs: 50 },
        );
        waiting.catch(() => undefined);
        return running;
      });
      await clock.advance(50);
      await expect(waiting).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      first.resolve('first');
      await expect(outer).resolves.toBe('first');
      expect(waitingRan).toBe(false);
    });

    it('a nested write is refused in read-only mode; nested reads go on', async () => {
      const { safeguards } = setup();
      const result = await safeguards.run(
        async () => {
          safeguards.readOnly.enable('maintenance');
          const write = safeguards.run(async () => 'written', { operationType: 'write' });
          await expect(write).rejects.toMatchObject({ type: 'CIRCUIT_BREAKER', reason: 'read-only' });
          return safeguards.run(async () => 'read', { operationType: 'read' });
        },
        { operationType: 'read' },
      );
      expect(result).toBe('read');
    });
  });
});
