import { UnsupportedDriverError } from '../errors/unsupported-driver-error.js';

/** The postgres.js versions this package is tested with (the 3.4 line, unpatched, and 4.x). */
export const postgresJsRange = '>=3.4.0 <5';

type Handler = (query: LazyQuery) => unknown;

/**
 * The parts of a postgres.js `Query` this package relies on, common to 3.4 and 4.x. A query is a lazy
 * promise: its `handler(query)` is called once, a microtask after it is first awaited (or `execute()`d),
 * in the awaiting caller's async context; the driver then settles the query's own promise through
 * `query.reject(error)` / `resolve(rows)` (own functions in 3.4, methods in 4.x: always call them as
 * methods). `cancel()` removes a waiting query or sends a CancelRequest (57014).
 */
export interface LazyQuery extends Promise<unknown> {
  handler: Handler;
  reject(error: unknown): void;
  cancel(): unknown;
  execute(): unknown;
  describe(): unknown;
  strings: readonly string[];
  isRaw?: unknown;
  onlyDescribe?: unknown;
  cursorFn?: unknown;
  forEachFn?: unknown;
}

/** Which postgres.js line a client comes from, told by its query objects' shape. */
export type PostgresJsLine = '3.4' | '4';

export function isLazyQuery(value: unknown): value is LazyQuery {
  return (
    value instanceof Promise &&
    typeof (value as { handler?: unknown }).handler === 'function' &&
    typeof (value as { execute?: unknown }).execute === 'function' &&
    typeof (value as { cancel?: unknown }).cancel === 'function'
  );
}

/**
 * Tells the postgres.js line of `client` from an unsent query's shape, or throws
 * {@link UnsupportedDriverError} naming the supported range: a client this file does not understand is
 * refused at creation, never at its first query.
 */
export function detectPostgresJsLine(client: unknown): PostgresJsLine {
  const sql = client as {
    unsafe?: (text: string) => unknown;
    begin?: unknown;
    options?: { connection?: unknown };
  };
  if (typeof client !== 'function' || typeof sql.unsafe !== 'function' || typeof sql.begin !== 'function')
    throw new UnsupportedDriverError(
      'postgres',
      postgresJsRange,
      'the client is not a postgres.js `sql` instance',
    );
  const probe = sql.unsafe('select 1'); // lazy: never sent
  if (!isLazyQuery(probe) || typeof sql.options?.connection !== 'object')
    throw new UnsupportedDriverError('postgres', postgresJsRange, 'its query objects have an unknown shape');
  const query = probe as unknown as Record<string, unknown>;
  if (typeof query.fulfil === 'function' && typeof query.watch === 'function') return '4';
  if (Object.hasOwn(query, 'resolve') && typeof query.canceller !== 'undefined') return '3.4';
  throw new UnsupportedDriverError('postgres', postgresJsRange, 'its query objects have an unknown shape');
}

/** Settles with `query`'s own outcome without starting it (the driver's `then` would dispatch it). */
export function outcomeOf(query: LazyQuery): Promise<unknown> {
  return new Promise((resolve, reject) => {
    Promise.prototype.then.call(query, resolve, reject);
  });
}

/**
 * Routes every future dispatch of `query` through `dispatch(original, query)`. The handler is replaced by
 * a Proxy of itself, so the properties the driver reads on it (`options`, `cancel`, `debug`) still work.
 */
export function interceptDispatch(
  query: LazyQuery,
  dispatch: (original: Handler, query: LazyQuery) => void,
): void {
  query.handler = new Proxy(query.handler, {
    apply: (original, _thisArg, args: unknown[]) => dispatch(original, args[0] as LazyQuery),
  });
}

/** Starts the driver's handling of `query` now; a synchronous throw fails the query instead. */
export function dispatchNow(original: Handler, query: LazyQuery): void {
  try {
    original(query);
  } catch (error) {
    query.reject(error);
  }
}

/** Asks the server to cancel `query` if it is running; a failed cancel is not the caller's error. */
export function cancelQuery(query: LazyQuery): void {
  try {
    const pending = query.cancel() as Promise<unknown> | undefined;
    if (pending && typeof pending.catch === 'function') pending.catch(() => {});
  } catch {
    // Nothing to cancel.
  }
}
