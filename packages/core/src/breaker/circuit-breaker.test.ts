import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import { BreakerRegistry } from './breaker-registry.js';
import type { BreakerState } from './breaker-state.js';
import { type BreakerStateChange, type BreakerTransitionReason, CircuitBreaker } from './circuit-breaker.js';

function fail(breaker: CircuitBreaker, times = 1) {
  for (let i = 0; i < times; i++) {
    const permit = breaker.tryAcquire();
    if (permit) breaker.recordFailure(permit);
  }
}

function succeed(breaker: CircuitBreaker, times = 1) {
  for (let i = 0; i < times; i++) {
    const permit = breaker.tryAcquire();
    if (permit) breaker.recordSuccess(permit);
  }
}

describe('CircuitBreaker', () => {
  it('opens after the consecutive-failure threshold and rejects with the time until probing', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'primary',
      { failureThreshold: 5, successThreshold: 2, openDurationMs: 30_000 },
      clock,
    );
    fail(breaker, 4);
    expect(breaker.state).toBe('CLOSED');
    fail(breaker);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.tryAcquire()).toBeUndefined();
    clock.set(clock.now() + 10_000);
    expect(breaker.rejection()).toMatchObject({
      type: 'CIRCUIT_BREAKER',
      reason: 'circuit-open',
      retryAfterMs: 20_000,
      notApplied: true,
    });
  });

  it('a success resets the consecutive count', () => {
    const breaker = new CircuitBreaker('primary', { failureThreshold: 3 });
    fail(breaker, 2);
    succeed(breaker);
    fail(breaker, 2);
    expect(breaker.state).toBe('CLOSED');
  });

  it('half-opens after the open duration, admits a bounded number of probes, and closes after enough successes', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'primary',
      { failureThreshold: 1, successThreshold: 2, openDurationMs: 1000, halfOpenMaxProbes: 2 },
      clock,
    );
    fail(breaker);
    clock.set(clock.now() + 1000);
    expect(breaker.state).toBe('HALF_OPEN');
    const probe1 = breaker.tryAcquire()!;
    const probe2 = breaker.tryAcquire()!;
    expect(probe1.probe && probe2.probe).toBe(true);
    expect(breaker.tryAcquire()).toBeUndefined();
    expect(breaker.rejection().reason).toBe('circuit-half-open');
    breaker.recordSuccess(probe1);
    expect(breaker.state).toBe('HALF_OPEN');
    breaker.recordSuccess(probe2);
    expect(breaker.state).toBe('CLOSED');
  });

  it('a failed probe opens it again for a full open duration', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'critical',
      { failureThreshold: 1, successThreshold: 1, openDurationMs: 1000 },
      clock,
    );
    fail(breaker);
    clock.set(clock.now() + 1000);
    const probe = breaker.tryAcquire()!;
    breaker.recordFailure(probe);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.msUntilHalfOpen()).toBe(1000);
  });

  it('a released probe frees its place without deciding anything', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'x',
      { failureThreshold: 1, successThreshold: 1, openDurationMs: 10, halfOpenMaxProbes: 1 },
      clock,
    );
    fail(breaker);
    clock.set(clock.now() + 10);
    const probe = breaker.tryAcquire()!;
    expect(breaker.tryAcquire()).toBeUndefined();
    breaker.release(probe);
    expect(breaker.tryAcquire()).toBeDefined();
    expect(breaker.state).toBe('HALF_OPEN');
  });

  it('ignores outcomes of calls admitted before a state change', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'x',
      { failureThreshold: 2, openDurationMs: 1000, successThreshold: 1 },
      clock,
    );
    const stale = breaker.tryAcquire()!;
    fail(breaker, 2);
    clock.set(clock.now() + 1000);
    expect(breaker.state).toBe('HALF_OPEN');
    breaker.recordSuccess(stale);
    expect(breaker.state).toBe('HALF_OPEN');
  });

  it('ratio mode opens when the failure rate in the window reaches the threshold', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'x',
      {
        mode: 'ratio',
        failureRateThreshold: 0.5,
        minimumRequests: 10,
        windowMs: 10_000,
        failureThreshold: 1000,
      },
      clock,
    );
    succeed(breaker, 6);
    fail(breaker, 3);
    expect(breaker.state).toBe('CLOSED');
    fail(breaker);
    expect(breaker.state).toBe('CLOSED');
    fail(breaker, 2);
    expect(breaker.state).toBe('OPEN');
  });

  it('ratio mode forgets outcomes older than the window', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'x',
      { mode: 'ratio', failureRateThreshold: 0.5, minimumRequests: 4, windowMs: 1000 },
      clock,
    );
    fail(breaker, 3);
    clock.set(clock.now() + 5000);
    succeed(breaker, 3);
    fail(breaker);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().failureRate).toBe(0.25);
  });

  it('ratio mode counts a success at the time the caller stamps it with (when the call started)', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(
      'x',
      { mode: 'ratio', failureRateThreshold: 0.5, minimumRequests: 3, windowMs: 1000 },
      clock,
    );
    const startedLongAgo = clock.now();
    clock.set(clock.now() + 5000);
    breaker.recordFailure(breaker.tryAcquire()!);
    // Stamped before the window, but reported now: counted, in the oldest bucket of the window.
    breaker.recordSuccess(breaker.tryAcquire()!, startedLongAgo);
    expect(breaker.stats().failureRate).toBe(0.5);
    breaker.recordSuccess(breaker.tryAcquire()!, clock.now() - 100);
    expect(breaker.stats().failureRate).toBeCloseTo(1 / 3);
    // One bucket (100 ms) later the oldest bucket, holding the long call, has left the window.
    clock.set(clock.now() + 100);
    expect(breaker.stats().failureRate).toBe(0.5);
  });

  it('forceOpen, reset and isolate, with state-change events', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker('x', { openDurationMs: 1000 }, clock);
    const changes: BreakerStateChange[] = [];
    const subscription = breaker.onStateChange((change) => changes.push(change));
    breaker.forceOpen();
    expect(breaker.state).toBe('OPEN');
    breaker.reset();
    expect(breaker.state).toBe('CLOSED');
    const first = breaker.isolate();
    const second = breaker.isolate();
    clock.set(clock.now() + 1_000_000);
    expect(breaker.state).toBe('ISOLATED');
    expect(breaker.tryAcquire()).toBeUndefined();
    first.dispose();
    expect(breaker.state).toBe('ISOLATED');
    second.dispose();
    second.dispose();
    expect(breaker.state).toBe('CLOSED');
    expect(changes.map((change) => `${change.from}>${change.to}:${change.reason}`)).toEqual([
      'CLOSED>OPEN:forced-open',
      'OPEN>CLOSED:reset',
      'CLOSED>ISOLATED:isolated',
      'ISOLATED>CLOSED:isolation-ended',
    ]);
    subscription.dispose();
    breaker.forceOpen();
    expect(changes).toHaveLength(4);
  });

  it('registry has the source design defaults and creates other names from primary', () => {
    const registry = new BreakerRegistry();
    expect(registry.get('primary').options).toMatchObject({
      failureThreshold: 5,
      successThreshold: 2,
      openDurationMs: 30_000,
    });
    expect(registry.get('critical').options).toMatchObject({
      failureThreshold: 3,
      successThreshold: 1,
      openDurationMs: 10_000,
    });
    expect(registry.get('batch').options).toMatchObject({
      failureThreshold: 10,
      successThreshold: 3,
      openDurationMs: 60_000,
    });
    expect(registry.get('reports').options.failureThreshold).toBe(5);
    const custom = new BreakerRegistry({ primary: { failureThreshold: 7 }, search: { failureThreshold: 2 } });
    expect(custom.get('primary').options.failureThreshold).toBe(7);
    expect(custom.get('critical').options.failureThreshold).toBe(3);
    expect(custom.get('search').options).toMatchObject({ failureThreshold: 2, successThreshold: 2 });
    expect(custom.get('unknown').options.failureThreshold).toBe(7);
  });

  it('validates options with the breaker name in the message', () => {
    expect(() => new BreakerRegistry({ primary: { failureThreshold: 0 } })).toThrow(
      /breakers.primary.failureThreshold.*got 0/,
    );
    expect(() => new BreakerRegistry({ batch: { mode: 'sometimes' as never } })).toThrow(
      /breakers.batch.mode/,
    );
  });
});

