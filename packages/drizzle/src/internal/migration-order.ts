import type { Safeguards } from '@db-safeguards/core';
import { MigrationOrderError } from '../errors/migration-order-error.js';

/**
 * Tracks whether a database has served queries, so that `migrate()` comes first. `markUsed` goes to
 * `guardDrizzle`'s `onUse`; `guard(migrate)` refuses once it has been called.
 */
export interface MigrationOrder {
  readonly used: boolean;
  markUsed(): void;
  guard(migrate: () => Promise<void>): Promise<void>;
}

export function createMigrationOrder(driver: string): MigrationOrder {
  let used = false;
  return {
    get used() {
      return used;
    },
    markUsed() {
      used = true;
    },
    guard(migrate) {
      return used ? Promise.reject(new MigrationOrderError(driver)) : migrate();
    },
  };
}

/** What a driver's `migrate(db)` needs of a database its `drizzle()` made. */
export interface MigrationTarget {
  driver: string;
  order: MigrationOrder;
  safeguards: Safeguards;
  /** The driver's own client, not the safeguarded one: migrate() runs inside the slot it holds. */
  client: object;
}

// The migration target of each safeguarded database, so the driver's `migrate(db)` finds it. Written by
// each driver's `drizzle()`, read by its `migrate()`.
const targets = new WeakMap<object, MigrationTarget>();

export function attachMigrationTarget(db: object, target: MigrationTarget): void {
  targets.set(db, target);
}

/** The migration target of `db`, or a TypeError when `db` was not made by this entry's `drizzle()`. */
export function migrationTargetOf(db: object, driver: string): MigrationTarget {
  const target = targets.get(db);
  if (target?.driver !== driver)
    throw new TypeError(
      `Expected a database made by @db-safeguards/drizzle/${driver}'s drizzle(), got ${target ? `one of ${target.driver}` : 'another object'}`,
    );
  return target;
}

/**
 * Whether a database made by one of this package's `drizzle()` functions has served a query (or a
 * transaction, or a batch): from then on its `migrate()` refuses. For apps that run migrations through a
 * database of their own (over a direct URL) and keep the same start-up rule for the serving one.
 *
 * @throws TypeError when `db` was not made by this package.
 */
export function hasServedQueries(db: object): boolean {
  const target = targets.get(db);
  if (target === undefined)
    throw new TypeError('Expected a database made by a @db-safeguards/drizzle drizzle()');
  return target.order.used;
}
