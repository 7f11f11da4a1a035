import { runtimeEnv, safeguardsOptionsFromEnv } from './config/env-config.js';
import type { RunContext } from './operation-context.js';
import { createSafeguards, type Operation, type Safeguards } from './safeguards.js';

let defaultInstance: Safeguards | undefined;

/**
 * The process-wide instance used by {@link withDatabaseSafeguards}, created on first use from the
 * environment (`QUEUE_MAX_CONNECTIONS`, `CIRCUIT_*`, `DB_RETRY_DELAY_MS`, ...). Invalid variables throw.
 */
export function getDefaultSafeguards(): Safeguards {
  defaultInstance ??= createSafeguards(safeguardsOptionsFromEnv(runtimeEnv()));
  return defaultInstance;
}

/** Replaces the default instance (e.g. one created with explicit options at start-up). */
export function setDefaultSafeguards(instance: Safeguards | undefined): void {
  defaultInstance = instance;
}

/** `getDefaultSafeguards().run(operation, context)`: every safeguard, on the process's one budget. */
export function withDatabaseSafeguards<T>(operation: Operation<T>, context: RunContext = {}): Promise<T> {
  return getDefaultSafeguards().run(operation, context);
}
