import type { Safeguards } from '@db-safeguards/core';
import { Client, type Pool, type PoolClient } from '@neondatabase/serverless';
import { onAbort, statementContext, transactionContext } from '../safeguarded/run-context.js';
import { misuseRejection } from '../safeguarded/transaction-scope.js';

const guardedMark = Symbol.for('vetmed.safeguarded');

type Callback = (error: unknown, result?: unknown) => void;

/** pg's client fields this file relies on (`activeQuery` is what `Client#cancel` compares against). */
interface CancellableClient {
  activeQuery?: unknown;
  processID?: number;
}

/**
 * Asks the server to cancel what `client` is running, the way pg does: a CancelRequest on a new
 * (short) connection. Through Neon's proxy and the local WebSocket proxy alike, the running statement
 * fails with 57014 and the connection stays usable.
 */
export function cancelRunningQuery(client: PoolClient, connectionString: string): void {
  const active = (client as unknown as CancellableClient).activeQuery;
  if (!active) return;
  const canceller = new Client({ connectionString });
  const connection = canceller.connection as unknown as {
    on(event: string, listener: () => void): void;
    end?: () => void;
  };
  connection.on('error', () => {}); // the server closes this connection after reading the request
  (canceller as unknown as { cancel(client: unknown, query: unknown): void }).cancel(client, active);
  setTimeout(() => connection.end?.(), 1000).unref?.();
}

/** SQLSTATEs after which the connection itself is still good (anything else: drop it). */
function leavesConnectionUsable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(?:08|57P0)/.test(code);
}

function queryTextOf(argument: unknown): string {
  if (typeof argument === 'string') return argument;
  const text = (argument as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : '';
}

/**
 * Wraps a Neon (`@neondatabase/serverless`) WebSocket `Pool` so that every `pool.query` is one
 * `safeguards.run` on a client of its own (cancelled through a CancelRequest when the scope's signal
 * aborts), and every `pool.connect()` holds one slot until the client's `release()` (this is how
 * drizzle runs a transaction). A Proxy rather than a copy: drizzle tests `client instanceof Pool`.
 */
export function safeguardNeonPool<P extends Pool>(
  pool: P,
  safeguards: Safeguards,
  connectionString: string,
): P {
  if ((pool as unknown as Record<symbol, unknown>)[guardedMark]) return pool;

  const query = (args: unknown[]): Promise<unknown> => {
    const misuse = misuseRejection(pool, 'A query');
    if (misuse) return misuse;
    return safeguards.run(
      async (scope) => {
        const client = await pool.connect();
        const detach = onAbort(scope.signal, () => cancelRunningQuery(client, connectionString));
        let broken: Error | undefined;
        try {
          return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
        } catch (error) {
          if (!leavesConnectionUsable(error))
            broken = error instanceof Error ? error : new Error(String(error));
          throw error;
        } finally {
          detach();
          client.release(broken);
        }
      },
      statementContext(queryTextOf(args[0])),
    );
  };

  /** Checks a client out; `signal` cancels its running query; `onRelease` runs at its release(). */
  const checkOut = async (signal: AbortSignal, onRelease: () => void): Promise<PoolClient> => {
    const client = await pool.connect();
    const detach = onAbort(signal, () => cancelRunningQuery(client, connectionString));
    const release = client.release; // pg sets a fresh release() at every checkout
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

  const connect = (): Promise<PoolClient> => {
    const misuse = misuseRejection(pool, 'pool.connect()');
    if (misuse) return misuse;
    // Inside an operation that holds a slot (drizzle's db.transaction), the client is that slot's
    // connection. Checked out as a nested call it would hold the slot's turn until release(), so the
    // transaction's own nested calls, waiting for their turn behind it, would never run.
    const scope = safeguards.currentScope();
    if (scope !== undefined) return checkOut(scope.signal, () => {});
    return new Promise<PoolClient>((resolveClient, rejectClient) => {
      safeguards
        .run(
          (scope) =>
            new Promise<void>((released, failed) => {
              checkOut(scope.signal, released).then(resolveClient, failed);
            }),
          transactionContext,
        )
        .catch(rejectClient);
    });
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
    connect: (callback?: (error: unknown, client?: PoolClient, done?: unknown) => void) => {
      const pending = connect();
      if (!callback) return pending;
      pending.then((client) => callback(undefined, client, client.release), callback);
      return undefined;
    },
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(pool, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (!method) {
        method = value.bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}
