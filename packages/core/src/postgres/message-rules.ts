import { type Classification, rejected, transient } from './classification.js';
import { tooManyConnections } from './sqlstate.js';

/** A message pattern and what it means. Order matters: the first match wins. */
interface MessageRule {
  pattern: RegExp;
  classification: Classification;
}

/** A WebSocket to the database failed; whether the statement got through is unknown. */
export const websocketFailed: Classification = transient('CONNECTION', 'websocket-failed', false, 500);

const neonQuota = rejected('CONNECTION', 'neon-quota-exceeded', {
  severity: 'critical',
  userMessage: 'Our database has reached its plan limits.',
  suggestedActions: ['Please try again later.'],
});

/**
 * Messages of Neon's proxy. Only read on errors that are Neon's: SQLSTATE XX000 (every proxy error
 * carries it), the body of a Neon HTTP error, or a NeonDbError. Checked case-insensitively.
 */
const neonProxyRules: readonly MessageRule[] = [
  {
    pattern: /couldn't connect to compute node/i,
    classification: transient('CONNECTION', 'neon-compute-unreachable', true, 500),
  },
  { pattern: /too many connections to this endpoint/i, classification: tooManyConnections },
  { pattern: /failed to acquire permit to connect/i, classification: tooManyConnections },
  {
    pattern: /endpoint is disabled/i,
    classification: rejected('CONNECTION', 'neon-endpoint-disabled', { severity: 'critical' }),
  },
  {
    pattern: /endpoint (?:cannot|could not) be found|endpoint .*not found/i,
    classification: rejected('CONNECTION', 'neon-endpoint-not-found', { severity: 'critical' }),
  },
  { pattern: /quota|project size limit|exceeded .*limit/i, classification: neonQuota },
  {
    pattern: /password authentication failed/i,
    classification: rejected('CONNECTION', 'database-authentication-failed', { severity: 'critical' }),
  },
];

/**
 * PgBouncer's own errors (Neon's pooled host), SQLSTATE 08P01. Only these make an 08P01 transient; any
 * other 08P01 is a real protocol violation.
 */
const pgBouncerRules: readonly MessageRule[] = [
  {
    pattern: /query_wait_timeout/i,
    classification: transient('CONNECTION', 'pool-wait-timeout', true, 1000),
  },
  { pattern: /no more connections allowed|max_client_conn/i, classification: tooManyConnections },
];

/**
 * pg's (and Neon's Pool's, a fork of it) own failures are plain Errors with no code or other field:
 * their exact, whole text is the only mark they carry, so they are matched exactly.
 */
const pgClientRules: readonly MessageRule[] = [
  {
    pattern: /^Connection terminated unexpectedly$/,
    classification: transient('CONNECTION', 'connection-lost', false, 200),
  },
  {
    pattern: /^Connection terminated due to connection timeout$/,
    classification: transient('CONNECTION', 'connect-timeout', true, 500),
  },
  {
    pattern: /^timeout exceeded when trying to connect$/,
    classification: transient('CONNECTION', 'pool-wait-timeout', true, 500),
  },
  {
    pattern: /^Client has encountered a connection error and is not queryable$/,
    classification: transient('CONNECTION', 'connection-lost', false, 200),
  },
  {
    pattern: /^(?:Cannot use a pool after calling end on the pool|Client was closed and is not queryable)$/,
    classification: rejected('CONNECTION', 'client-closed'),
  },
];

/**
 * What drivers and servers say when a connection cannot be made or is lost, for errors without a
 * SQLSTATE. Only read on driver-shaped errors (see `ErrorNode.driverShaped`): these words are common
 * in any app's errors ("network error", "too many connections" of some other service).
 */
const connectionRules: readonly MessageRule[] = [
  {
    pattern:
      /sorry, too many clients already|too many connections for role|remaining connection slots are reserved|too many connections/i,
    classification: tooManyConnections,
  },
  {
    pattern: /terminating connection due to administrator command/i,
    classification: transient('CONNECTION', 'admin-shutdown', false, 200),
  },
  {
    pattern: /the database system is (?:starting up|shutting down|in recovery mode)/i,
    classification: transient('CONNECTION', 'cannot-connect-now', true, 500),
  },
  { pattern: /websocket/i, classification: websocketFailed },
  {
    // Neon's HTTP driver when fetch itself fails; the runtime's words follow: Node "fetch failed",
    // browsers "Failed to fetch", Workers "Network connection lost", Deno "error sending request".
    pattern: /^Error connecting to database:|fetch failed|network ?error|socket hang up/i,
    classification: transient('CONNECTION', 'network-error', false, 500),
  },
];

function firstMatch(rules: readonly MessageRule[], message: string): Classification | undefined {
  for (const rule of rules) if (rule.pattern.test(message)) return rule.classification;
  return undefined;
}

/** Neon's proxy messages; call only for XX000, a Neon HTTP error body or a NeonDbError. */
export function classifyNeonProxyMessage(message: string): Classification | undefined {
  return firstMatch(neonProxyRules, message);
}

/** PgBouncer's messages; call only for SQLSTATE 08P01. */
export function classifyPgBouncerMessage(message: string): Classification | undefined {
  return firstMatch(pgBouncerRules, message);
}

/** pg's own connection failures, recognised by their exact text; safe on any error. */
export function classifyPgClientMessage(message: string): Classification | undefined {
  return firstMatch(pgClientRules, message);
}

/** Connection failures by their words; call only for driver-shaped errors. */
export function classifyConnectionMessage(message: string): Classification | undefined {
  return firstMatch(connectionRules, message);
}
