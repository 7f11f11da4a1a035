/**
 * `@db-safeguards/drizzle`: what every driver entry shares (errors and the statement classifier). Each
 * driver has its own entry (`@db-safeguards/drizzle/postgres-js`, …), so importing one never loads
 * another driver. The public API is this list.
 */
export {
  InteractiveTransactionUnsupportedError,
  isInteractiveTransactionUnsupportedError,
} from './errors/interactive-transaction-unsupported-error.js';
export { isMigrationOrderError, MigrationOrderError } from './errors/migration-order-error.js';
export { isTransactionMisuseError, TransactionMisuseError } from './errors/transaction-misuse-error.js';
export { isUnsupportedDriverError, UnsupportedDriverError } from './errors/unsupported-driver-error.js';
export { hasServedQueries } from './internal/migration-order.js';
export type { SafeguardedMigrationConfig } from './internal/migration-run.js';
export { type StatementKind, statementKind } from './internal/statement-kind.js';
