import { describe, expect, it } from 'vitest';
import { SafeguardError } from '../errors/safeguard-error.js';
import { createSafeguards } from '../safeguards.js';
import { ErrorLog } from './error-log.js';

const failure = (reason: string) => new SafeguardError({ type: 'CONNECTION', reason });

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
    for (const reason of ['a', 'b', 'c']) log.record(failure(reason));
    expect(log.recent().map((entry) => entry.reason)).toEqual(['c', 'b']);
    expect(log.counts()).toEqual({ total: 3, byType: { CONNECTION: 3 } });
    const single = new ErrorLog(1);
    single.record(failure('x'));
    single.record(failure('y'));
    expect(single.recent().map((entry) => entry.reason)).toEqual(['y']);
  });
});
