import { describe, expect, it } from 'vitest';
import { classifyError } from '../errors/classify-error.js';
import { SafeguardError } from '../errors/safeguard-error.js';
import { breakerVerdict, isSystemFailure } from './failure-policy.js';

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
