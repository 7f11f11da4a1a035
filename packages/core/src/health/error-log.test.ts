import { describe, expect, it } from 'vitest';
import type { ErrorReason } from '../errors/error-reason.js';
import { SafeguardError } from '../errors/safeguard-error.js';
import { createSafeguards } from '../safeguards.js';
import { ErrorLog, refusalBurstGapMs } from './error-log.js';

const failure = (reason: ErrorReason<'CONNECTION'>) => new SafeguardError({ type: 'CONNECTION', reason });

describe('ErrorLog', () => {
  it('regression: a capacity that is not a positive integer fails at construction, naming errorLogSize', () => {
    // -1 used to throw a RangeError from `new Array`; 0 wrote entries at index NaN.
    for (const capacity of [-1, 0, 1.5, Number.NaN, 100_001, '10' as unknown as number]) {
      expect(() => new ErrorLog(capacity), String(capacity)).toThrow(TypeError);
      expect(() => new ErrorLog(capacity)).toThrow(
        /^Expected errorLogSize to be an integer between 1 and 100000, got /,
      );
    }
    expect(() => createSafeguards({ errorLogSize: 0 })).toThrow(/errorLogSize/);
  });

  it('keeps the newest `capacity` entries, newest first, and counts every one', () => {
    const log = new ErrorLog(2);
    const reasons = ['connection-lost', 'connection-reset', 'network-error'] as const;
    for (const reason of reasons) log.record(failure(reason));
    expect(log.recent().map((entry) => entry.reason)).toEqual(['network-error', 'connection-reset']);
    expect(log.counts()).toEqual({ total: 3, byType: { CONNECTION: 3 } });
    const single = new ErrorLog(1);
    single.record(failure('dns-failure'));
    single.record(failure('host-unreachable'));
    expect(single.recent().map((entry) => entry.reason)).toEqual(['host-unreachable']);
  });

  it('summarises refusals one row per burst, apart from errors, and a new burst after a quiet gap', () => {
    const log = new ErrorLog(2);
    log.record(failure('connection-lost'));
    const shed = new SafeguardError({ type: 'QUEUE_FULL', reason: 'shed', internalMessage: 'shed: NORMAL' });
    for (let i = 0; i < 5000; i++) log.recordRefusal(shed, 'auth.me', 1_000 + i);
    log.recordRefusal(new SafeguardError({ type: 'RATE_LIMIT', reason: 'rate-limit' }), 'auth.me', 7_000);
    expect(log.recent().map((entry) => entry.reason)).toEqual(['connection-lost']);
    expect(log.refusals()).toMatchObject([
      { type: 'RATE_LIMIT', count: 1, label: 'auth.me' },
      { type: 'QUEUE_FULL', reason: 'shed', count: 5000, message: 'shed: NORMAL' },
    ]);
    // Quiet for longer than the gap: the next shed call starts a second row.
    log.recordRefusal(shed, 'auth.me', 6_000 + refusalBurstGapMs + 1);
    expect(
      log
        .refusals()
        .filter((burst) => burst.reason === 'shed')
        .map((burst) => burst.count),
    ).toEqual([1, 5000]);
    expect(log.counts()).toEqual({ total: 5003, byType: { CONNECTION: 1, QUEUE_FULL: 5001, RATE_LIMIT: 1 } });
    // However many kinds and bursts, the rows stay bounded.
    for (let i = 0; i < 1000; i++) log.recordRefusal(shed, `label-${i}`, 100_000);
    expect(log.refusals({ limit: 1000 })).toHaveLength(100);
  });

  it('a client repeating its own mistakes cannot push the failures of the system out', () => {
    const log = new ErrorLog(3);
    log.record(failure('connection-lost'));
    const conflict = new SafeguardError({ type: 'CONFLICT', reason: 'unique-violation' });
    for (let i = 0; i < 100; i++) log.record(conflict);
    expect(log.recent({ type: 'CONNECTION' }).map((entry) => entry.reason)).toEqual(['connection-lost']);
    expect(log.recent()).toHaveLength(4);
  });
});
