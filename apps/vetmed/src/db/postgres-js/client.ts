import type { Safeguards } from '@db-safeguards/core';
import type { Sql } from 'postgres';
import {
  onAbort,
  statementContext,
  streamedContext,
  transactionContext,
} from '../safeguarded/run-context.js';
import {
  isInTransactionCallback,
  misuseRejection,
  runInTransactionCallback,
  TransactionMisuseError,
} from '../safeguarded/transaction-scope.js';

const guardedMark = Symbol.for('vetmed.safeguarded');

type Settle = (value: unknown) => void;

/**
 * The parts of a postgres.js 3.4 `Query` (src/query.js) this file relies on. A query is a lazy
 * promise: `handler(query)` is called once, a microtask after it is first awaited (or `execute()`d),
 * in the awaiting caller's async context; the connection settles it through `resolve`/`reject`
 * (cursors reassign both); `cancel()` removes a waiting query or sends a CancelRequest (→ 57014).
 */
interface LazyQuery {
  handler: ((query: LazyQuery) => void) & { debug?: unknown };
  resolve: Settle;
  reject: Settle;
  cancel(): unknown;
  cancelled: unknown;
  executed: boolean;
  tagged: boolean;
  strings: readonly string[];
  args: unknown[];
  options: Record<string, unknown>;
  isRaw?: unknown;
  cursorFn?: unknown;
  forEachFn?: unknown;
}

function isLazyQuery(value: unknown): value is LazyQuery {
  return (
    value instanceof Promise &&
    typeof (value as { handler?: unknown }).handler === 'function' &&
    'executed' in value
  );
}

/**
 * Routes postgres.js's settlement of `query` through `route` (which returns true when it took the
 * value) and returns functions that settle the caller's promise. Cursors reassign `resolve`/`reject`
 * per batch: those assignments update what the returned functions call.
 */
function interceptSettlement(
  query: LazyQuery,
  route: (outcome: 'resolve' | 'reject', value: unknown) => boolean,
): { resolve: Settle; reject: Settle } {
  const downstream = { resolve: query.resolve, reject: query.reject };
  for (const outcome of ['resolve', 'reject'] as const) {
    Object.defineProperty(query, outcome, {
      configurable: true,
      enumerable: true,
      get: () => (value: unknown) => {
        if (!route(outcome, value)) downstream[outcome](value);
      },
      set: (fn: Settle) => {
        downstream[outcome] = fn;
      },
    });
  }
  return { resolve: (value) => downstream.resolve(value), reject: (error) => downstream.reject(error) };
}

function queryText(query: LazyQuery): string {
  return query.strings.join('$');
}

/**
 * Wraps a postgres.js `Sql` so that every top-level query is one `safeguards.run` (dispatched only
 * once it holds a slot, cancelled with `query.cancel()` when the scope's signal aborts) and every
 * `begin` / `reserve` holds one slot for its whole life. The caller's promise settles with what
 * `run` settles with: the rows, or a `SafeguardError` whose `cause` is the driver's error. Inside an
 * operation that already holds a slot, `reserve` takes no second one: the reserved connection is that
 * slot's, its queries cancelled when the operation's signal aborts. Queries
 * on a transaction's own `sql` are not budgeted again (same connection, same slot) but are cancelled
 * when the transaction's deadline passes. `listen`/`subscribe` open their own connection, outside
 * the pool and the budget: do not use them on a budgeted app.
 */
