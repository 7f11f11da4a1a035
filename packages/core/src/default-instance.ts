import { runtimeEnv, safeguardsOptionsFromEnv } from './config/env-config.js';
import type { RunContext } from './operation-context.js';
import type { Operation } from './pipeline/operation.js';
import { createSafeguards, type Safeguards } from './safeguards.js';

let defaultInstance: Safeguards | undefined;

/**
 * The process-wide instance used by {@link withDatabaseSafeguards}, created from the environment
 * (`QUEUE_MAX_CONNECTIONS`, `CIRCUIT_*`, `DB_RETRY_DELAY_MS`, ...) the first time it is asked for.
 * Call it once at start-up: invalid variables then throw a `SafeguardsConfigError` before the app
 * serves anything, instead of failing its first database call.
 */
export function getDefaultSafeguards(): Safeguards {
  defaultInstance ??= createSafeguards(safeguardsOptionsFromEnv(runtimeEnv()));
  return defaultInstance;
}

/** Replaces the default instance (e.g. one created with explicit options at start-up). */
export function setDefaultSafeguards(instance: Safeguards | undefined): void {
  defaultInstance = instance;
}

/**
 * `getDefaultSafeguards().run(operation, context)`: every safeguard, on the process's one budget.
 * Always returns a promise: a configuration error rejects it rather than throwing at the call.
 *
 * @example
 * const user = await withDatabaseSafeguards(() => sql`select * from users where id = ${id}`, {
 *   operationType: 'read',
 * });
 */
export function withDatabaseSafeguards<T>(operation: Operation<T>, context: RunContext = {}): Promise<T> {
  try {
    return getDefaultSafeguards().run(operation, context);
  } catch (error) {
    return Promise.reject(error);
  }
}
