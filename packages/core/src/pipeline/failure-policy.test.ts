import { describe, expect, it } from 'vitest';
import { classifyError } from '../errors/classify-error.js';
import { SafeguardError } from '../errors/safeguard-error.js';
import { breakerVerdict, hadTimeToRun, isSystemFailure } from './failure-policy.js';

const postgresError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('isSystemFailure (the health report error rate)', () => {
  it('counts outages and our own timeouts', () => {
    expect(isSystemFailure(classifyError(postgresError('57P01', 'terminating connection')))).toBe(true);
    expect(
      isSystemFailure(classifyError(postgresError('57014', 'canceling statement due to statement timeout'))),
    ).toBe(true);
    expect(isSystemFailure(new SafeguardError({ type: 'TIMEOUT', reason: 'deadline' }))).toBe(true);
  });

  it('does not count a caller that gave up, a statement cancelled on request, or a user mistake', () => {
    const cancelled = classifyError(postgresError('57014', 'canceling statement due to user request'));
    expect(cancelled.reason).toBe('query-cancelled');
    expect(isSystemFailure(cancelled)).toBe(false);
    expect(isSystemFailure(new SafeguardError({ type: 'TIMEOUT', reason: 'aborted' }))).toBe(false);
    expect(isSystemFailure(classifyError(postgresError('23505', 'duplicate key value')))).toBe(false);
  });
});

describe('breakerVerdict', () => {
  it('a statement cancelled on request neither trips nor closes a breaker', () => {
    const cancelled = classifyError(postgresError('57014', 'canceling statement due to user request'));
    expect(breakerVerdict(cancelled, false)).toBe('neutral');
  });
});

describe('hadTimeToRun (does a missed deadline blame the database?)', () => {
  it('yes after half of the budget, or after 1 s whatever the budget', () => {
    expect(hadTimeToRun(100, 200)).toBe(true);
    expect(hadTimeToRun(99, 200)).toBe(false);
    expect(hadTimeToRun(1_000, 10_000)).toBe(true);
    expect(hadTimeToRun(999, 10_000)).toBe(false);
  });

  it('a deadline that passed before the attempt had time to run is neutral; one it had time for is a failure', () => {
    const deadline = new SafeguardError({ type: 'TIMEOUT', reason: 'deadline' });
    expect(breakerVerdict(deadline, true, false)).toBe('neutral');
    expect(breakerVerdict(deadline, false, false)).toBe('neutral');
    expect(breakerVerdict(deadline, true, true)).toBe('failure');
    // The database's own statement timeout is a slow query, however long the attempt waited first.
    const statementTimeout = classifyError(
      postgresError('57014', 'canceling statement due to statement timeout'),
    );
    expect(breakerVerdict(statementTimeout, false, false)).toBe('failure');
  });
});
