import type { Safeguards } from '@db-safeguards/core';
import type { PGliteInterface } from '@electric-sql/pglite';
import { statementContext, transactionContext } from '../safeguarded/run-context.js';
import { misuseRejection, runInTransactionCallback } from '../safeguarded/transaction-scope.js';

const guardedMark = Symbol.for('vetmed.safeguarded');

type AnyMethod = (...args: unknown[]) => unknown;

/**
 * Wraps a PGlite instance so that `query`, `sql`, `exec` and `describeQuery` are each one
 * `safeguards.run`, and `transaction` holds one slot for its whole life. PGlite runs in this process
 * and cannot cancel a running statement: at a deadline the caller gets TIMEOUT and the slot is freed
 * when the statement ends. Methods are called on the real instance (PGlite uses `#private` fields).
 */
export function safeguardPglite<C extends PGliteInterface>(client: C, safeguards: Safeguards): C {
  if ((client as unknown as Record<symbol, unknown>)[guardedMark]) return client;
  const target = client as unknown as Record<string, AnyMethod>;
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
          client.transaction(
            (tx) => runInTransactionCallback(client, () => callback(tx)) as Promise<unknown>,
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
