import { type Classification, rejected, transient } from './classification.js';
import { tooManyConnections } from './sqlstate.js';

/** A message pattern and what it means. Order matters: the first match wins. */
interface MessageRule {
  pattern: RegExp;
  classification: Classification;
}

const neonQuota = rejected('CONNECTION', 'neon-quota-exceeded', {
  severity: 'critical',
  userMessage: 'Our database has reached its plan limits.',
  suggestedActions: ['Please try again later.'],
});

/**
 * Messages of Neon's proxy (SQLSTATE XX000, or inside an HTTP error body) and of PgBouncer (08P01).
 * Checked against the whole message, case-insensitively.
 */
const proxyRules: readonly MessageRule[] = [
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
  {
    pattern: /query_wait_timeout/i,
    classification: transient('CONNECTION', 'pool-wait-timeout', true, 1000),
  },
  { pattern: /no more connections allowed|max_client_conn/i, classification: tooManyConnections },
];

/**
 * Messages of errors that carry no SQLSTATE: what drivers say when a connection cannot be made or is
 * lost, and the server's connection-limit messages when a driver drops the code.
 */
const connectionRules: readonly MessageRule[] = [
  {
    pattern:
      /sorry, too many clients already|too many connections for role|remaining connection slots are reserved|too many connections/i,
    classification: tooManyConnections,
  },
  {
    pattern: /timeout exceeded when trying to connect/i,
    classification: transient('CONNECTION', 'pool-wait-timeout', true, 500),
  },
  {
    pattern: /connection terminated due to connection timeout/i,
    classification: transient('CONNECTION', 'connect-timeout', true, 500),
  },
  {
    pattern: /connection terminated unexpectedly/i,
    classification: transient('CONNECTION', 'connection-lost', false, 200),
  },
  {
    pattern: /terminating connection due to administrator command/i,
    classification: transient('CONNECTION', 'admin-shutdown', false, 200),
  },
  {
    pattern: /the database system is (?:starting up|shutting down|in recovery mode)/i,
    classification: transient('CONNECTION', 'cannot-connect-now', true, 500),
  },
  {
    pattern: /client has encountered a connection error/i,
    classification: transient('CONNECTION', 'connection-lost', false, 200),
  },
  {
    pattern: /cannot use a pool after calling end/i,
    classification: rejected('CONNECTION', 'client-closed'),
  },
  { pattern: /websocket/i, classification: transient('CONNECTION', 'websocket-failed', false, 500) },
  {
    pattern: /fetch failed|network ?error|socket hang up/i,
    classification: transient('CONNECTION', 'network-error', false, 500),
  },
];

function firstMatch(rules: readonly MessageRule[], message: string): Classification | undefined {
  for (const rule of rules) if (rule.pattern.test(message)) return rule.classification;
  return undefined;
}

export function classifyProxyMessage(message: string): Classification | undefined {
  return firstMatch(proxyRules, message);
}

export function classifyConnectionMessage(message: string): Classification | undefined {
  return firstMatch(connectionRules, message);
}
