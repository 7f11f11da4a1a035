import { defaultRateLimitPolicies, type RateLimitPolicy } from '../rate-limit/rate-limit-policy.js';
import type { SafeguardsOptions } from './safeguards-options.js';

/** A configuration value that cannot be used; names the variable (or option) and the value. */
export class SafeguardsConfigError extends TypeError {
  override readonly name = 'SafeguardsConfigError';

  constructor(
    readonly variable: string,
    readonly value: string,
    expected: string,
  ) {
    super(`Invalid environment variable ${variable}="${value}": expected ${expected}`);
  }
}

type Env = Record<string, string | undefined>;

/** The environment of the runtime, or an empty one where there is none (browsers, some edge runtimes). */
export function runtimeEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

function readInteger(env: Env, variable: string, min: number): number | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  const trimmed = raw.trim();
  if (!/^-?\d+$/.test(trimmed)) throw new SafeguardsConfigError(variable, raw, `an integer >= ${min}`);
  const value = Number(trimmed);
  if (!Number.isSafeInteger(value) || value < min)
    throw new SafeguardsConfigError(variable, raw, `an integer >= ${min}`);
  return value;
}

/** Variables read by {@link safeguardsOptionsFromEnv}, with what they set. */
export const environmentVariables = {
  QUEUE_MAX_CONNECTIONS: 'queue.maxConcurrentConnections',
  QUEUE_MAX_SIZE: 'queue.maxQueueSize',
  QUEUE_TIMEOUT_MS: 'queue.timeoutMs',
  CIRCUIT_FAILURE_THRESHOLD: 'breakers.primary.failureThreshold',
  CIRCUIT_SUCCESS_THRESHOLD: 'breakers.primary.successThreshold',
  CIRCUIT_TIMEOUT_MS: 'breakers.primary.openDurationMs',
  DB_RETRY_DELAY_MS: 'retry.baseDelayMs',
  DB_MAX_ATTEMPTS: 'retry.maxAttempts',
  RATE_LIMIT_API_MAX: 'rateLimits.policies.api.limit',
  RATE_LIMIT_AUTH_MAX: 'rateLimits.policies.auth.limit',
  RATE_LIMIT_HEAVY_MAX: 'rateLimits.policies.heavy.limit',
  RATE_LIMIT_RECORDING_MAX: 'rateLimits.policies.recording.limit',
  RATE_LIMIT_UPLOAD_MAX: 'rateLimits.policies.upload.limit',
  RATE_LIMIT_REPORTS_MAX: 'rateLimits.policies.reports.limit',
} as const;

/**
 * Reads the source design's environment variables into options, validating each: a value that is
 * not a number, or out of range, throws a {@link SafeguardsConfigError} naming the variable and value.
 * Unset or empty variables leave the defaults alone.
 */
export function safeguardsOptionsFromEnv(env: Env = runtimeEnv()): SafeguardsOptions {
  const options: SafeguardsOptions = {};
  const queue = {
    maxConcurrentConnections: readInteger(env, 'QUEUE_MAX_CONNECTIONS', 1),
    maxQueueSize: readInteger(env, 'QUEUE_MAX_SIZE', 0),
    timeoutMs: readInteger(env, 'QUEUE_TIMEOUT_MS', 1),
  };
  const primary = {
    failureThreshold: readInteger(env, 'CIRCUIT_FAILURE_THRESHOLD', 1),
    successThreshold: readInteger(env, 'CIRCUIT_SUCCESS_THRESHOLD', 1),
    openDurationMs: readInteger(env, 'CIRCUIT_TIMEOUT_MS', 0),
  };
  const retry = {
    baseDelayMs: readInteger(env, 'DB_RETRY_DELAY_MS', 0),
    maxAttempts: readInteger(env, 'DB_MAX_ATTEMPTS', 1),
  };
  // RATE_LIMIT_<POLICY>_MAX for each named policy (the source design had API and AUTH); windows stay.
  const policies: Record<string, RateLimitPolicy> = {};
  for (const [name, policy] of Object.entries(defaultRateLimitPolicies)) {
    const limit = readInteger(env, `RATE_LIMIT_${name.toUpperCase()}_MAX`, 1);
    if (limit !== undefined) policies[name] = { limit, windowMs: policy.windowMs };
  }

  const defined = <T extends object>(group: T): Partial<T> | undefined => {
    const entries = Object.entries(group).filter(([, value]) => value !== undefined);
    return entries.length === 0 ? undefined : (Object.fromEntries(entries) as Partial<T>);
  };
  const queueOptions = defined(queue);
  if (queueOptions) options.queue = queueOptions;
  const primaryOptions = defined(primary);
  if (primaryOptions) options.breakers = { primary: primaryOptions };
  const retryOptions = defined(retry);
  if (retryOptions) options.retry = retryOptions;
  if (Object.keys(policies).length > 0) options.rateLimits = { policies };
  return options;
}
