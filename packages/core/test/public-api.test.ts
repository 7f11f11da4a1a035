import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as advanced from '../src/advanced.js';
import * as main from '../src/index.js';

const srcDir = resolve(import.meta.dirname, '../src');

/** The names an entry file lists in `export type { ... }` (types only; values are read at run time). */
function exportedTypes(entry: string): string[] {
  const text = readFileSync(join(srcDir, entry), 'utf8');
  return [...text.matchAll(/export type \{([^}]*)\}/g)]
    .flatMap((match) => match[1]!.split(','))
    .map((name) => name.trim())
    .filter((name) => name.length > 0)
    .sort();
}

/**
 * The public API is chosen by hand: adding to or removing from an entry is a decision, made here as
 * well as in the entry file. The main entry is what an app calls; the building blocks are in
 * `/advanced`, and no name is in both.
 */
describe('the public entries', () => {
  it('the main entry exports the API an app calls, and nothing else', () => {
    expect(Object.keys(main).sort()).toEqual(
      [
        'BreakerState',
        'ConnectionLimitExceededError',
        'ErrorType',
        'Priority',
        'SafeguardError',
        'Safeguards',
        'SafeguardsConfigError',
        'Severity',
        'StaleCache',
        'applyOrDefer',
        'checkConnectionLimit',
        'classifyError',
        'connectionLimitQuery',
        'createProcessLoadSampler',
        'createSafeguards',
        'environmentVariables',
        'gatherPartial',
        'getDefaultSafeguards',
        'isSafeguardError',
        'parsePriority',
        'peerApplicationName',
        'peerInstancesQuery',
        'priorities',
        'priorityName',
        'rateLimitHeaders',
        'safeguardsOptionsFromEnv',
        'setDefaultSafeguards',
        'toUserFriendlyError',
        'watchPeerInstances',
        'withDatabaseSafeguards',
      ].sort(),
    );
    expect(exportedTypes('index.ts')).toEqual(
      [
        'Admission',
        'AppErrorReasons',
        'BreakerStateChange',
        'Clock',
        'ConnectionLimitCheckOptions',
        'ConnectionLimitReading',
        'ConnectionLimitWarning',
        'Degradable',
        'DemandSnapshot',
        'DeferWrite',
        'Disposable',
        'ErrorReason',
        'Event',
        'HealthReport',
        'HealthStatus',
        'LimitChange',
        'LoadCause',
        'LoadMarks',
        'LoadOptions',
        'LoadSample',
        'LoadSamplePurpose',
        'LoadSampler',
        'LoadSignal',
        'LoadStats',
        'Operation',
        'OperationEndEvent',
        'OperationScope',
        'OperationType',
        'PartialResult',
        'PeerLimitTarget',
        'PeerWatch',
        'PeerWatchOptions',
        'PeerWatchStats',
        'PriorityName',
        'ProcessLoadSamplerOptions',
        'RateLimitDecision',
        'RateLimitHeaders',
        'RateLimitInfo',
        'RateLimitPolicy',
        'RateLimitResult',
        'RateLimitStore',
        'RejectionEvent',
        'RequestIdentity',
        'ResolvedContext',
        'RetryEvent',
        'RunContext',
        'SafeguardErrorInit',
        'SafeguardsMetrics',
        'SafeguardsOptions',
        'SharedBudgetLimitChange',
        'SharedBudgetMode',
        'SharedBudgetModeChange',
        'SharedBudgetStats',
        'SharedConnectionBudget',
        'SheddablePriorityName',
        'StaleCacheOptions',
        'UserFriendlyError',
        'ValidationIssue',
        'WithContextResult',
        'WriteOutcome',
      ].sort(),
    );
  });

  it('the building blocks are in /advanced, and no name is exported from both entries', () => {
    const values = Object.keys(advanced);
    expect(values).toEqual(
      expect.arrayContaining([
        'ConnectionQueue',
        'CircuitBreaker',
        'BreakerRegistry',
        'RateLimiter',
        'MemoryRateLimitStore',
        'RetryBudget',
        'targetMultiplier',
        'isRetryAllowed',
        'EffectiveLimit',
        'AdaptiveConcurrency',
        'isCapacitySignal',
        'peerShare',
        'LoadMonitor',
        'defaultLoadOptions',
      ]),
    );
    const mainNames = new Set([...Object.keys(main), ...exportedTypes('index.ts')]);
    expect([...values, ...exportedTypes('advanced.ts')].filter((name) => mainNames.has(name))).toEqual([]);
  });
});
