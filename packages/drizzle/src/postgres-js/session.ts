import type { Safeguards } from '@db-safeguards/core';
import type { Sql } from 'postgres';
import { TransactionMisuseError } from '../errors/transaction-misuse-error.js';
import { onAbort, statementContext, streamedContext, transactionContext } from '../internal/run-context.js';
import {
  isInTransactionCallback,
  misuseRejection,
  runInTransactionCallback,
} from '../internal/transaction-scope.js';
import {
  cancelQuery,
  detectPostgresJsLine,
  dispatchNow,
  interceptDispatch,
  isLazyQuery,
  type LazyQuery,
  outcomeOf,
  type PostgresJsLine,
} from './query-internals.js';
import { holdUntilClosed, lostConnectionError } from './transaction-guard.js';

const guardedMark = Symbol.for('db-safeguards.drizzle.safeguarded');
const noop = () => {};

/** Options of {@link safeguardClient}. */
export interface SafeguardClientOptions {
  /**
   * Server-side `statement_timeout` in ms, set as a startup parameter of the connections the client
   * opens from now on (unless the client's own `connection.statement_timeout` is set: that one wins).
   * `false` sets none: use it behind PgBouncer or Neon's `-pooler`, which refuse startup parameters, and
   * pass `transactionStatementTimeoutMs` to `drizzle()` instead. Default 30 000.
   */
  statementTimeoutMs?: number | false;
}

/** Whether `client` is already a safeguarded client. */
export function isSafeguardedClient(client: unknown): boolean {
  return typeof client === 'function' && (client as unknown as Record<symbol, unknown>)[guardedMark] === true;
}

/**
 * Wraps a postgres.js `Sql` (3.4.x or 4.x) so that every top-level query is one `safeguards.run`,
 * dispatched only once it holds a slot and cancelled on the server (CancelRequest, 57014) when the
 * operation's deadline passes; the caller's promise settles with what `run` settles with: the rows, or a
 * `SafeguardError` whose `cause` is the driver's error. `begin` and `reserve` hold one slot for their
 * whole life; inside an operation that already holds one they take no second. `listen` and `subscribe`
 * open their own connection, outside the pool and the budget: do not use them on a budgeted app.
 *
 * @throws UnsupportedDriverError when `client` is not a postgres.js client of a supported version.
 */
