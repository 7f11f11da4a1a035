import type { PostgresJsLine } from './query-internals.js';

/**
 * postgres.js 3.4 (porsager/postgres #1154, #1208): when a transaction's backend dies, the driver still
 * writes ROLLBACK (or the next statement) to the connection, whose socket it has already dropped; the
 * write runs from `setImmediate` and throws `Cannot read properties of null (reading 'write')` where no
 * caller can catch it, which ends the process. The driver writes that ROLLBACK when the transaction
 * callback settles. So on 3.4, after a connection-class error, the callback's settlement waits until the
 * driver has seen the connection close (it then rejects the transaction itself, with the connection
 * error) or for at most `closeWaitMs`; once the connection is known lost, the callback never settles, so
 * nothing is written to the dead connection, and the transaction's later queries are failed before they
 * are written (`scopeQueries`). 4.x rewrote its connection and writes nothing to a closed socket (the
 * killed-backend test checks both lines).
 */
export function holdUntilClosed(
  line: PostgresJsLine,
  state: { lost: boolean },
  begun: Promise<unknown>,
  callback: () => unknown,
): Promise<unknown> {
  const result = new Promise<unknown>((resolve) => resolve(callback()));
  if (line !== '3.4') return result;
  const never = () => new Promise<never>(() => {});
  return result.then(
    (value) => (state.lost ? never() : value),
    async (error: unknown) => {
      if (isConnectionLoss(error)) await settledOrTimedOut(begun, closeWaitMs);
      if (state.lost) return never();
      throw error;
    },
  );
}

/** How long a 3.4 transaction waits for the driver to notice a lost connection before rolling back. */
const closeWaitMs = 2_000;

/** The error a transaction query gets when its connection is already known to be lost. */
export function lostConnectionError(): Error {
  return Object.assign(new Error('write CONNECTION_CLOSED: the connection of this transaction was lost'), {
    code: 'CONNECTION_CLOSED',
  });
}

function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    /^(?:08|57P0)/.test(code) ||
    ['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code)
  );
}

async function settledOrTimedOut(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      (timer as { unref?: () => void }).unref?.();
    }),
  ]);
  clearTimeout(timer);
  // The transaction's own rejection handler (which sets `lost`) ran before this continuation.
  await null;
}
