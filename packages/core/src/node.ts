/// <reference types="node" />
/**
 * The entry Node loads (the "node" export condition). It gives the core node:async_hooks'
 * AsyncLocalStorage and perf_hooks' event-loop delay monitor (for `createProcessLoadSampler`, on Node
 * versions without process.getBuiltinModule too) before re-exporting the same public API as the runtime-agnostic main entry, so
 * nested calls find their slot on every Node >= 20, including 20.0 to 20.15, which lack
 * process.getBuiltinModule. Types come from the main entry for both conditions.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { registerAsyncLocalStorage } from './internal/ambient.js';
import { registerEventLoopDelayMonitor } from './load/process-load-sampler.js';

registerAsyncLocalStorage(AsyncLocalStorage);
registerEventLoopDelayMonitor(monitorEventLoopDelay);

export {
  applyOrDefer,
  BreakerState,
  classifyError,
  createProcessLoadSampler,
  createSafeguards,
  ErrorType,
  environmentVariables,
  gatherPartial,
  getDefaultSafeguards,
  isSafeguardError,
  Priority,
  parsePriority,
  priorities,
  priorityName,
  rateLimitHeaders,
  SafeguardError,
  Safeguards,
  SafeguardsConfigError,
  Severity,
  StaleCache,
  safeguardsOptionsFromEnv,
  setDefaultSafeguards,
  toUserFriendlyError,
  withDatabaseSafeguards,
} from './index.js';
