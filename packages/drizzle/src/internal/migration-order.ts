import { MigrationOrderError } from '../errors/migration-order-error.js';

/**
 * Tracks whether a database has served queries, so that `migrate()` comes first. `markUsed` goes to
 * `guardDrizzle`'s `onUse`; `guard(migrate)` refuses once it has been called.
 */
export interface MigrationOrder {
  markUsed(): void;
  guard(migrate: () => Promise<void>): Promise<void>;
}

export function createMigrationOrder(driver: string): MigrationOrder {
  let used = false;
  return {
    markUsed() {
      used = true;
    },
    guard(migrate) {
      return used ? Promise.reject(new MigrationOrderError(driver)) : migrate();
    },
  };
}

// The order tracker of each safeguarded database, so the driver's `migrate(db)` finds it. Written by each
// driver's `drizzle()`, read by its `migrate()`.
const orders = new WeakMap<object, MigrationOrder>();

export function attachMigrationOrder(db: object, order: MigrationOrder): void {
  orders.set(db, order);
}

export function migrationOrderOf(db: object): MigrationOrder | undefined {
  return orders.get(db);
}
