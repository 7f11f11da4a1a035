import type { SafeguardError } from '../errors/safeguard-error.js';

/**
 * Does this failure say the database is full rather than broken? PostgreSQL's 53300 (`too many
 * clients`, `too many connections for role`, reserved slots), Neon's "Too many connections to this
 * endpoint" and "Failed to acquire permit to connect", and PgBouncer's "no more connections allowed"
 * are all classified as CONNECTION `too-many-connections`. The database is up and answering: such a
 * refusal lowers the process's own concurrency and is retried, but never counts against a breaker,
 * never switches read-only mode on, and never counts as a failure in health.
 */
export function isCapacitySignal(error: SafeguardError): boolean {
  return error.type === 'CONNECTION' && error.reason === 'too-many-connections';
}
