import { describe, expect, it } from 'vitest';
import type { SafeguardsOptions } from './config/safeguards-options.js';
import { SafeguardError } from './errors/safeguard-error.js';
import { Priority } from './priority.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit/rate-limit-store.js';
import { createSafeguards, type Safeguards } from './safeguards.js';
import { flushMicrotasks, ManualClock } from './testing/manual-clock.js';

function setup(options: SafeguardsOptions = {}) {
  const clock = new ManualClock();
  const safeguards = createSafeguards({ clock, random: () => 0.5, ...options });
  return { clock, safeguards };
}

const pgError = (code: string, message = 'db error') =>
  Object.assign(new Error(message), { name: 'error', code });

/** Safeguards whose primary breaker opened on one lost connection and is now half-open, one probe at a time. */
async function halfOpenPrimary() {
  const { safeguards, clock } = setup({
    retry: { maxAttempts: 1 },
    breakers: {
      primary: { failureThreshold: 1, successThreshold: 1, openDurationMs: 1000, halfOpenMaxProbes: 1 },
    },
  });
  const breaker = safeguards.breakers.get('primary');
  await safeguards.run(() => Promise.reject(pgError('08006')), { operationType: 'read' }).catch(() => 0);
  await clock.advance(1000);
  expect(breaker.state).toBe('HALF_OPEN');
  return { safeguards, clock, breaker };
}

/** An operation that waits until `release()` is called, counting how many run at once. */
function gate() {
  let active = 0;
  let peak = 0;
  const waiting: Array<() => void> = [];
  return {
    op: async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((resolve) => waiting.push(resolve));
      active--;
    },
    releaseAll: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
    get peak() {
      return peak;
    },
    get active() {
      return active;
    },
  };
}

