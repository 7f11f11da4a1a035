import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInfrastructureFailure } from '../pipeline/failure-policy.js';
import { driverErrorSamples } from '../testing/driver-error-samples.js';
import { classifyError } from './classify-error.js';
import { ErrorType, errorTypeDefaults } from './error-type.js';
import { createErrorId, isSafeguardError, SafeguardError } from './safeguard-error.js';
import { toUserFriendlyError } from './user-friendly-error.js';

describe('classifyError', () => {
  for (const sample of driverErrorSamples) {
    it(`classifies ${sample.name}`, () => {
      const error = sample.create();
      const classified = classifyError(error);
      expect({ type: classified.type, reason: classified.reason, retryable: classified.retryable }).toEqual(
        sample.expected,
      );
      expect(classified.cause).toBe(error);
    });
  }

  it('keeps SQLSTATE, constraint and table from every driver field spelling', () => {
    const postgresJs = Object.assign(new Error('dup'), {
      name: 'PostgresError',
      code: '23505',
      constraint_name: 'c1',
      table_name: 't1',
    });
    const pg = Object.assign(new Error('dup'), {
      name: 'error',
      code: '23505',
      constraint: 'c2',
      table: 't2',
    });
    expect(classifyError(postgresJs)).toMatchObject({ sqlState: '23505', constraint: 'c1', table: 't1' });
    expect(classifyError(pg)).toMatchObject({ sqlState: '23505', constraint: 'c2', table: 't2' });
  });

  it('returns a SafeguardError found anywhere in the chain unchanged', () => {
    const inner = new SafeguardError({ type: 'QUEUE_FULL', reason: 'displaced' });
    const wrapped = Object.assign(new Error('Failed query: select 1'), {
      name: 'DrizzleQueryError',
      cause: inner,
    });
    expect(classifyError(inner)).toBe(inner);
    expect(classifyError(wrapped)).toBe(inner);
  });

  it('never reads a message that carries SQL (drizzle)', () => {
    const error = Object.assign(
      new Error('Failed query: select * from t where note = $1\nparams: too many connections'),
      {
        name: 'DrizzleQueryError',
      },
    );
    const classified = classifyError(error);
    expect(classified.type).toBe('INTERNAL');
    expect(classified.internalMessage).not.toContain('select');
  });

  it('flattens ZodError issues for clients', () => {
    const classified = classifyError(
      driverErrorSamples.find((sample) => sample.name === 'ZodError')!.create(),
    );
    expect(classified.issues).toEqual([
      { path: 'item.amount', message: 'Too small: expected number to be >0' },
    ]);
  });

  it('marks what the database certainly did not apply', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: '40001' })).notApplied).toBe(true);
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).notApplied).toBe(true);
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNRESET' })).notApplied).toBe(false);
    expect(classifyError(Object.assign(new Error('x'), { code: '57P01' })).notApplied).toBe(false);
    expect(classifyError(Object.assign(new Error('x'), { code: '08007' })).notApplied).toBe(false);
  });

  it('gives every error the fields a client and an operator need', () => {
    const classified = classifyError(Object.assign(new Error('too many'), { code: '53300' }));
    expect(classified).toMatchObject({
      type: 'CONNECTION',
      severity: 'critical',
      retryable: true,
      httpStatus: 503,
    });
    expect(classified.retryAfterMs).toBeGreaterThan(0);
    expect(classified.errorId).toMatch(/^err_[0-9a-f]{16}$/);
    expect(classified.suggestedActions.length).toBeGreaterThan(0);
    expect(classified.message).toBe(classified.userMessage);
  });

  it('survives cycles, throwing getters, proxies and non-errors', () => {
    const cyclic: { message: string; cause?: unknown } = { message: 'loop' };
    cyclic.cause = cyclic;
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const prototypeTrap = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    const getter = Object.defineProperty(new Error('x'), 'code', {
      get() {
        throw new Error('boom');
      },
    });
    for (const value of [
      cyclic,
      hostile,
      prototypeTrap,
      getter,
      null,
      undefined,
      42,
      'text',
      Symbol('s'),
      () => 1,
      [],
      new Map(),
    ]) {
      const classified = classifyError(value);
      expect(isSafeguardError(classified)).toBe(true);
      // 'unexpected' is the classifier's own verdict; its catch-all would say 'unclassifiable'.
      expect({ type: classified.type, reason: classified.reason }).toEqual({
        type: 'INTERNAL',
        reason: 'unexpected',
      });
      expect(classified.cause).toBe(value);
    }
  });

  it('never throws, always returns a typed error, and never shows SQL, parameters, stacks or connection strings (property)', () => {
    const secret = 'postgres://app:hunter2@db.example.com/prod';
    const anyError = fc.oneof(
      fc.anything(),
      fc.record({
        name: fc.string(),
        message: fc.string(),
        code: fc.oneof(fc.string(), fc.constantFrom('23505', '53300', 'XX000', '08P01', 'ECONNRESET')),
        cause: fc.anything(),
      }),
      fc.string().map((text) => new Error(`Failed query: select '${secret}' ${text}\nparams: ${secret}`)),
      fc
        .string()
        .map((text) => Object.assign(new Error(`connection to ${secret} failed ${text}`), { code: '08001' })),
    );
    fc.assert(
      fc.property(anyError, (value) => {
        const classified = classifyError(value);
        expect(Object.values(ErrorType)).toContain(classified.type);
        const friendly = JSON.stringify(toUserFriendlyError(value));
        expect(friendly).not.toContain('hunter2');
        expect(classified.internalMessage).not.toContain('hunter2');
        expect(friendly).not.toMatch(/select |Failed query|params:|\n\s+at /);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('SQLSTATEs with a letter in their class', () => {
  it.each([
    ['3D000', 'undefined-database'],
    ['3F000', 'undefined-schema'],
    ['0A000', 'feature-not-supported'],
    ['2BP01', 'dependent-objects-still-exist'],
    ['0B000', 'database-error'],
    ['2D000', 'database-error'],
  ])('%s is recognised and kept as sqlState', (code, reason) => {
    const classified = classifyError(Object.assign(new Error('x'), { name: 'error', code }));
    expect(classified).toMatchObject({ type: 'DATABASE', reason, sqlState: code, retryable: false });
  });

  it('28000 and 28P01 are CONNECTION on purpose, and never retried', () => {
    for (const code of ['28000', '28P01'])
      expect(classifyError(Object.assign(new Error('x'), { name: 'error', code }))).toMatchObject({
        type: 'CONNECTION',
        reason: 'database-authentication-failed',
        retryable: false,
        severity: 'critical',
      });
  });

  it('errno names of five capitals are not taken for SQLSTATEs', () => {
    const classified = classifyError(
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' }),
    );
    expect(classified).toMatchObject({ type: 'CONNECTION', reason: 'connection-lost', sqlState: undefined });
  });
});

describe('Neon HTTP errors', () => {
  it('a 429 is the same too-many-connections as 53300: critical, with its user message', () => {
    const neon429 = classifyError(
      Object.assign(new Error('Server error (HTTP status 429): Too Many Requests'), { name: 'NeonDbError' }),
    );
    const sqlState53300 = classifyError(Object.assign(new Error('too many'), { code: '53300' }));
    for (const field of [
      'type',
      'reason',
      'severity',
      'retryable',
      'userMessage',
      'suggestedActions',
    ] as const)
      expect(neon429[field]).toEqual(sqlState53300[field]);
  });

  it('a 4xx body with a SQLSTATE is classified by it', () => {
    const classified = classifyError(
      new Error(
        'Server error (HTTP status 404): {"code":"3D000","message":"database \\"x\\" does not exist"}',
      ),
    );
    expect(classified).toMatchObject({ type: 'DATABASE', reason: 'undefined-database', sqlState: '3D000' });
  });

  it('a 4xx body that says nothing is a non-retryable DATABASE error', () => {
    expect(classifyError(new Error('Server error (HTTP status 413): payload too large'))).toMatchObject({
      type: 'DATABASE',
      reason: 'database-http-error',
      retryable: false,
    });
  });

  it('a JSON body that is not an object, or broken JSON, falls back to the status', () => {
    for (const body of ['[1,2]', '{"message":', 'null'])
      expect(classifyError(new Error(`Server error (HTTP status 500): ${body}`))).toMatchObject({
        type: 'CONNECTION',
        reason: 'database-http-error',
        retryable: true,
      });
  });
});

describe('WebSocket error events', () => {
  it('an event is told from an Error or a plain object that merely has type "error"', () => {
    expect(classifyError({ type: 'error', message: 'something' })).toMatchObject({ type: 'INTERNAL' });
    expect(classifyError(Object.assign(new Error('x'), { type: 'error' }))).toMatchObject({
      type: 'INTERNAL',
    });
    expect(classifyError({ type: 'error', target: null, message: '' })).toMatchObject({
      type: 'CONNECTION',
      reason: 'websocket-failed',
    });
  });
});

describe('57014: our statement timeout or a cancel', () => {
  const canceled = (message: string) => classifyError(Object.assign(new Error(message), { code: '57014' }));

  it('a statement timeout is our deadline and counts against the breaker; a cancel does not', () => {
    const timeout = canceled('canceling statement due to statement timeout');
    const cancel = canceled('canceling statement due to user request');
    expect(timeout).toMatchObject({ type: 'TIMEOUT', reason: 'statement-timeout', retryable: false });
    expect(cancel).toMatchObject({ type: 'TIMEOUT', reason: 'query-cancelled', retryable: false });
    expect(isInfrastructureFailure(timeout)).toBe(true);
    expect(isInfrastructureFailure(cancel)).toBe(false);
  });

  it('a 57014 without a known message stays a statement timeout', () => {
    expect(canceled('')).toMatchObject({ reason: 'statement-timeout' });
  });
});

describe('toUserFriendlyError', () => {
  it('is plain JSON with the message, actions, retry hints and error ID', () => {
    const friendly = toUserFriendlyError(Object.assign(new Error('x'), { code: '53300' }));
    expect(JSON.parse(JSON.stringify(friendly))).toEqual(friendly);
    expect(friendly).toMatchObject({ type: 'CONNECTION', retryable: true, degraded: false });
    expect(friendly.retryAfterMs).toBeGreaterThan(0);
  });

  it('has a default message and status for every type', () => {
    for (const type of Object.values(ErrorType)) {
      const friendly = toUserFriendlyError(new SafeguardError({ type }));
      expect(friendly.message).toBe(errorTypeDefaults[type].userMessage);
      expect(friendly.httpStatus).toBe(errorTypeDefaults[type].httpStatus);
    }
  });
});

describe('createErrorId', () => {
  it('gives distinct err_<16 hex> IDs, also across refills of its random pool', () => {
    const ids = Array.from({ length: 1000 }, () => createErrorId());
    for (const id of ids) expect(id).toMatch(/^err_[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
