/// <reference types="node" />
/**
 * The entry Node loads (the "node" export condition). It gives the core node:async_hooks'
 * AsyncLocalStorage before re-exporting the same public API as the runtime-agnostic main entry, so
 * nested calls find their slot on every Node >= 20, including 20.0 to 20.15, which lack
 * process.getBuiltinModule. Types come from the main entry for both conditions.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { registerAsyncLocalStorage } from './internal/ambient.js';

registerAsyncLocalStorage(AsyncLocalStorage);

export {
  applyOrDefer,
  BreakerState,
  ConnectionLimitExceededError,
  checkConnectionLimit,
  classifyError,
  connectionLimitQuery,
  createProcessLoadSampler,
  createSafeguards,
  ErrorType,
  environmentVariables,
  gatherPartial,
  getDefaultSafeguards,
  isSafeguardError,
  Priority,
  parsePriority,
  peerApplicationName,
  peerInstancesQuery,
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
  watchPeerInstances,
  withDatabaseSafeguards,
} from './index.js';