describe('CircuitBreaker transitions (property-based)', () => {
  const legal = new Set([
    'CLOSED>OPEN',
    'OPEN>HALF_OPEN',
    'HALF_OPEN>CLOSED',
    'HALF_OPEN>OPEN',
    'CLOSED>ISOLATED',
    'OPEN>ISOLATED',
    'HALF_OPEN>ISOLATED',
    'ISOLATED>CLOSED',
    'OPEN>CLOSED',
    'HALF_OPEN>CLOSED',
  ]);
  // A step, and which outstanding permit it settles (any of them: the newest is usually current).
  // Calls and time are frequent, manual controls rare, so failures and probes really decide states.
  const step = fc.oneof(
    { weight: 6, arbitrary: fc.constant('acquire') },
    { weight: 3, arbitrary: fc.constant('success') },
    { weight: 5, arbitrary: fc.constant('failure') },
    { weight: 1, arbitrary: fc.constant('release') },
    { weight: 3, arbitrary: fc.constant('advance') },
    { weight: 1, arbitrary: fc.constantFrom('forceOpen', 'reset', 'isolate', 'endIsolation') },
  );
  const action = fc.tuple(step, fc.nat());

  const transitionsByReason: Record<BreakerTransitionReason, string[]> = {
    failures: ['CLOSED>OPEN'],
    'failure-rate': ['CLOSED>OPEN'],
    'probe-failed': ['HALF_OPEN>OPEN'],
    'probes-succeeded': ['HALF_OPEN>CLOSED'],
    'open-duration-elapsed': ['OPEN>HALF_OPEN'],
    'forced-open': ['CLOSED>OPEN', 'HALF_OPEN>OPEN'],
    reset: ['OPEN>CLOSED', 'HALF_OPEN>CLOSED', 'ISOLATED>CLOSED'],
    isolated: ['CLOSED>ISOLATED', 'OPEN>ISOLATED', 'HALF_OPEN>ISOLATED'],
    'isolation-ended': ['ISOLATED>CLOSED'],
  };
  const reasonsByStep = (mode: 'consecutive' | 'ratio'): Record<string, BreakerTransitionReason[]> => ({
    acquire: [],
    success: ['probes-succeeded'],
    failure: [mode === 'consecutive' ? 'failures' : 'failure-rate', 'probe-failed'],
    release: [],
    advance: [],
    forceOpen: ['forced-open'],
    reset: ['reset'],
    isolate: ['isolated'],
    endIsolation: ['isolation-ended'],
  });

  it('only ever makes legal transitions, with matching reasons', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'consecutive' | 'ratio'>('consecutive', 'ratio'),
        fc.array(action, { minLength: 20, maxLength: 200, size: 'max' }),
        (mode, actions) => {
          const clock = new ManualClock();
          const breaker = new CircuitBreaker(
            'p',
            {
              mode,
              failureThreshold: 3,
              successThreshold: 2,
              openDurationMs: 100,
              minimumRequests: 4,
              windowMs: 500,
            },
            clock,
          );
          const changes: BreakerStateChange[] = [];
          breaker.onStateChange((change) => changes.push(change));
          const permits: NonNullable<ReturnType<CircuitBreaker['tryAcquire']>>[] = [];
          const isolations: Array<{ dispose(): void }> = [];
          let previous: BreakerState = 'CLOSED';
          const take = (pick: number) => permits.splice(pick % permits.length, 1)[0]!;
          for (const [step, pick] of actions) {
            switch (step) {
              case 'acquire': {
                const permit = breaker.tryAcquire();
                if (permit) permits.push(permit);
                break;
              }
              case 'success':
                if (permits.length) breaker.recordSuccess(take(pick));
                break;
              case 'failure':
                if (permits.length) breaker.recordFailure(take(pick));
                break;
              case 'release':
                if (permits.length) breaker.release(take(pick));
                break;
              case 'advance':
                clock.set(clock.now() + 60);
                break;
              case 'forceOpen':
                breaker.forceOpen();
                break;
              case 'reset':
                breaker.reset();
                break;
              case 'isolate':
                isolations.push(breaker.isolate());
                break;
              case 'endIsolation':
                isolations.shift()?.dispose();
                break;
            }
            const state = breaker.state;
            for (const change of changes.splice(0)) {
              const transition = `${change.from}>${change.to}`;
              expect(legal.has(transition)).toBe(true);
              expect(change.from).toBe(previous);
              // The reason fits the transition, and the step that caused it (half-opening happens lazily,
              // whenever the breaker is consulted after its open duration).
              expect(transitionsByReason[change.reason]).toContain(transition);
              if (change.reason !== 'open-duration-elapsed') {
                expect(reasonsByStep(mode)[step]).toContain(change.reason);
              }
              previous = change.to;
            }
            expect(state).toBe(previous);
            if (state === 'OPEN' || state === 'ISOLATED') expect(breaker.tryAcquire()).toBeUndefined();
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
