import { describe, expect, it } from 'vitest';
import type { ErrorReason } from '../errors/error-reason.js';
import { SafeguardError } from '../errors/safeguard-error.js';
import { createSafeguards } from '../safeguards.js';
import { ErrorLog } from './error-log.js';

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
});
