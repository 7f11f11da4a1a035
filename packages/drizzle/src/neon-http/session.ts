import type { Safeguards } from '@db-safeguards/core';
import { UnsupportedDriverError } from '../errors/unsupported-driver-error.js';
import { contextOf, statementContext, transactionContext } from '../internal/run-context.js';

/** The `@neondatabase/serverless` versions this package is tested with. */
export const neonHttpRange = '>=0.10.0 <2';

const guardedMark = Symbol.for('db-safeguards.drizzle.safeguarded');

type Execute = (queryData: unknown, opts?: unknown) => Promise<unknown>;

/**
 * The parts of a Neon `NeonQueryPromise` this file relies on: a lazy promise whose `then` runs
 * `execute(queryData, opts)` (one HTTP request); `transaction([...])` reads `queryData` and `opts` of
 * each and sends them together.
 */
interface LazyHttpQuery {
  execute: Execute;
  queryData: { query?: unknown; strings?: unknown } | undefined;
  opts?: Record<string, unknown> | undefined;
}

interface NeonQueryFunctionLike {
  (...args: unknown[]): unknown;
  query(...args: unknown[]): unknown;
  transaction(queries: unknown, opts?: Record<string, unknown>): Promise<unknown>;
}

function isLazyHttpQuery(value: unknown): value is LazyHttpQuery {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LazyHttpQuery).execute === 'function' &&
    'queryData' in value
  );
}

/** `opts` with `signal` added to its fetch options: aborting it aborts the HTTP request. */
function withSignal(opts: Record<string, unknown> | undefined, signal: AbortSignal): Record<string, unknown> {
  const fetchOptions = (opts?.fetchOptions as Record<string, unknown> | undefined) ?? {};
  return { ...opts, fetchOptions: { ...fetchOptions, signal } };
}

function textOf(query: LazyHttpQuery): string {
  const data = query.queryData;
  if (typeof data?.query === 'string') return data.query;
  return Array.isArray(data?.strings) ? (data.strings as string[]).join('$') : '';
}

/** Whether `client` is already a safeguarded client. */
export function isSafeguardedClient(client: unknown): boolean {
  return typeof client === 'function' && (client as unknown as Record<symbol, unknown>)[guardedMark] === true;
}

/**
 * Wraps Neon's HTTP query function (`neon(url)`): each query is one `safeguards.run` holding one slot
 * while its HTTP request is in flight (the deadline aborts the request), and each `transaction([...])`
 * (drizzle's `db.batch`) is one run holding one slot. There are no interactive transactions over HTTP.
 *
 * @throws UnsupportedDriverError when `client` is not a function returned by Neon's `neon()`.
 */
export function safeguardClient<F extends object>(client: F, safeguards: Safeguards): F {
  if (isSafeguardedClient(client)) return client;
  const raw = client as unknown as NeonQueryFunctionLike;
  if (typeof raw !== 'function' || typeof raw.query !== 'function' || typeof raw.transaction !== 'function')
    throw new UnsupportedDriverError(
      '@neondatabase/serverless',
      neonHttpRange,
      'the client is not a query function returned by neon()',
    );
  const probe = raw.query('select 1'); // lazy: never sent
  if (!isLazyHttpQuery(probe))
    throw new UnsupportedDriverError(
      '@neondatabase/serverless',
      neonHttpRange,
      'its queries have an unknown shape',
    );

  const guard = (result: unknown): unknown => {
    if (!isLazyHttpQuery(result)) return result;
    const query = result;
    let outcome: Promise<unknown> | undefined;
    const start = () => {
      outcome ??= safeguards.run(
        (scope) => query.execute(query.queryData, withSignal(query.opts, scope.signal)),
        statementContext(textOf(query)),
      );
      return outcome;
    };
    // Awaiting the query runs it under the safeguards; `transaction([...])` still reads its queryData.
    Object.defineProperties(query, {
      // biome-ignore lint/suspicious/noThenProperty: the query is a lazy promise; this replaces its `then`
      then: {
        configurable: true,
        value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
          start().then(onFulfilled, onRejected),
      },
      catch: {
        configurable: true,
        value: (onRejected?: (e: unknown) => unknown) => start().catch(onRejected),
      },
      finally: { configurable: true, value: (onFinally?: () => void) => start().finally(onFinally) },
    });
    return query;
  };

  const overrides: Record<PropertyKey, unknown> = {
    [guardedMark]: true,
    query: (...args: unknown[]) => guard(raw.query(...args)),
    transaction: (queries: unknown, opts?: Record<string, unknown>) => {
      const context = opts?.readOnly === true ? contextOf('read') : transactionContext;
      return safeguards.run((scope) => raw.transaction(queries, withSignal(opts, scope.signal)), context);
    },
  };
  const proxy = new Proxy(raw, {
    apply: (target, thisArg, args) => guard(Reflect.apply(target, thisArg, args)),
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      return Reflect.get(target, property);
    },
  });
  return proxy as unknown as F;
}
