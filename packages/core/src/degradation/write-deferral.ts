import { classifyError } from '../errors/classify-error.js';
import { isUnavailableType } from '../errors/error-type.js';
import type { SafeguardError } from '../errors/safeguard-error.js';

/**
 * Receives a write that could not be applied now, to apply it later (an outbox table, a job queue,
 * the client's offline store). Returns an id the client can show or poll.
 */
export type DeferWrite<Payload> = (payload: Payload, error: SafeguardError) => Promise<string> | string;

export type WriteOutcome<T> =
  | { status: 'applied'; value: T }
  | { status: 'deferred'; receiptId: string; error: SafeguardError };

/**
 * Runs `write`; if it fails because the database is unavailable AND the failure proves nothing was
 * applied, hands `payload` to `defer` and reports the write as deferred. A write whose outcome is
 * unknown (connection lost mid-statement) is never deferred: applying it later could apply it twice.
 */
export async function applyOrDefer<T, Payload>(
  write: () => Promise<T>,
  payload: Payload,
  defer: DeferWrite<Payload>,
): Promise<WriteOutcome<T>> {
  try {
    return { status: 'applied', value: await write() };
  } catch (error) {
    const classified = classifyError(error);
    if (!isUnavailableType(classified.type) || !classified.notApplied) throw classified;
    return { status: 'deferred', receiptId: await defer(payload, classified), error: classified };
  }
}
