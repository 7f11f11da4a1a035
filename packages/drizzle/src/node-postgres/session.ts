import type { Safeguards } from '@db-safeguards/core';
import { createExclusiveUse, type ExclusiveUse } from '../internal/exclusive-use.js';
import { onAbort, statementContext, transactionContext } from '../internal/run-context.js';
import { misuseRejection } from '../internal/transaction-scope.js';
import { trimIdleOnLimitDrop } from './idle-trim.js';
import {
  cancelRunningQuery,
  leavesConnectionUsable,
  nodePostgresRange,
  type PgClientLike,
  type PgPoolLike,
  pgClientKind,
  queryTextOf,
} from './pg-internals.js';

const guardedMark = Symbol.for('db-safeguards.drizzle.safeguarded');
type Callback = (error: unknown, result?: unknown) => void;

/** Options of {@link safeguardClient}. */
export interface SafeguardPgClientOptions {
  /**
   * Server-side `statement_timeout` in ms for the connections opened from now on (pg sends it at
   * connect), unless the client's own `statement_timeout` is set. `false` sets none (PgBouncer and Neon
   * `-pooler` endpoints refuse startup parameters: use `transactionStatementTimeoutMs`). Default 30 000.
   */
  statementTimeoutMs?: number | false;
}

/** Which driver a wrapper is for: its npm name and tested range, for errors. */
export interface PgDriverInfo {
  driver: string;
  range: string;
}

const nodePostgres: PgDriverInfo = { driver: 'pg', range: nodePostgresRange };

/** Whether `client` is already a safeguarded client. */
export function isSafeguardedClient(client: unknown): boolean {
  return (
    typeof client === 'object' && client !== null && (client as Record<symbol, unknown>)[guardedMark] === true
  );
}

/**
 * Wraps a node-postgres `Pool` or `Client` so that every query is one `safeguards.run` (cancelled on
 * the server with a CancelRequest when the operation's deadline passes) and, on a Pool, every
 * `connect()` (how drizzle runs a transaction) holds one slot until the client's `release()`. A Proxy
 * rather than a copy: drizzle tells a Pool by `instanceof`.
 *
 * @throws UnsupportedDriverError when `client` is neither a pg Pool nor a pg Client.
 */
export function safeguardClient<C extends object>(
  client: C,
  safeguards: Safeguards,
  options: SafeguardPgClientOptions = {},
  info: PgDriverInfo = nodePostgres,
): C {
  if (isSafeguardedClient(client)) return client;
  const kind = pgClientKind(client, info.driver, info.range);
  keepProcessAliveOnIdleErrors(client as unknown as PgClientLike);
  const timeout = options.statementTimeoutMs ?? 30_000;
  if (timeout !== false && (!Number.isSafeInteger(timeout) || timeout < 1))
    throw new TypeError(
      `Expected statementTimeoutMs to be a positive integer or false, got ${String(timeout)}`,
    );
  return kind === 'pool'
    ? safeguardPool(client as C & PgPoolLike, safeguards, timeout)
    : safeguardSingleClient(client as C & PgClientLike, safeguards, timeout);
}

function safeguardPool<P extends PgPoolLike>(pool: P, safeguards: Safeguards, timeout: number | false): P {
  if (timeout !== false) pool.options.statement_timeout ??= timeout;
  const stopTrimming = trimIdleOnLimitDrop(pool, safeguards);
  const connectRaw = () => pool.connect() as Promise<PgClientLike>;

  const query = (args: unknown[]): Promise<unknown> => {
    const misuse = misuseRejection(pool, 'A query');
    if (misuse) return misuse;
    return safeguards.run(
      async (scope) => {
        const client = await connectRaw();
        const detach = scope.onAbort(() => cancelRunningQuery(client));
        let broken: Error | undefined;
        try {
          return await (client.query(...args) as Promise<unknown>);
        } catch (error) {
          if (!leavesConnectionUsable(error))
            broken = error instanceof Error ? error : new Error(String(error));
          throw error;
        } finally {
          detach();
          client.release?.(broken);
        }
      },
      statementContext(queryTextOf(args[0])),
    );
  };

  /** Checks a client out; `signal` cancels its running query; `onRelease` runs at its release(). */
  const checkOut = async (signal: AbortSignal, onRelease: () => void): Promise<PgClientLike> => {
    const client = await connectRaw();
    const detach = onAbort(signal, () => cancelRunningQuery(client));
    const release = client.release!; // pg sets a fresh release() at every checkout
    client.release = (error?: Error | boolean) => {
      client.release = release;
      detach();
      try {
        return release.call(client, error);
      } finally {
        onRelease();
      }
    };
    return client;
  };

  const connect = (): Promise<PgClientLike> => {
    const misuse = misuseRejection(pool, 'pool.connect()');
    if (misuse) return misuse;
    // Inside an operation that holds a slot (drizzle's db.transaction), the client is that slot's
    // connection. Checked out as a nested call it would hold the slot's turn until release(), so the
    // transaction's own nested calls, waiting for their turn behind it, would never run.
    const scope = safeguards.currentScope();
    if (scope !== undefined) return checkOut(scope.signal, () => {});
    return new Promise<PgClientLike>((resolveClient, rejectClient) => {
      safeguards
        .run(
          (held) =>
            new Promise<void>((released, failed) => {
              checkOut(held.signal, released).then(resolveClient, failed);
            }),
          transactionContext,
        )
        .catch(rejectClient);
    });
  };

  const overrides: Record<PropertyKey, unknown> = {
    [guardedMark]: true,
    // The limit subscription lives as long as the pool: the safeguards usually outlive it.
    end: (...args: unknown[]) => {
      stopTrimming();
      return (pool as unknown as { end: (...a: unknown[]) => unknown }).end(...args);
    },
    query: (...args: unknown[]) => {
      const callback = typeof args.at(-1) === 'function' ? (args.pop() as Callback) : undefined;
      const pending = query(args);
      if (!callback) return pending;
      pending.then((result) => callback(undefined, result), callback);
      return undefined;
    },
    connect: (callback?: (error: unknown, client?: PgClientLike, done?: unknown) => void) => {
      const pending = connect();
      if (!callback) return pending;
      pending.then((client) => callback(undefined, client, client.release), callback);
      return undefined;
    },
  };
  return proxyWith(pool, overrides);
}

