import { type Classification, rejected, transient } from './classification.js';

/**
 * A SQLSTATE: five digits or capitals. The class (the first two) starts with a digit (08, 0A, 2B, 3D,
 * ...) or is one of PostgreSQL's lettered classes (F0, HV, P0, XX); that rule also keeps errno names
 * such as EPIPE from passing for one.
 */
const sqlStatePattern = /^(?:[0-9][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/;

export function isSqlState(code: unknown): code is string {
  return typeof code === 'string' && sqlStatePattern.test(code);
}

const tooManyConnections = transient('CONNECTION', 'too-many-connections', true, 1000, {
  severity: 'critical',
  userMessage: 'Our database is at its connection limit right now.',
  suggestedActions: ['Try again in a few seconds.'],
});

/**
 * Exact SQLSTATEs. The mapping follows PostgreSQL's error classes; see the "PostgreSQL errors" table in
 * the package README for why each is or is not retried.
 */
const exact: Readonly<Record<string, Classification>> = {
  // Class 08: connection exceptions. A lost connection leaves the in-flight statement's outcome unknown;
  // a connection that was never made applied nothing.
  '08000': transient('CONNECTION', 'connection-lost', false, 200),
  '08003': transient('CONNECTION', 'connection-lost', false, 200),
  '08006': transient('CONNECTION', 'connection-lost', false, 200),
  '08001': transient('CONNECTION', 'cannot-connect', true, 500),
  '08004': transient('CONNECTION', 'connection-rejected', true, 500),
  '08007': transient('CONNECTION', 'transaction-resolution-unknown', false, 500, { severity: 'critical' }),
  // Class 53: resources.
  '53300': tooManyConnections,
  '53000': transient('DATABASE', 'insufficient-resources', true, 1000),
  '53200': transient('DATABASE', 'out-of-memory', true, 1000),
  '53100': rejected('DATABASE', 'disk-full', {
    severity: 'critical',
    userMessage: "We can't save changes right now because the database is out of space.",
    suggestedActions: ['You can still view your data. Try saving again later.'],
  }),
  '53400': rejected('DATABASE', 'configuration-limit-exceeded', { severity: 'high' }),
  // Class 57: operator intervention. 57P01 is what a suspending Neon compute sends to open connections.
  '57P01': transient('CONNECTION', 'admin-shutdown', false, 200),
  '57P02': transient('CONNECTION', 'crash-shutdown', false, 500),
  '57P03': transient('CONNECTION', 'cannot-connect-now', true, 500),
  '57P05': transient('CONNECTION', 'idle-session-timeout', false, 100),
  // Class 40: the transaction was rolled back; rerun the whole transaction, never one statement.
  '40001': transient('DATABASE', 'serialization-failure', true, 50, { severity: 'low' }),
  '40P01': transient('DATABASE', 'deadlock', true, 50, { severity: 'medium' }),
  '40002': rejected('CONFLICT', 'integrity-constraint-violation'),
  '40003': transient('DATABASE', 'statement-completion-unknown', false, 200),
  '55P03': transient('DATABASE', 'lock-not-available', true, 200),
  '25P02': rejected('DATABASE', 'in-failed-transaction', { severity: 'high' }),
  '25006': rejected('DATABASE', 'read-only-transaction', { severity: 'high' }),
  // Class 23: integrity constraints.
  '23505': rejected('CONFLICT', 'unique-violation', {
    userMessage: 'This already exists.',
    suggestedActions: ['Refresh to see the existing entry.'],
  }),
  '23503': rejected('CONFLICT', 'foreign-key-violation', {
    userMessage: 'This refers to something that no longer exists, or is still in use elsewhere.',
  }),
  '23P01': rejected('CONFLICT', 'exclusion-violation'),
  '23000': rejected('CONFLICT', 'integrity-constraint-violation'),
  '23001': rejected('CONFLICT', 'restrict-violation'),
  '23502': rejected('VALIDATION', 'not-null-violation', { userMessage: 'A required value is missing.' }),
  '23514': rejected('VALIDATION', 'check-violation'),
  // Class 42 / 3D / 3F: bugs or deployment problems; 42501 can be row-level security saying no.
  '42501': rejected('AUTHORIZATION', 'insufficient-privilege'),
  '3D000': rejected('DATABASE', 'undefined-database', { severity: 'critical' }),
  '3F000': rejected('DATABASE', 'undefined-schema', { severity: 'critical' }),
  // Class 0A / 2B: a statement the server will not run as written; a bug, never an outage.
  '0A000': rejected('DATABASE', 'feature-not-supported', { severity: 'high' }),
  '2BP01': rejected('DATABASE', 'dependent-objects-still-exist'),
  // Class 28: the database refused our credentials. That is the server's configuration, not the user's
  // sign-in, so it is reported as a connection failure (503) rather than AUTHENTICATION (401).
  '28000': rejected('CONNECTION', 'database-authentication-failed', { severity: 'critical' }),
  '28P01': rejected('CONNECTION', 'database-authentication-failed', { severity: 'critical' }),
};

/**
 * 57014 query_canceled, split by its message. Our statement_timeout ("canceling statement due to
 * statement timeout") is our deadline: TIMEOUT statement-timeout, and it counts against the breaker.
 * A cancel request ("... due to user request": a driver cancelling for an aborted caller, or an
 * operator's pg_cancel_backend) is not our deadline and says nothing about the database's health:
 * TIMEOUT query-cancelled. Neither is retried: the same statement would be cut short again.
 */
const statementTimeout = rejected('TIMEOUT', 'statement-timeout');
const queryCancelled = rejected('TIMEOUT', 'query-cancelled');

/**
 * Classifies a SQLSTATE (`message` decides between 57014's timeout and cancel). Returns `undefined`
 * for XX000 (on Neon every proxy error carries it, so the message decides) and for 08P01 (PgBouncer's
 * own errors share it with real protocol violations).
 */
export function classifySqlState(code: string, message = ''): Classification | undefined {
  const known = exact[code];
  if (known) return known;
  if (code === '57014') return /due to user request/i.test(message) ? queryCancelled : statementTimeout;
  if (code === 'XX000' || code === '08P01') return undefined;
  const errorClass = code.slice(0, 2);
  switch (errorClass) {
    case '08':
      return transient('CONNECTION', 'connection-exception', false, 500);
    case '22':
      return rejected('VALIDATION', 'data-exception', {
        userMessage: 'Some of the values provided are not in a form we can store.',
      });
    case '23':
      return rejected('CONFLICT', 'integrity-constraint-violation');
    case '42':
      return rejected('DATABASE', 'invalid-statement', { severity: 'high' });
    case '53':
      return transient('DATABASE', 'insufficient-resources', true, 1000);
    case '57':
      return transient('CONNECTION', 'operator-intervention', false, 500);
    case '58':
      return rejected('DATABASE', 'system-error', { severity: 'critical' });
    case 'XX':
      return rejected('DATABASE', 'internal-error', { severity: 'critical' });
    default:
      return rejected('DATABASE', 'database-error');
  }
}

/** The fallback for XX000 when its message is not one of Neon's proxy messages. */
export const internalDatabaseError: Classification = rejected('DATABASE', 'internal-error', {
  severity: 'high',
});

/** 08P01 without one of PgBouncer's messages: a real protocol violation, a bug somewhere. */
export const protocolViolation: Classification = rejected('DATABASE', 'protocol-violation', {
  severity: 'high',
});

export { tooManyConnections };
