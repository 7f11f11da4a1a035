import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importGraph,
  itImportsEveryBuiltEntryPoint,
  readEntryPoints,
} from '../../../tooling/built-entry-points.js';
import { importCycles } from '../../../tooling/import-cycles.js';

const packageDir = resolve(import.meta.dirname, '..');

describe('built entry points (turbo builds before tests)', () => {
  itImportsEveryBuiltEntryPoint(packageDir, {
    '.': [
      'InteractiveTransactionUnsupportedError',
      'isInteractiveTransactionUnsupportedError',
      'MigrationOrderError',
      'TransactionMisuseError',
      'UnsupportedDriverError',
      'isMigrationOrderError',
      'isTransactionMisuseError',
      'isUnsupportedDriverError',
      'hasServedQueries',
      'statementKind',
    ],
    './postgres-js': ['drizzle', 'migrate', 'safeguardClient', 'isSafeguardedClient', 'postgresJsRange'],
    './node-postgres': ['drizzle', 'migrate', 'safeguardClient', 'isSafeguardedClient', 'nodePostgresRange'],
    './neon-serverless': [
      'drizzle',
      'migrate',
      'safeguardClient',
      'isSafeguardedClient',
      'neonServerlessRange',
    ],
    './neon-http': ['drizzle', 'migrate', 'safeguardClient', 'isSafeguardedClient', 'neonHttpRange'],
    './pglite': ['drizzle', 'migrate', 'safeguardClient', 'isSafeguardedClient', 'pgliteRange'],
  });

  it.each(readEntryPoints(packageDir).entryPoints)(
    '%s imports no node: module (edge runtimes) and no other driver',
    (subpath, conditions) => {
      const { external } = importGraph(join(packageDir, conditions.default!));
      expect(external.filter((specifier) => specifier.startsWith('node:'))).toEqual([]);
      const driver = subpath.slice(2);
      const drivers = external.filter(
        (specifier) =>
          specifier.startsWith('drizzle-orm/') &&
          !specifier.startsWith('drizzle-orm/pg-core') &&
          specifier !== 'drizzle-orm/errors',
      );
      expect(drivers.every((specifier) => specifier.startsWith(`drizzle-orm/${driver}`))).toBe(true);
    },
  );

  it('has no import cycles in its sources', () => {
    expect(importCycles(resolve(packageDir, 'src'))).toEqual([]);
  });
});