/**
 * One pg `Client` is one connection: each query is one `safeguards.run`. drizzle runs a transaction's
 * statements on the same client, so the misuse check cannot tell the top-level `db` from `tx` there:
 * only `db.transaction` inside a transaction is caught (a top-level query inside one runs on the same
 * connection, inside the transaction, on the transaction's slot).
 */
function safeguardSingleClient<C extends PgClientLike>(
  client: C,
  safeguards: Safeguards,
  timeout: number | false,
): C {
  // pg's own default is `false` (none), indistinguishable from an explicit none: both get the timeout.
  if (timeout !== false && !client.connectionParameters.statement_timeout)
    client.connectionParameters.statement_timeout = timeout;
  const exclusive = exclusiveUseOf(client);
  const query = (args: unknown[]): Promise<unknown> => {
    const inTurn = exclusive(); // in the caller's context, before waiting for a slot
    return safeguards.run(
      (scope) =>
        inTurn(() => {
          const detach = scope.onAbort(() => cancelRunningQuery(client));
          return (client.query(...args) as Promise<unknown>).finally(detach);
        }),
      statementContext(queryTextOf(args[0])),
    );
  };
  const overrides: Record<PropertyKey, unknown> = {
    [guardedMark]: true,
    query: (...args: unknown[]) => {
      const callback = typeof args.at(-1) === 'function' ? (args.pop() as Callback) : undefined;
      const pending = query(args);
      if (!callback) return pending;
      pending.then((result) => callback(undefined, result), callback);
      return undefined;
    },
  };
  return proxyWith(client, overrides);
}

// The exclusive-use lock of each lone pg Client: written by its wrapper, read by `drizzle()`, which holds
// it for a whole transaction (see `exclusiveUseOf`).
const exclusiveUses = new WeakMap<object, ExclusiveUse>();

/**
 * The lock that keeps a lone `Client`'s one connection to one caller at a time: a transaction holds it
 * from BEGIN to COMMIT, so concurrent callers' statements cannot run (and be rolled back) inside it.
 */
export function exclusiveUseOf(client: object): ExclusiveUse {
  let exclusive = exclusiveUses.get(client);
  if (!exclusive) {
    exclusive = createExclusiveUse(client);
    exclusiveUses.set(client, exclusive);
  }
  return exclusive;
}

/**
 * A pooled client whose idle connection dies (57P01 when the server restarts or a Neon compute suspends)
 * makes the Pool (or a lone Client) emit 'error'; with no listener that ends the process. The pool drops
 * the client and the next query reconnects, so the event needs no handling here; a listener the app
 * attached itself is left alone.
 */
function keepProcessAliveOnIdleErrors(client: PgClientLike): void {
  const emitter = client as unknown as { listenerCount?: (event: string) => number };
  if ((emitter.listenerCount?.('error') ?? 0) === 0) client.on('error', () => {});
}

/** A Proxy answering `overrides` first and the target's methods bound to it (pg uses `this`). */
function proxyWith<T extends object>(target: T, overrides: Record<PropertyKey, unknown>): T {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(real, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      const value: unknown = Reflect.get(real, property);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (!method) {
        method = value.bind(real);
        bound.set(property, method);
      }
      return method;
    },
    set(real, property, value) {
      bound.delete(property);
      return Reflect.set(real, property, value);
    },
  });
}
