import type { Safeguards } from '@db-safeguards/core';
import { UnsupportedDriverError } from '../errors/unsupported-driver-error.js';
import { statementContext, transactionContext } from '../internal/run-context.js';
import { misuseRejection, runInTransactionCallback } from '../internal/transaction-scope.js';

/** The `@electric-sql/pglite` versions this package is tested with. */
export const pgliteRange = '>=0.2.0 <1';

const guardedMark = Symbol.for('db-safeguards.drizzle.safeguarded');
type AnyMethod = (...args: unknown[]) => unknown;

/** Whether `client` is already a safeguarded client. */
export function isSafeguardedClient(client: unknown): boolean {
  return (
    typeof client === 'object' && client !== null && (client as Record<symbol, unknown>)[guardedMark] === true
  );
}

/**
 * Wraps a PGlite instance so that `query`, `sql`, `exec` and `describeQuery` are each one
 * `safeguards.run`, and `transaction` holds one slot for its whole life. PGlite runs in this process and
 * cannot cancel a running statement: at a deadline the caller gets TIMEOUT and the slot is freed when
 * the statement ends. Methods are called on the real instance (PGlite uses `#private` fields).
 *
 * @throws UnsupportedDriverError when `client` is not a PGlite instance.
 */
export function safeguardClient<C extends object>(client: C, safeguards: Safeguards): C {
  if (isSafeguardedClient(client)) return client;
  const target = client as unknown as Record<string, AnyMethod>;
  for (const method of ['query', 'exec', 'transaction'])
    if (typeof target[method] !== 'function')
      throw new UnsupportedDriverError('@electric-sql/pglite', pgliteRange, `the client has no ${method}()`);
  const statement =
    (name: string) =>
    (...args: unknown[]) => {
      const misuse = misuseRejection(client, 'A query');
      if (misuse) return misuse;
      const text =
        typeof args[0] === 'string' ? args[0] : ((args[0] as { raw?: string[] })?.raw?.join('$') ?? '');
      return safeguards.run(() => target[name]!.apply(client, args), statementContext(text));
    };
  const overrides: Record<PropertyKey, unknown> = {
    [guardedMark]: true,
    query: statement('query'),
    sql: statement('sql'),
    exec: statement('exec'),
    describeQuery: statement('describeQuery'),
    transaction: (callback: (tx: unknown) => unknown) => {
      const misuse = misuseRejection(client, 'transaction()');
      if (misuse) return misuse;
      return safeguards.run(
        () =>
          target.transaction!.call(client, (tx: unknown) =>
            runInTransactionCallback(client, () => callback(tx)),
          ),
        transactionContext,
      );
    },
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(real, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      const value: unknown = Reflect.get(real, property); // receiver = the instance: getters read #private
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (!method) {
        method = value.bind(real);
        bound.set(property, method);
      }
      return method;
    },
  });
}
