import type { RunContext } from '@db-safeguards/core';
import { type StatementKind, statementKind } from './statement-kind.js';

const contexts: Record<StatementKind, RunContext> = {
  read: Object.freeze({ operationType: 'read', atomic: true }),
  write: Object.freeze({ operationType: 'write', atomic: true }),
};

/**
 * The context of one statement. `atomic`: a single statement either applied or did not, so a failure
 * the database reports (serialization failure, refused connection) may be rerun even for a write.
 * Priority, deadline, signal and identity are left out on purpose: they come from the ambient context
 * (`safeguards.withContext`) that the request handler sets.
 */
export function statementContext(text: string): RunContext {
  return contexts[statementKind(text)];
}

/** The context of work whose kind is known without reading SQL. */
export function contextOf(kind: StatementKind): RunContext {
  return contexts[kind];
}

/** A whole transaction: one slot, rerun as a whole after a serialization failure or deadlock. */
export const transactionContext: RunContext = Object.freeze({ operationType: 'write', atomic: true });

/**
 * A streamed query (a postgres.js cursor or `forEach`) may have handed rows to the caller before it
 * failed: never rerun it.
 */
export function streamedContext(text: string): RunContext {
  return { operationType: statementKind(text), atomic: false, idempotent: false };
}

/**
 * One `migrate()` call: one slot for the whole run, its own deadline (migrations may take longer than a
 * request), atomic (drizzle applies the pending migrations in one transaction).
 */
export function migrationContext(timeoutMs: number): RunContext {
  return { operationType: 'write', atomic: true, timeoutMs, label: 'migrate' };
}

/** Calls `listener` once when `signal` aborts (at once if it already has); returns a detach function. */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  if (signal.aborted) {
    listener();
    return () => {};
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