export function safeguardPostgresJs<S extends Sql>(sql: S, safeguards: Safeguards): S {
  if ((sql as unknown as Record<symbol, unknown>)[guardedMark]) return sql;
  const raw = sql as unknown as Sql & ((...args: unknown[]) => unknown);
  const probe = raw.unsafe('select 1'); // lazy: never sent
  if (!isLazyQuery(probe)) throw new Error('vetmed db: unsupported postgres.js version (Query internals)');

  /** A fresh copy of a spent query, for a retry: postgres.js queries run once. */
  const recreate = (query: LazyQuery): LazyQuery => {
    const copy = (query.tagged
      ? raw(query.strings, ...query.args)
      : raw.unsafe(query.strings[0] ?? '', query.args as never[], query.options)) as unknown as LazyQuery;
    copy.isRaw = query.isRaw;
    return copy;
  };

  const guard = <T>(result: T): T => {
    if (!isLazyQuery(result)) return result; // sql('identifier') and other helpers
    const dispatch = result.handler;
    const guarded: LazyQuery['handler'] = (query) => {
      let attempt: { resolve: Settle; reject: Settle } | undefined;
      const caller = interceptSettlement(query, (outcome, value) => {
        if (!attempt) return false; // cancelled by the caller while waiting for a slot
        attempt[outcome](value);
        return true;
      });
      if (isInTransactionCallback(sql)) {
        caller.reject(new TransactionMisuseError('A query'));
        return;
      }
      const text = queryText(query);
      const streamed = query.cursorFn !== undefined || query.forEachFn !== undefined;
      safeguards
        .run(
          (scope) => {
            if (query.cancelled) return undefined; // postgres.js already rejected it
            if (scope.attempt > 1) {
              const copy = recreate(query);
              onAbort(scope.signal, () => copy.cancel());
              return copy;
            }
            return new Promise<unknown>((resolve, reject) => {
              attempt = { resolve, reject };
              onAbort(scope.signal, () => query.cancel());
              try {
                dispatch(query);
              } catch (error) {
                reject(error);
              }
            });
          },
          streamed ? streamedContext(text) : statementContext(text),
        )
        .then(caller.resolve, caller.reject);
    };
    guarded.debug = dispatch.debug;
    result.handler = guarded;
    return result;
  };

  /** Cancels the queries of a transaction-scoped `sql` once the transaction's deadline passes. */
  const cancelOnAbort = <T extends object>(scoped: T, signal: AbortSignal): T => {
    const running = new Set<LazyQuery>();
    onAbort(signal, () => {
      for (const query of running) query.cancel();
    });
    const track = (result: unknown) => {
      if (!isLazyQuery(result)) return result;
      const dispatch = result.handler;
      const tracked: LazyQuery['handler'] = (query) => {
        running.add(query);
        interceptSettlement(query, () => {
          running.delete(query);
          return false;
        });
        dispatch(query);
        if (signal.aborted) query.cancel(); // fail fast: the transaction is past its deadline
      };
      tracked.debug = dispatch.debug;
      result.handler = tracked;
      return result;
    };
    const wrap = (target: object): object =>
      new Proxy(target, {
        apply: (fn, thisArg, args) => track(Reflect.apply(fn as () => unknown, thisArg, args)),
        get(fn, property) {
          const value = Reflect.get(fn, property);
          if (property === 'unsafe' || property === 'file')
            return (...args: unknown[]) => track((value as (...a: unknown[]) => unknown)(...args));
          if (property === 'savepoint')
            return (...args: unknown[]) => {
              const callback = args.pop() as (savepoint: object) => unknown;
              return (value as (...a: unknown[]) => unknown)(...args, (savepoint: object) =>
                callback(wrap(savepoint)),
              );
            };
          return value;
        },
      });
    return wrap(scoped) as T;
  };

  /** Takes a slot, opens a handle, and keeps the slot until the handle's `release()`. */
  const holdSlot = <R extends { release: () => void }>(open: () => Promise<R>): Promise<R> =>
    new Promise<R>((resolveHandle, rejectHandle) => {
      safeguards
        .run(async () => {
          const handle = await open();
          await new Promise<void>((released) => {
            const release = handle.release;
            handle.release = () => {
              handle.release = release;
              release.call(handle);
              released();
            };
            resolveHandle(handle);
          });
        }, transactionContext)
        .catch(rejectHandle);
    });

  const overrides: Record<PropertyKey, unknown> = {
    [guardedMark]: true,
    unsafe: (...args: unknown[]) => guard((raw.unsafe as (...a: unknown[]) => unknown)(...args)),
    file: (...args: unknown[]) => guard((raw.file as (...a: unknown[]) => unknown)(...args)),
    begin: (...args: unknown[]) => {
      const callback = args.pop() as (tx: object) => unknown;
      const misuse = misuseRejection(sql, 'sql.begin()');
      if (misuse) return misuse;
      return safeguards.run(
        (scope) =>
          (raw.begin as (...a: unknown[]) => Promise<unknown>)(...args, (tx: object) =>
            runInTransactionCallback(sql, () => callback(cancelOnAbort(tx, scope.signal))),
          ),
        transactionContext,
      );
    },
    reserve: () => {
      const misuse = misuseRejection(sql, 'sql.reserve()');
      if (misuse) return misuse;
      // Inside an operation that holds a slot, the reserved connection is that slot's connection.
      // Held as a nested call it would keep the slot's turn until release(), so the operation's own
      // later calls (its queries) would wait behind it for ever: a nested call must never wait for
      // a call made after it on the same slot.
      const scope = safeguards.currentScope();
      if (scope !== undefined) return raw.reserve().then((reserved) => cancelOnAbort(reserved, scope.signal));
      return holdSlot(() => raw.reserve());
    },
    notify: (...args: unknown[]) =>
      safeguards.run(() => (raw.notify as (...a: unknown[]) => unknown)(...args), transactionContext),
  };

  return new Proxy(sql, {
    apply: (target, thisArg, args) => guard(Reflect.apply(target as unknown as () => unknown, thisArg, args)),
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      return Reflect.get(target, property); // options, end, json, array, types…: closures, no `this`
    },
  });
}