export function safeguardClient<S extends Sql>(
  client: S,
  safeguards: Safeguards,
  options: SafeguardClientOptions = {},
): S {
  if (isSafeguardedClient(client)) return client;
  const line = detectPostgresJsLine(client);
  applyStatementTimeout(client, options.statementTimeoutMs ?? 30_000);
  const afterSuccess = line === '3.4' ? stopRefetchingTypes(client) : noop;
  const raw = client as unknown as Sql & ((...args: unknown[]) => unknown);
  const call = (target: unknown, args: unknown[]) => (target as (...a: unknown[]) => unknown)(...args);

  /** Puts a top-level query under the safeguards; `make` creates a fresh copy for a retry. */
  const guard = (result: unknown, make: () => unknown): unknown => {
    if (!isLazyQuery(result)) return result; // sql('identifier') and other helpers
    const query = result;
    let settle!: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
    const outcome = new Promise<unknown>((resolve, reject) => {
      settle = { resolve, reject };
    });
    outcome.catch(noop); // the caller may never await it (a fragment, a cursor iterator)
    // The driver's own settlement of the query reaches nobody when the caller awaits `outcome`.
    Promise.prototype.then.call(query, undefined, noop);
    interceptDispatch(query, (original, dispatched) => {
      if (isInTransactionCallback(client)) {
        const misuse = new TransactionMisuseError('A query');
        dispatched.reject(misuse);
        settle.reject(misuse);
        return;
      }
      const text = dispatched.strings.join('$');
      const streamed = dispatched.cursorFn !== undefined || dispatched.forEachFn !== undefined;
      let sent = false;
      safeguards
        .run(
          (scope) => {
            const target = scope.attempt > 1 ? copyOf(dispatched, make) : dispatched;
            scope.onAbort(() => cancelQuery(target));
            if (target === dispatched) {
              sent = true;
              dispatchNow(original, dispatched);
            } else target.execute(); // a raw copy: started by hand, it is already on this slot
            return outcomeOf(target);
          },
          streamed ? streamedContext(text) : statementContext(text),
        )
        .then(
          (value) => {
            afterSuccess();
            settle.resolve(value);
          },
          (error: unknown) => {
            if (!sent) dispatched.reject(error); // refused before it was sent: its own promise settles too
            settle.reject(error);
          },
        );
    });
    // The caller awaits `outcome` (what `run` settled with); awaiting starts the query as before.
    Object.defineProperties(query, {
      // biome-ignore lint/suspicious/noThenProperty: the query is a promise; this replaces its own `then`
      then: {
        configurable: true,
        value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => {
          query.execute();
          return outcome.then(onFulfilled, onRejected);
        },
      },
      catch: {
        configurable: true,
        value: (onRejected?: (e: unknown) => unknown) => {
          query.execute();
          return outcome.catch(onRejected);
        },
      },
      finally: {
        configurable: true,
        value: (onFinally?: () => void) => {
          query.execute();
          return outcome.finally(onFinally);
        },
      },
    });
    return query;
  };

  /** Takes a slot, opens a handle, and keeps the slot until the handle's `release()`. */
  const holdSlot = <R extends { release: () => void }>(open: () => Promise<R>): Promise<R> =>
    new Promise<R>((resolveHandle, rejectHandle) => {
      safeguards
        .run(async (scope) => {
          const handle = scopeQueries(await open(), scope.signal, line);
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
    unsafe: (...args: unknown[]) => guard(call(raw.unsafe, args), () => call(raw.unsafe, args)),
    file: (...args: unknown[]) => guard(call(raw.file, args), () => call(raw.file, args)),
    begin: (...args: unknown[]) => {
      const callback = args.pop() as (tx: object) => unknown;
      const misuse = misuseRejection(client, 'sql.begin()');
      if (misuse) return misuse;
      return safeguards.run((scope) => {
        const state = { lost: false };
        const begun = call(raw.begin, [
          ...args,
          (tx: object) =>
            runInTransactionCallback(client, () =>
              holdUntilClosed(line, state, begun, () =>
                callback(scopeQueries(tx, scope.signal, line, state)),
              ),
            ),
        ]) as Promise<unknown>;
        begun.catch(() => {
          state.lost ||= line === '3.4';
        });
        return begun;
      }, transactionContext);
    },
    reserve: () => {
      const misuse = misuseRejection(client, 'sql.reserve()');
      if (misuse) return misuse;
      // Inside an operation that holds a slot, the reserved connection is that slot's connection. Held
      // as a nested call it would keep the slot's turn until release(), so the operation's own later
      // calls would wait behind it for ever: a nested call must never wait for a later one on its slot.
      const scope = safeguards.currentScope();
      if (scope !== undefined)
        return (raw.reserve() as Promise<object>).then((reserved) =>
          scopeQueries(reserved, scope.signal, line),
        );
      return holdSlot(() => raw.reserve() as unknown as Promise<{ release: () => void }>);
    },
    notify: (...args: unknown[]) => safeguards.run(() => call(raw.notify, args), transactionContext),
  };

  return new Proxy(client, {
    apply: (target, thisArg, args) =>
      guard(Reflect.apply(target as unknown as () => unknown, thisArg, args), () =>
        Reflect.apply(target as unknown as () => unknown, thisArg, args),
      ),
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      return Reflect.get(target, property); // options, end, json, array, types…: closures, no `this`
    },
  });
}

/** A fresh copy of a spent query, for a retry: postgres.js queries run once. */
function copyOf(query: LazyQuery, make: () => unknown): LazyQuery {
  const copy = make() as LazyQuery;
  copy.isRaw = query.isRaw;
  if (query.onlyDescribe) copy.describe();
  return copy;
}

/**
 * postgres.js 3.4 fetches the array types on every new connection, in a promise nobody awaits: when that
 * fetch fails (the backend is terminated mid-fetch, or the role may not read pg_type) the rejection is
 * unhandled, which ends a Node process. The types it fetched once are kept in the client's shared
 * parsers, so after the first query succeeded (its connection fetched them) later connections skip the
 * fetch; only the very first connection of the client remains exposed (see the README).
 */
function stopRefetchingTypes(client: Sql): () => void {
  const settings = client.options as unknown as { fetch_types?: boolean };
  return () => {
    if (settings.fetch_types) settings.fetch_types = false;
  };
}

function applyStatementTimeout(client: Sql, ms: number | false): void {
  if (ms === false) return;
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new TypeError(`Expected statementTimeoutMs to be a positive integer or false, got ${String(ms)}`);
  const connection = (client.options as unknown as { connection: Record<string, unknown> }).connection;
  if (connection.statement_timeout === undefined) connection.statement_timeout = ms;
}

/**
 * The queries of a connection-scoped `sql` (a transaction's, a savepoint's, a reserved connection's)
 * run on the slot already held: they are not budgeted again, but are cancelled on the server once the
 * operation's deadline passes. On postgres.js 3.4, once the transaction's connection is known to be
 * lost, no further query is written to it (see `transaction-guard.ts`).
 */
function scopeQueries<T extends object>(
  scoped: T,
  signal: AbortSignal,
  line: PostgresJsLine,
  state: { lost: boolean } = { lost: false },
): T {
  const running = new Set<LazyQuery>();
  onAbort(signal, () => {
    for (const query of running) cancelQuery(query);
  });
  const track = (result: unknown) => {
    if (!isLazyQuery(result)) return result;
    interceptDispatch(result, (original, query) => {
      if (state.lost) {
        query.reject(lostConnectionError());
        return;
      }
      running.add(query);
      outcomeOf(query).then(
        () => running.delete(query),
        () => running.delete(query),
      );
      dispatchNow(original, query);
      if (signal.aborted) cancelQuery(query); // fail fast: the operation is past its deadline
    });
    return result;
  };
  const wrap = (target: object): object =>
    new Proxy(target, {
      apply: (fn, thisArg, args) => track(Reflect.apply(fn as () => unknown, thisArg, args)),
      get(fn, property) {
        const value = Reflect.get(fn, property);
        if (property === 'unsafe' || property === 'file')
          return (...args: unknown[]) => track((value as (...a: unknown[]) => unknown)(...args));
        if (property === 'savepoint' || (property === 'begin' && line === '4'))
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
}