describe('Safeguards.run', () => {
  it('runs the operation and passes its scope', async () => {
    const { safeguards, clock } = setup({ defaultTimeoutMs: 5000 });
    const value = await safeguards.run((scope) => ({ attempt: scope.attempt, deadline: scope.deadline }), {
      operationType: 'read',
    });
    expect(value).toEqual({ attempt: 1, deadline: clock.now() + 5000 });
    expect(safeguards.metrics().operations).toMatchObject({
      started: 1,
      succeeded: 1,
      failed: 0,
      inFlight: 0,
    });
  });

  it('keeps every operation type and priority within the one budget', async () => {
    const { safeguards } = setup({ queue: { maxConcurrentConnections: 8 } });
    const g = gate();
    const types = ['read', 'write', 'critical', 'batch'] as const;
    const runs = Array.from({ length: 60 }, (_, i) =>
      safeguards.run(g.op, { operationType: types[i % 4], priority: ([4, 3, 2, 1, 0] as const)[i % 5] }),
    );
    await flushMicrotasks();
    expect(g.active).toBe(8);
    for (let round = 0; round < 20 && safeguards.queue.queued + safeguards.queue.active > 0; round++) {
      g.releaseAll();
      await flushMicrotasks();
      expect(g.active).toBeLessThanOrEqual(8);
    }
    await Promise.all(runs);
    expect(g.peak).toBe(8);
    expect(safeguards.queue.stats().peakActive).toBe(8);
  });

  describe('re-entrancy', () => {
    /**
     * 8 concurrent "transactions" on an 8-slot budget, each making 3 nested database calls one after
     * the other and then 3 in parallel. `running` counts the nested queries in progress.
     */
    async function eightTransactions(safeguards: Safeguards) {
      let running = 0;
      let peakRunning = 0;
      const query = async (value: number) => {
        running++;
        peakRunning = Math.max(peakRunning, running);
        await new Promise<void>((resolve) => setImmediate(resolve));
        running--;
        return value;
      };
      const transaction = (id: number) =>
        safeguards.run(
          async () => {
            const results: number[] = [];
            for (let statement = 0; statement < 3; statement++) {
              results.push(
                await safeguards.run(() => query(id * 10 + statement), { operationType: 'write' }),
              );
            }
            const parallel = await Promise.all(
              [3, 4, 5].map((statement) =>
                safeguards.run(() => query(id * 10 + statement), { operationType: 'read' }),
              ),
            );
            return [...results, ...parallel];
          },
          { operationType: 'write', atomic: true },
        );
      const results = await Promise.all(Array.from({ length: 8 }, (_, id) => transaction(id)));
      return { results, peakRunning };
    }

    it('runs queries inside a slot-holding operation on that slot: 8 concurrent transactions complete', async () => {
      const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 8, reservedForCritical: 0 } });
      const { results, peakRunning } = await eightTransactions(safeguards);
      expect(results).toEqual(
        Array.from({ length: 8 }, (_, id) => [0, 1, 2, 3, 4, 5].map((statement) => id * 10 + statement)),
      );
      // All 8 held a slot at once (none waited for a second one), and no slot ran two queries at once.
      expect(safeguards.queue.stats().peakActive).toBe(8);
      expect(peakRunning).toBe(8);
      expect(safeguards.queue.stats()).toMatchObject({ active: 0, queued: 0, processed: 8 });
    });

    it('without re-entrancy the same 8 transactions deadlock the budget (regression guard)', async () => {
      const safeguards = createSafeguards({
        queue: { maxConcurrentConnections: 8, timeoutMs: 300 },
        ambientStorage: false,
        retry: { maxAttempts: 1 },
      });
      await expect(eightTransactions(safeguards)).rejects.toMatchObject({
        type: 'TIMEOUT',
        reason: 'queue-timeout',
      });
    });

    it('scope.run reuses the slot explicitly where no AsyncLocalStorage exists', async () => {
      const safeguards = createSafeguards({
        queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
        ambientStorage: false,
      });
      const result = await safeguards.run(async (scope) => {
        const inner = await scope.run(async () => 'inner');
        return `${inner}+outer (active ${safeguards.queue.active})`;
      });
      expect(result).toBe('inner+outer (active 1)');
    });

    it('a nested call after the outer operation finished queues normally', async () => {
      const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
      let later: Promise<unknown> | undefined;
      await safeguards.run(async () => {
        later = new Promise((resolve) => setTimeout(resolve, 5)).then(() =>
          safeguards.run(async () => safeguards.queue.active),
        );
      });
      expect(await later).toBe(1);
      expect(safeguards.queue.stats().processed).toBe(2);
    });
  });

  describe('circuit breakers', () => {
    it('an open breaker rejects before the operation queues or runs', async () => {
      const { safeguards } = setup();
      safeguards.breakers.get('primary').forceOpen();
      let ran = false;
      const error = await safeguards
        .run(async () => {
          ran = true;
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'CIRCUIT_BREAKER', reason: 'read-only' });
      const read = await safeguards
        .run(
          async () => {
            ran = true;
          },
          { operationType: 'read' },
        )
        .catch((e: unknown) => e);
      expect(read).toMatchObject({ type: 'CIRCUIT_BREAKER', reason: 'circuit-open', retryAfterMs: 30_000 });
      expect(ran).toBe(false);
      expect(safeguards.queue.stats()).toMatchObject({ processed: 0, failed: 0, peakActive: 0 });
    });

    it('a half-open probe that waited for a slot does not run if the breaker reopened meanwhile', async () => {
      const { safeguards, clock } = setup({
        queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
        retry: { maxAttempts: 1 },
        breakers: {
          primary: { failureThreshold: 1, successThreshold: 2, openDurationMs: 1000, halfOpenMaxProbes: 2 },
        },
      });
      await safeguards.run(() => Promise.reject(pgError('08006')), { operationType: 'read' }).catch(() => 0);
      await clock.advance(1000);
      expect(safeguards.breakers.get('primary').state).toBe('HALF_OPEN');
      let failFirstProbe: () => void = () => undefined;
      const firstProbe = safeguards.run(
        () =>
          new Promise((_, reject) => {
            failFirstProbe = () => reject(pgError('08006'));
          }),
        { operationType: 'read' },
      );
      firstProbe.catch(() => undefined);
      let secondRan = false;
      const secondProbe = safeguards.run(
        async () => {
          secondRan = true;
        },
        { operationType: 'read' },
      );
      await flushMicrotasks();
      expect(safeguards.queue.queued).toBe(1);
      failFirstProbe();
      await expect(firstProbe).rejects.toMatchObject({ type: 'CONNECTION' });
      expect(safeguards.breakers.get('primary').state).toBe('OPEN');
      await expect(secondProbe).rejects.toMatchObject({ type: 'CIRCUIT_BREAKER', reason: 'circuit-open' });
      expect(secondRan).toBe(false);
    });

    it('a waiter refused because the breaker opened meanwhile is counted as neither processed nor failed', async () => {
      const { safeguards } = setup({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
      const g = gate();
      const holder = safeguards.run(g.op, { operationType: 'read' });
      let ran = false;
      const waiter = safeguards.run(
        async () => {
          ran = true;
        },
        { operationType: 'read' },
      );
      await flushMicrotasks();
      safeguards.breakers.get('primary').forceOpen();
      g.releaseAll();
      await holder;
      await expect(waiter).rejects.toMatchObject({ type: 'CIRCUIT_BREAKER', reason: 'circuit-open' });
      expect(ran).toBe(false);
      expect(safeguards.queue.stats()).toMatchObject({ processed: 1, failed: 0, active: 0 });
    });

    it.each([
      ['23505', 'write', 'CONFLICT'],
      ['22P02', 'read', 'VALIDATION'],
      ['40001', 'read', 'DATABASE'],
      ['42P01', 'read', 'DATABASE'],
    ] as const)(
      'only infrastructure failures count: %s (%s) never trips it',
      async (code, operationType, type) => {
        const { safeguards } = setup({ retry: { maxAttempts: 1 } });
        for (let i = 0; i < 20; i++) {
          await expect(
            safeguards.run(() => Promise.reject(pgError(code)), { operationType }),
          ).rejects.toMatchObject({
            type,
          });
        }
        // The database answered each time: 20 successes for the breaker, not one failure.
        expect(safeguards.breakers.get('primary').stats()).toMatchObject({
          state: 'CLOSED',
          consecutiveFailures: 0,
          totalFailures: 0,
          totalSuccesses: 20,
        });
      },
    );

    it('infrastructure failures do count: 5 lost connections open the primary breaker', async () => {
      const { safeguards } = setup({ retry: { maxAttempts: 1 } });
      for (let i = 0; i < 5; i++) {
        await safeguards
          .run(() => Promise.reject(pgError('08006')), { operationType: 'read' })
          .catch(() => undefined);
      }
      expect(safeguards.breakers.get('primary').stats()).toMatchObject({ state: 'OPEN', totalFailures: 5 });
    });

    it('overload is not an outage: calls that waited out most of their deadline in the queue and then ran out of time do not open the breaker', async () => {
      const { safeguards, clock } = setup({
        queue: { maxConcurrentConnections: 1, reservedForCritical: 0, abandonAfterMs: 60_000 },
        retry: { maxAttempts: 1 },
      });
      const slow = gate();
      // One slot held for 9.9 s by work that succeeds; behind it, calls with a 10 s deadline.
      const holder = safeguards.run(slow.op, { operationType: 'read', timeoutMs: 60_000 });
      const late = Array.from({ length: 6 }, () =>
        safeguards.run(() => new Promise<never>(() => undefined), {
          operationType: 'read',
          timeoutMs: 10_000,
        }),
      );
      for (const call of late) call.catch(() => undefined);
      await clock.advance(9_900);
      slow.releaseAll();
      await holder;
      // The first late call gets the slot with 100 ms left and hangs past its deadline; the others
      // time out in the queue. None of them says the database is unwell.
      await clock.advance(200);
      const outcomes = await Promise.allSettled(late);
      expect(outcomes.map((outcome) => outcome.status === 'rejected' && outcome.reason.type)).toEqual(
        Array(6).fill('TIMEOUT'),
      );
      expect(safeguards.breakers.get('primary').stats()).toMatchObject({ state: 'CLOSED', totalFailures: 0 });
    });

    it('a stall still opens the breaker: calls that got their slot at once and hung for their whole deadline count', async () => {
      const { safeguards, clock } = setup({ queue: { abandonAfterMs: 60_000 }, retry: { maxAttempts: 1 } });
      const hung = Array.from({ length: 5 }, () =>
        safeguards.run(() => new Promise<never>(() => undefined), {
          operationType: 'read',
          timeoutMs: 1_000,
        }),
      );
      for (const call of hung) call.catch(() => undefined);
      await clock.advance(1_000);
      await Promise.allSettled(hung);
      expect(safeguards.breakers.get('primary').stats()).toMatchObject({ state: 'OPEN', totalFailures: 5 });
    });

    it('an error that says nothing about the database neither closes a half-open breaker nor counts as a failure', async () => {
      const { safeguards, breaker } = await halfOpenPrimary();
      await expect(
        safeguards.run(() => Promise.reject(new Error('socket went away weirdly')), {
          operationType: 'read',
        }),
      ).rejects.toMatchObject({ type: 'INTERNAL' });
      expect(breaker.state).toBe('HALF_OPEN');
      // Its probe place was given back: the next call is admitted as a probe, and its success closes it.
      await expect(safeguards.run(async () => 'ok', { operationType: 'read' })).resolves.toBe('ok');
      expect(breaker.state).toBe('CLOSED');
      const closed = breaker.stats();
      await safeguards
        .run(() => Promise.reject(new Error('weird')), { operationType: 'read' })
        .catch(() => 0);
      expect(breaker.stats()).toMatchObject({
        totalFailures: closed.totalFailures,
        totalSuccesses: closed.totalSuccesses,
      });
    });

    it('a statement cancelled on request (57014, user request) does not close a half-open breaker', async () => {
      const { safeguards, breaker } = await halfOpenPrimary();
      await expect(
        safeguards.run(() => Promise.reject(pgError('57014', 'canceling statement due to user request')), {
          operationType: 'read',
        }),
      ).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'query-cancelled' });
      expect(breaker.stats()).toMatchObject({ state: 'HALF_OPEN', totalSuccesses: 0 });
      // Its probe place was given back.
      expect(breaker.tryAcquire()).toBeDefined();
    });

    it('ratio mode opens when calls time out after more than its window (failures count when they happen)', async () => {
      const { safeguards, clock } = setup({
        retry: { maxAttempts: 1 },
        queue: { maxConcurrentConnections: 8, reservedForCritical: 0 },
        breakers: {
          primary: { mode: 'ratio', windowMs: 10_000, minimumRequests: 8, failureRateThreshold: 0.5 },
        },
      });
      const g = gate();
      const reads = Array.from({ length: 8 }, () =>
        safeguards.run(g.op, { operationType: 'read', timeoutMs: 15_000 }).catch((error: unknown) => error),
      );
      await clock.advance(15_000);
      for (const outcome of await Promise.all(reads)) {
        expect(outcome).toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      }
      expect(safeguards.breakers.get('primary').stats()).toMatchObject({
        state: 'OPEN',
        failureRate: 1,
        totalFailures: 8,
      });
      g.releaseAll();
    });

    it('routes CRITICAL work to the critical breaker and BATCH work to the batch breaker', async () => {
      const { safeguards } = setup({ retry: { maxAttempts: 1 } });
      for (let i = 0; i < 3; i++) {
        await safeguards
          .run(() => Promise.reject(pgError('57P01')), { operationType: 'critical' })
          .catch(() => undefined);
      }
      expect(safeguards.breakers.get('critical').state).toBe('OPEN');
      expect(safeguards.breakers.get('primary').state).toBe('CLOSED');
      await safeguards
        .run(() => Promise.reject(pgError('57P01')), { operationType: 'batch' })
        .catch(() => undefined);
      expect(safeguards.breakers.get('batch').stats().consecutiveFailures).toBe(1);
    });
  });

  describe('retries', () => {
    it('retries a transient failure of an idempotent read and succeeds', async () => {
      const { safeguards, clock } = setup();
      let calls = 0;
      const pending = safeguards.run(
        async () => {
          calls++;
          if (calls < 3) throw pgError('57P01', 'terminating connection due to administrator command');
          return 'ok';
        },
        { operationType: 'read' },
      );
      await clock.advance(10_000);
      await expect(pending).resolves.toBe('ok');
      expect(calls).toBe(3);
      expect(safeguards.metrics().retries).toMatchObject({ attempted: 2, recovered: 1 });
    });

    it('never retries a write whose outcome is unknown', async () => {
      const { safeguards, clock } = setup();
      let calls = 0;
      const pending = safeguards.run(
        async () => {
          calls++;
          throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
        },
        { operationType: 'write' },
      );
      pending.catch(() => undefined);
      await clock.advance(10_000);
      await expect(pending).rejects.toMatchObject({ type: 'CONNECTION', reason: 'connection-reset' });
      expect(calls).toBe(1);
    });

    it('reruns the whole atomic operation (the transaction) after a serialization failure, never one statement', async () => {
      const { safeguards, clock } = setup();
      const statements: string[] = [];
      let attempt = 0;
      const pending = safeguards.run(
        async () => {
          attempt++;
          statements.push(`begin#${attempt}`);
          await safeguards.run(async () => statements.push(`update#${attempt}`), { operationType: 'write' });
          if (attempt === 1) throw pgError('40001', 'could not serialize access due to concurrent update');
          statements.push(`commit#${attempt}`);
          return attempt;
        },
        { operationType: 'write', atomic: true },
      );
      await clock.advance(10_000);
      await expect(pending).resolves.toBe(2);
      expect(statements).toEqual(['begin#1', 'update#1', 'begin#2', 'update#2', 'commit#2']);
    });

    it("never retries a 'critical' write whose outcome is unknown: only reads default to idempotent", async () => {
      const { safeguards, clock } = setup({ breakers: { critical: { failureThreshold: 100 } } });
      let calls = 0;
      const attempt = (context: { idempotent?: boolean }) =>
        safeguards.run(
          async () => {
            calls++;
            throw pgError('57P01', 'terminating connection due to administrator command');
          },
          { operationType: 'critical', ...context },
        );
      const write = attempt({});
      write.catch(() => undefined);
      await clock.advance(10_000);
      await expect(write).rejects.toMatchObject({ type: 'CONNECTION', reason: 'admin-shutdown' });
      expect(calls).toBe(1);
      const read = attempt({ idempotent: true });
      read.catch(() => undefined);
      await clock.advance(10_000);
      await expect(read).rejects.toMatchObject({ type: 'CONNECTION' });
      expect(calls).toBe(4);
    });

    it('releases the slot while waiting to retry', async () => {
      const { safeguards, clock } = setup({ retry: { baseDelayMs: 1000, jitter: 'none' } });
      let calls = 0;
      const pending = safeguards.run(
        async () => {
          calls++;
          if (calls === 1) throw pgError('08006');
          return 'ok';
        },
        { operationType: 'read' },
      );
      await flushMicrotasks();
      expect(calls).toBe(1);
      expect(safeguards.queue.active).toBe(0);
      await clock.advance(999);
      expect(calls).toBe(1);
      await clock.advance(1);
      await expect(pending).resolves.toBe('ok');
    });

    it('stops retrying when the next wait would pass the deadline', async () => {
      const { safeguards, clock } = setup({ retry: { baseDelayMs: 1000, jitter: 'none', maxAttempts: 10 } });
      let calls = 0;
      const pending = safeguards.run(
        async () => {
          calls++;
          throw pgError('08006');
        },
        { operationType: 'read', timeoutMs: 3500 },
      );
      pending.catch(() => undefined);
      await clock.advance(10_000);
      await expect(pending).rejects.toMatchObject({ type: 'CONNECTION' });
      // Waits of 1000 and 2000 fit in 3500 ms; the next (4000) would not.
      expect(calls).toBe(3);
    });

    it('a retry whose backoff timer fires after the deadline does not run, and ends with the error it retried', async () => {
      const { safeguards, clock } = setup({ retry: { baseDelayMs: 100, jitter: 'none' } });
      let calls = 0;
      const pending = safeguards.run(
        async () => {
          calls++;
          throw pgError('57P01', 'terminating connection due to administrator command');
        },
        { operationType: 'read', timeoutMs: 150 },
      );
      pending.catch(() => undefined);
      await flushMicrotasks();
      // A busy event loop: the 100 ms backoff timer only fires at 200 ms, past the 150 ms deadline.
      clock.set(clock.now() + 200);
      await clock.advance(0);
      await expect(pending).rejects.toMatchObject({ type: 'CONNECTION', reason: 'admin-shutdown' });
      expect(calls).toBe(1);
    });

    it('the retry budget stops retries from multiplying load during an outage', async () => {
      const { safeguards, clock } = setup({
        retry: {
          maxAttempts: 5,
          baseDelayMs: 10,
          jitter: 'none',
          budget: { ratio: 0.1, minPerSecond: 0, windowMs: 60_000 },
        },
        breakers: { primary: { failureThreshold: 10_000 } },
      });
      let calls = 0;
      const runs = Array.from({ length: 100 }, () =>
        safeguards
          .run(
            async () => {
              calls++;
              throw pgError('08006');
            },
            { operationType: 'read' },
          )
          .catch(() => undefined),
      );
      await clock.advance(5000);
      await Promise.all(runs);
      expect(calls).toBeLessThanOrEqual(110);
      expect(safeguards.metrics().retries.exhausted).toBeGreaterThan(0);
    });
  });

  describe('deadlines, aborts and timeouts', () => {
    it('answers TIMEOUT at the deadline, aborts the scope signal, and holds the slot until the operation ends', async () => {
      const { safeguards, clock } = setup({ queue: { abandonAfterMs: 60_000 } });
      let signal: AbortSignal | undefined;
      let finish: () => void = () => undefined;
      const pending = safeguards.run(
        (scope) => {
          signal = scope.signal;
          return new Promise<void>((resolve) => {
            finish = resolve;
          });
        },
        { operationType: 'read', timeoutMs: 1000 },
      );
      pending.catch(() => undefined);
      await clock.advance(1000);
      await expect(pending).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      expect(signal?.aborted).toBe(true);
      expect(safeguards.queue.active).toBe(1);
      finish();
      await flushMicrotasks();
      expect(safeguards.queue.active).toBe(0);
    });

    it('calls onAbort listeners at the deadline with the signal’s reason; a detached one is not called', async () => {
      const { safeguards, clock } = setup({ queue: { abandonAfterMs: 60_000 } });
      const reasons: unknown[] = [];
      let detachedCalled = false;
      let scopeOf: import('./pipeline/operation-scope.js').OperationScope | undefined;
      let finish: () => void = () => undefined;
      const pending = safeguards.run(
        (scope) => {
          scopeOf = scope;
          scope.onAbort((reason) => reasons.push(reason));
          const detach = scope.onAbort(() => {
            detachedCalled = true;
          });
          detach();
          return new Promise<void>((resolve) => {
            finish = resolve;
          });
        },
        { operationType: 'read', timeoutMs: 1000 },
      );
      pending.catch(() => undefined);
      await flushMicrotasks();
      expect(reasons).toEqual([]);
      await clock.advance(1000);
      const error = await pending.catch((caught: unknown) => caught);
      expect(error).toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      expect(reasons).toEqual([error]);
      expect(detachedCalled).toBe(false);
      // Asked for after the abort: the signal is aborted with the same reason, a late listener runs at once.
      expect(scopeOf!.signal.aborted).toBe(true);
      expect(scopeOf!.signal.reason).toBe(error);
      const late: unknown[] = [];
      scopeOf!.onAbort((reason) => late.push(reason));
      expect(late).toEqual([error]);
      finish();
      await flushMicrotasks();
    });

    it('calls a nested call’s onAbort listener when the caller’s signal aborts, and a throwing listener does not stop the rest', async () => {
      const { safeguards } = setup();
      const caller = new AbortController();
      const heard: string[] = [];
      let release: () => void = () => undefined;
      const pending = safeguards.run(
        (scope) =>
          scope.run((nested) => {
            nested.onAbort(() => {
              heard.push('first');
              throw new Error('listener failed');
            });
            nested.onAbort(() => heard.push('second'));
            return new Promise<void>((resolve) => {
              release = resolve;
            });
          }),
        { operationType: 'read', signal: caller.signal },
      );
      pending.catch(() => undefined);
      await flushMicrotasks();
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);
      process.on('uncaughtException', onUncaught);
      try {
        caller.abort(new Error('client went away'));
        await expect(pending).rejects.toMatchObject({ type: 'TIMEOUT' });
        await new Promise((resolve) => setTimeout(resolve, 0));
      } finally {
        process.off('uncaughtException', onUncaught);
      }
      expect(heard).toEqual(['first', 'second']);
      expect(uncaught).toEqual([expect.objectContaining({ message: 'listener failed' })]);
      release();
    });

    it('reclaims the slot of an operation that ignores its deadline (no leaked slot), and says it still runs', async () => {
      const { safeguards, clock } = setup({ queue: { abandonAfterMs: 2000 } });
      let finish: () => void = () => undefined;
      const hung = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const pending = safeguards.run(() => hung, { operationType: 'read', timeoutMs: 1000 });
      pending.catch(() => undefined);
      await clock.advance(1000);
      expect(safeguards.queue.active).toBe(1);
      await clock.advance(2000);
      expect(safeguards.queue.stats()).toMatchObject({ active: 0, abandoned: 1, abandonedRunning: 1 });
      finish();
      await flushMicrotasks();
      expect(safeguards.queue.stats()).toMatchObject({ active: 0, abandoned: 1, abandonedRunning: 0 });
    });

    it('an abort removes a waiting operation at once', async () => {
      const { safeguards } = setup({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
      const g = gate();
      const holder = safeguards.run(g.op);
      const controller = new AbortController();
      let ran = false;
      const waiting = safeguards.run(
        async () => {
          ran = true;
        },
        { signal: controller.signal },
      );
      await flushMicrotasks();
      expect(safeguards.queue.queued).toBe(1);
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
      expect(safeguards.queue.queued).toBe(0);
      g.releaseAll();
      await holder;
      expect(ran).toBe(false);
    });

    it('an abort that comes with a retryable failure ends the operation instead of retrying it', async () => {
      const { safeguards, clock } = setup();
      const controller = new AbortController();
      let calls = 0;
      const pending = safeguards.run(
        () => {
          calls++;
          // Synchronously: the caller gives up, and the operation fails with a transient error.
          controller.abort();
          throw pgError('57P01', 'terminating connection due to administrator command');
        },
        { operationType: 'read', signal: controller.signal },
      );
      pending.catch(() => undefined);
      await clock.advance(10_000);
      await expect(pending).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
      expect(calls).toBe(1);
    });

    it('an operation whose deadline has already passed is refused with TIMEOUT before the breaker and queue', async () => {
      const { safeguards, clock } = setup();
      let ran = 0;
      const op = async () => {
        ran++;
      };
      await expect(
        safeguards.run(op, { operationType: 'read', deadline: clock.now() - 1000 }),
      ).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
      await expect(safeguards.run(op, { operationType: 'read', timeoutMs: 0 })).rejects.toMatchObject({
        type: 'TIMEOUT',
        reason: 'deadline',
      });
      expect(ran).toBe(0);
      expect(safeguards.queue.stats()).toMatchObject({ peakActive: 0, processed: 0 });
      expect(safeguards.breakers.get('primary').stats()).toMatchObject({ totalSuccesses: 0, rejected: 0 });
    });

    it('an abort during an asynchronous rate-limit check stops the operation before it runs', async () => {
      let answer: (decision: RateLimitDecision) => void = () => undefined;
      const store: RateLimitStore = {
        hit: () =>
          new Promise<RateLimitDecision>((resolve) => {
            answer = resolve;
          }),
        reset: () => undefined,
      };
      const { safeguards, clock } = setup({
        rateLimits: { store, policies: { api: { limit: 10, windowMs: 60_000 } }, adaptive: false },
      });
      const controller = new AbortController();
      let ran = false;
      const pending = safeguards.run(
        async () => {
          ran = true;
        },
        { operationType: 'read', policy: 'api', userId: 'u', signal: controller.signal },
      );
      await flushMicrotasks();
      controller.abort();
      answer({ allowed: true, count: 1, resetAt: clock.now() + 60_000, retryAfterMs: 0 });
      await expect(pending).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
      expect(ran).toBe(false);
      expect(safeguards.queue.stats()).toMatchObject({ active: 0, processed: 0, failed: 0 });
    });

    it('an abort between being granted a slot and starting stops the operation and frees the slot', async () => {
      const { safeguards } = setup({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
      const g = gate();
      const controller = new AbortController();
      const holder = safeguards.run(g.op, { operationType: 'read', label: 'holder' });
      let ran = false;
      const waiter = safeguards.run(
        async () => {
          ran = true;
        },
        { operationType: 'read', signal: controller.signal },
      );
      // The holder's end is reported right after its slot went to the waiter, before the waiter starts.
      safeguards.onOperationEnd((event) => {
        if (event.label === 'holder') controller.abort();
      });
      await flushMicrotasks();
      g.releaseAll();
      await holder;
      await expect(waiter).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted' });
      expect(ran).toBe(false);
      expect(safeguards.queue.stats()).toMatchObject({ active: 0, processed: 1 });
    });

    it('an already-aborted signal never runs', async () => {
      const { safeguards } = setup();
      await expect(safeguards.run(async () => 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({
        reason: 'aborted',
      });
    });
  });

  describe('rate limits', () => {
    it('charges the policy and refuses with RATE_LIMIT and retry-after', async () => {
      const { safeguards } = setup({
        rateLimits: { policies: { reports: { limit: 2, windowMs: 60_000 } }, adaptive: false },
      });
      const identity = { userId: 'u1', policy: 'reports', operationType: 'read' as const };
      await safeguards.run(async () => 1, identity);
      await safeguards.run(async () => 1, identity);
      const error = (await safeguards
        .run(async () => 1, identity)
        .catch((e: unknown) => e)) as SafeguardError;
      expect(error).toMatchObject({
        type: 'RATE_LIMIT',
        httpStatus: 429,
        rateLimit: { policy: 'reports', limit: 2, remaining: 0 },
      });
      expect(error.retryAfterMs).toBeGreaterThan(0);
      await expect(safeguards.run(async () => 1, { ...identity, userId: 'u2' })).resolves.toBe(1);
      // Only admitted requests are the retry budget's base: refusals must not widen the retry allowance.
      expect(safeguards.metrics().retries.requests).toBe(3);
    });

    it('a request already past its deadline is refused before it is charged a token', async () => {
      const { safeguards, clock } = setup({
        rateLimits: { policies: { reports: { limit: 1, windowMs: 60_000 } }, adaptive: false },
      });
      const identity = { userId: 'u1', policy: 'reports', operationType: 'read' as const };
      const rejections: string[] = [];
      safeguards.onRejection((event) => rejections.push(event.stage));
      for (const late of [{ deadline: clock.now() - 1 }, { timeoutMs: 0 }]) {
        await expect(safeguards.run(async () => 1, { ...identity, ...late })).rejects.toMatchObject({
          type: 'TIMEOUT',
          reason: 'deadline',
        });
      }
      expect(rejections).toEqual(['queue', 'queue']);
      // The one token of the window is still there.
      await expect(safeguards.run(async () => 1, identity)).resolves.toBe(1);
    });

    it('health checks (CRITICAL) bypass rate limits', async () => {
      const { safeguards } = setup({ rateLimits: { policies: { api: { limit: 1, windowMs: 60_000 } } } });
      for (let i = 0; i < 5; i++) {
        await expect(
          safeguards.run(async () => 'ok', { policy: 'api', operationType: 'critical' }),
        ).resolves.toBe('ok');
      }
    });
  });

  describe('read-only mode', () => {
    it('refuses writes and serves reads when switched on by hand', async () => {
      const { safeguards } = setup();
      safeguards.readOnly.enable('storage quota reached');
      await expect(safeguards.run(async () => 'w', { operationType: 'write' })).rejects.toMatchObject({
        type: 'CIRCUIT_BREAKER',
        reason: 'read-only',
      });
      await expect(safeguards.run(async () => 'r', { operationType: 'read' })).resolves.toBe('r');
      safeguards.readOnly.disable();
      await expect(safeguards.run(async () => 'w', { operationType: 'write' })).resolves.toBe('w');
    });

    it('switches on while a watched breaker is open', async () => {
      const { safeguards } = setup({
        breakers: { writes: { failureThreshold: 1 } },
        degradation: { readOnlyWhenBreakerOpen: ['writes'] },
      });
      safeguards.breakers.get('writes').forceOpen();
      expect(safeguards.readOnly.status()).toMatchObject({ active: true, source: 'breaker:writes' });
      await expect(safeguards.run(async () => 'w', { operationType: 'write' })).rejects.toMatchObject({
        reason: 'read-only',
      });
      await expect(safeguards.run(async () => 'r', { operationType: 'read' })).resolves.toBe('r');
    });
  });

  describe('admit and withContext (for adapters)', () => {
    it('admit charges the rate limit once and fails fast when load would shed the request', async () => {
      const { safeguards } = setup({
        queue: {
          maxConcurrentConnections: 1,
          reservedForCritical: 0,
          maxQueueSize: 2,
          shedAt: { BATCH: 0.5 },
        },
        rateLimits: { policies: { api: { limit: 3, windowMs: 60_000 } }, adaptive: false },
      });
      const admission = await safeguards.admit({ policy: 'api', userId: 'u', operationType: 'read' });
      expect(admission.rateLimit).toMatchObject({ allowed: true, remaining: 2 });
      const g = gate();
      const holder = safeguards.run(g.op);
      const waiter = safeguards.run(g.op);
      await flushMicrotasks();
      await expect(
        safeguards.admit({ priority: Priority.BATCH, operationType: 'batch' }),
      ).rejects.toMatchObject({ type: 'QUEUE_FULL', reason: 'shed' });
      await expect(safeguards.admit({ priority: Priority.HIGH })).resolves.toBeDefined();
      g.releaseAll();
      await holder;
      g.releaseAll();
      await waiter;
    });

    it('admit refuses a request already aborted or past its deadline before charging the rate limit', async () => {
      const { safeguards } = setup({
        rateLimits: { policies: { api: { limit: 1, windowMs: 60_000 } }, adaptive: false },
      });
      const identity = { policy: 'api', userId: 'u', operationType: 'read' as const };
      await expect(safeguards.admit({ ...identity, timeoutMs: 0 })).rejects.toMatchObject({
        type: 'TIMEOUT',
        reason: 'deadline',
      });
      await expect(safeguards.admit({ ...identity, signal: AbortSignal.abort() })).rejects.toMatchObject({
        type: 'TIMEOUT',
        reason: 'aborted',
      });
      const admission = await safeguards.admit(identity);
      expect(admission.rateLimit).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('withContext passes priority, deadline and identity down to every database call inside it', async () => {
      const { safeguards, clock } = setup();
      const seen = await safeguards.withContext(
        { priority: Priority.HIGH, timeoutMs: 1234, userId: 'u9', label: 'animals.list' },
        () =>
          safeguards.run(
            (scope) => ({
              priority: scope.context.priority,
              deadline: scope.deadline,
              user: scope.context.identity.userId,
              label: scope.context.label,
            }),
            {
              operationType: 'read',
            },
          ),
      );
      expect(seen).toEqual({
        priority: Priority.HIGH,
        deadline: clock.now() + 1234,
        user: 'u9',
        label: 'animals.list',
      });
    });
  });

  describe('health', () => {
    it('is healthy (200) when idle', async () => {
      const { safeguards } = setup();
      const report = await safeguards.health();
      expect(report).toMatchObject({ status: 'healthy', httpStatus: 200, alerts: [] });
      expect(Object.keys(report.components.circuitBreakers)).toEqual(
        expect.arrayContaining(['primary', 'critical', 'batch']),
      );
    });

    it('is degraded (206) from 70% queue fill and when a breaker half-opens, unhealthy (503) only with an open breaker: a full queue is load', async () => {
      const { safeguards, clock } = setup({
        queue: { maxConcurrentConnections: 1, reservedForCritical: 0, maxQueueSize: 10, shedAt: {} },
      });
      const g = gate();
      const runs = [safeguards.run(g.op)];
      for (let i = 0; i < 7; i++) runs.push(safeguards.run(g.op));
      await flushMicrotasks();
      expect((await safeguards.health()).httpStatus).toBe(206);
      runs.push(safeguards.run(g.op), safeguards.run(g.op));
      await flushMicrotasks();
      // 9 of 10 waiting, then a full queue that refuses the next caller: still only degraded.
      const busy = await safeguards.health();
      expect(busy.components.queue).toMatchObject({ status: 'degraded' });
      expect(busy.httpStatus).toBe(206);
      runs.push(safeguards.run(g.op));
      await expect(safeguards.run(g.op)).rejects.toMatchObject({ type: 'QUEUE_FULL' });
      expect((await safeguards.health()).httpStatus).toBe(206);
      for (let round = 0; round < 12; round++) {
        g.releaseAll();
        await flushMicrotasks();
      }
      await Promise.all(runs);
      expect((await safeguards.health()).httpStatus).toBe(200);
      safeguards.breakers.get('batch').forceOpen();
      const open = await safeguards.health();
      expect(open.httpStatus).toBe(503);
      expect(open.alerts).toContainEqual(
        expect.objectContaining({ level: 'critical', component: 'circuitBreakers.batch' }),
      );
      clock.set(clock.now() + 60_000);
      expect((await safeguards.health()).httpStatus).toBe(206);
    });

    it('refuses a queueUnhealthyAt option with a typed error: a full queue is never unhealthy', () => {
      expect(() => createSafeguards({ health: { queueUnhealthyAt: 0.9 } as never })).toThrow(
        /health\.queueUnhealthyAt.*full queue is load/,
      );
    });

    it('reports a rising error rate', async () => {
      const { safeguards } = setup({
        retry: { maxAttempts: 1 },
        breakers: { primary: { failureThreshold: 1000 } },
      });
      for (let i = 0; i < 90; i++) await safeguards.run(async () => 1, { operationType: 'read' });
      for (let i = 0; i < 10; i++)
        await safeguards
          .run(() => Promise.reject(pgError('08006')), { operationType: 'read' })
          .catch(() => undefined);
      const report = await safeguards.health();
      expect(report.components.errors.status).toBe('unhealthy');
      expect(report.metrics.operations.errorRate).toBeCloseTo(0.1);
    });

    it('runs the database probe on the CRITICAL reserve even when every other slot is busy', async () => {
      const { safeguards } = setup({
        queue: { maxConcurrentConnections: 2, reservedForCritical: 1 },
        health: { probe: async () => 'pong' },
      });
      const g = gate();
      const busy = [safeguards.run(g.op), safeguards.run(g.op), safeguards.run(g.op)];
      await flushMicrotasks();
      expect(safeguards.queue.active).toBe(1);
      const report = await safeguards.health({ probe: true });
      expect(report.components.database).toMatchObject({ status: 'healthy' });
      for (let round = 0; round < 3; round++) {
        g.releaseAll();
        await flushMicrotasks();
      }
      await Promise.all(busy);
    });

    it('retries the database probe after a transient failure (it declares itself idempotent)', async () => {
      let calls = 0;
      const { safeguards, clock } = setup({
        health: {
          probe: async () => {
            if (++calls === 1) throw pgError('57P01', 'terminating connection due to administrator command');
            return 'pong';
          },
        },
      });
      const pending = safeguards.health({ probe: true });
      await clock.advance(1000);
      expect((await pending).components.database).toMatchObject({ status: 'healthy' });
      expect(calls).toBe(2);
    });

    it('reports a failed probe as unhealthy', async () => {
      const { safeguards } = setup({
        health: { probe: () => Promise.reject(pgError('57P03')) },
        retry: { maxAttempts: 1 },
      });
      const report = await safeguards.health({ probe: true });
      expect(report.components.database).toMatchObject({
        status: 'unhealthy',
        message: 'probe failed: CONNECTION: cannot-connect-now',
      });
      expect(report.httpStatus).toBe(503);
    });
  });

  describe('emergency controls, events and shutdown', () => {
    it('pauseAll holds every operation until resumeAll', async () => {
      const { safeguards } = setup();
      safeguards.pauseAll();
      let ran = false;
      const pending = safeguards.run(async () => {
        ran = true;
      });
      await flushMicrotasks();
      expect(ran).toBe(false);
      expect((await safeguards.health()).components.queue.status).toBe('unhealthy');
      safeguards.resumeAll();
      await pending;
      expect(ran).toBe(true);
    });

    it('emits retries, rejections and operation ends to subscribers only', async () => {
      const { safeguards, clock } = setup();
      const events: string[] = [];
      const subscriptions = [
        safeguards.onRetry((event) => events.push(`retry:${event.error.reason}`)),
        safeguards.onRejection((event) => events.push(`reject:${event.stage}`)),
        safeguards.onOperationEnd((event) => events.push(`end:${event.ok}:${event.attempts}`)),
        safeguards.onBreakerStateChange((event) => events.push(`breaker:${event.to}`)),
      ];
      let calls = 0;
      const pending = safeguards.run(
        async () => {
          if (++calls === 1) throw pgError('57P01');
          return 1;
        },
        { operationType: 'read' },
      );
      await clock.advance(5000);
      await pending;
      safeguards.readOnly.enable();
      await safeguards.run(async () => 1, { operationType: 'write' }).catch(() => undefined);
      safeguards.breakers.get('primary').forceOpen();
      expect(events).toEqual([
        'retry:admin-shutdown',
        'end:true:2',
        'reject:read-only',
        'end:false:0',
        'breaker:OPEN',
      ]);
      for (const subscription of subscriptions) subscription.dispose();
      await safeguards.run(async () => 1, { operationType: 'write' }).catch(() => undefined);
      expect(events).toHaveLength(5);
    });

    it('close drains running work, then refuses new work', async () => {
      const { safeguards } = setup();
      const g = gate();
      const running = safeguards.run(g.op);
      await flushMicrotasks();
      const closed = safeguards.close({ drainTimeoutMs: 60_000 });
      await expect(safeguards.run(async () => 1)).rejects.toMatchObject({
        type: 'CONNECTION',
        reason: 'shutting-down',
      });
      g.releaseAll();
      await running;
      await closed;
      expect(safeguards.isClosed).toBe(true);
    });

    it('records classified errors for the admin error log', async () => {
      const { safeguards } = setup({ retry: { maxAttempts: 1 } });
      await safeguards
        .run(() => Promise.reject(pgError('23505')), { operationType: 'write', label: 'animals.create' })
        .catch(() => undefined);
      await safeguards
        .run(() => Promise.reject(pgError('08006')), { operationType: 'read' })
        .catch(() => undefined);
      expect(safeguards.errorLog.recent({ limit: 10 }).map((entry) => entry.type)).toEqual([
        'CONNECTION',
        'CONFLICT',
      ]);
      expect(safeguards.errorLog.recent({ type: 'CONFLICT' })[0]).toMatchObject({
        label: 'animals.create',
        sqlState: '23505',
      });
    });

    it('rejects a bad context with a TypeError naming the field', async () => {
      const { safeguards } = setup();
      await expect(safeguards.run(async () => 1, { priority: 9 as Priority })).rejects.toThrow(
        /context.priority/,
      );
      await expect(safeguards.run(async () => 1, { operationType: 'delete' as 'read' })).rejects.toThrow(
        /context.operationType/,
      );
    });

    it('rejects a NaN or infinite deadline and a NaN, infinite or negative timeoutMs, naming field and value', async () => {
      const { safeguards } = setup();
      let ran = 0;
      const op = async () => {
        ran++;
      };
      await expect(safeguards.run(op, { deadline: Number.NaN })).rejects.toThrow(
        new TypeError('Expected context.deadline to be a finite number, got NaN (number)'),
      );
      await expect(safeguards.run(op, { deadline: Number.POSITIVE_INFINITY })).rejects.toThrow(
        /context.deadline.*Infinity/,
      );
      await expect(safeguards.run(op, { timeoutMs: Number.NaN })).rejects.toThrow(
        new TypeError('Expected context.timeoutMs to be a finite number >= 0, got NaN (number)'),
      );
      await expect(safeguards.run(op, { timeoutMs: -5 })).rejects.toThrow(/context.timeoutMs.*got -5/);
      expect(() => safeguards.withContext({ timeoutMs: Number.NaN }, () => 1)).toThrow(TypeError);
      expect(ran).toBe(0);
    });

    it('always rejects with a SafeguardError carrying the original as cause', async () => {
      const { safeguards } = setup();
      const original = new Error('boom');
      const error = await safeguards
        .run(() => Promise.reject(original), { operationType: 'write' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SafeguardError);
      expect((error as SafeguardError).cause).toBe(original);
    });
  });
});

describe('withContext with lazy thenables (drizzle query builders)', () => {
  it('starts a lazy thenable inside the context, so the work it does inherits it', async () => {
    const { safeguards } = setup();
    let ran = false;
    const lazy = {
      // Like a drizzle query: nothing happens until someone calls then().
      // biome-ignore lint/suspicious/noThenProperty: a lazy thenable on purpose, as drizzle's builders are
      then(resolve: (value: unknown) => void, reject: (error: unknown) => void) {
        ran = true;
        safeguards.run((scope) => scope.context.priority, { operationType: 'read' }).then(resolve, reject);
      },
    };
    const pending = safeguards.withContext({ priority: Priority.HIGH }, () => lazy);
    expect(ran).toBe(true);
    await expect(pending).resolves.toBe(Priority.HIGH);
  });

  it('returns native promises and plain values unchanged', () => {
    const { safeguards } = setup();
    const promise = Promise.resolve(1);
    expect(safeguards.withContext({}, () => promise)).toBe(promise);
    expect(safeguards.withContext({}, () => 42)).toBe(42);
  });
});
