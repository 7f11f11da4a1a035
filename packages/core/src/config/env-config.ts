import { defaultBreakerDefinitions, resolveBreakerOptions } from '../breaker/breaker-options.js';
import { resolveQueueOptions } from '../queue/queue-options.js';
import {
  defaultRateLimitPolicies,
  type RateLimitPolicy,
  validatePolicy,
} from '../rate-limit/rate-limit-policy.js';
import { resolveRetryOptions, retryBounds } from '../retry/retry-options.js';
import type { SafeguardsOptions } from './safeguards-options.js';

/** A configuration value that cannot be used; names the variable and the value. */
export class SafeguardsConfigError extends TypeError {
  override readonly name = 'SafeguardsConfigError';

  constructor(
    readonly variable: string,
    readonly value: string,
    expected: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid environment variable ${variable}="${value}": expected ${expected}`, options);
  }
}

type Env = Record<string, string | undefined>;

/** The environment of the runtime, or an empty one where there is none (browsers, some edge runtimes). */
export function runtimeEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
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

type Variable = keyof typeof environmentVariables;

interface Bounds {
  min: number;
  max: number;
}

const atLeast = (min: number): Bounds => ({ min, max: Number.MAX_SAFE_INTEGER });

/**
 * The range of each variable: the range of the option it sets. Retry bounds come from the retry
 * options themselves; every other option is checked again by its own resolver below, so a range
 * written here that drifted from the option would still fail at start, naming the variable.
 */
const variableBounds: Readonly<Record<Variable, Bounds>> = {
  QUEUE_MAX_CONNECTIONS: atLeast(1),
  QUEUE_MAX_SIZE: atLeast(0),
  QUEUE_TIMEOUT_MS: atLeast(1),
  CIRCUIT_FAILURE_THRESHOLD: atLeast(1),
  CIRCUIT_SUCCESS_THRESHOLD: atLeast(1),
  CIRCUIT_TIMEOUT_MS: atLeast(0),
  DB_RETRY_DELAY_MS: retryBounds.baseDelayMs,
  DB_MAX_ATTEMPTS: retryBounds.maxAttempts,
  RATE_LIMIT_API_MAX: atLeast(1),
  RATE_LIMIT_AUTH_MAX: atLeast(1),
  RATE_LIMIT_HEAVY_MAX: atLeast(1),
  RATE_LIMIT_RECORDING_MAX: atLeast(1),
  RATE_LIMIT_UPLOAD_MAX: atLeast(1),
  RATE_LIMIT_REPORTS_MAX: atLeast(1),
};

function describeBounds({ min, max }: Bounds): string {
  return max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
}

function readInteger(env: Env, variable: Variable): number | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  const bounds = variableBounds[variable];
  const trimmed = raw.trim();
  const value = /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max)
    throw new SafeguardsConfigError(variable, raw, describeBounds(bounds));
  return value;
}

/**
 * Turns a resolver's refusal ("Expected <option> to be <range>, got <value>") into one that names
 * the variable that set the option, with its value as written. A rule across several options names
 * every variable of that option group that was set. Exported for tests only.
 */
export function toConfigError(env: Env, error: TypeError): SafeguardsConfigError {
  const option = /^Expected (\S+) /.exec(error.message)?.[1] ?? '';
  const expected = /^Expected \S+ to be (.+), got /.exec(error.message)?.[1];
  const set = (Object.keys(environmentVariables) as Variable[]).filter(
    (variable) => (env[variable] ?? '').trim() !== '',
  );
  const named = set.find((variable) => environmentVariables[variable] === option);
  if (named && expected) return new SafeguardsConfigError(named, env[named]!, expected, { cause: error });
  const group = option.slice(0, option.lastIndexOf('.') + 1);
  const related = set.filter((variable) => group !== '' && environmentVariables[variable].startsWith(group));
  const blamed = related.length > 0 ? related : set;
  return new SafeguardsConfigError(
    blamed.join(', '),
    blamed.map((variable) => env[variable]).join('", "'),
    `values that pass: ${error.message}`,
    { cause: error },
  );
}

/**
 * Runs the options read from the environment through the resolvers `createSafeguards` uses, so no
 * value passes here that would fail there.
 */
function checkWithOptionRules(env: Env, options: SafeguardsOptions): void {
  try {
    if (options.queue) resolveQueueOptions(options.queue);
    const primary = options.breakers?.primary;
    if (primary) resolveBreakerOptions('primary', primary, defaultBreakerDefinitions.primary);
    if (options.retry) resolveRetryOptions(options.retry);
    for (const [name, policy] of Object.entries(options.rateLimits?.policies ?? {}))
      validatePolicy(name, policy);
  } catch (error) {
    throw error instanceof TypeError ? toConfigError(env, error) : error;
  }
}

/**
 * Reads the source design's environment variables into options and validates them completely: with
 * the same rules `createSafeguards` applies to the options, so a configuration that passes here
 * cannot fail later. A value that is not an integer, or out of range, throws a
 * {@link SafeguardsConfigError} naming the variable and the value. Unset or empty variables leave
 * the defaults alone.
 *
 * Call it once at start-up (or call `getDefaultSafeguards()`, which calls it) so a bad deployment
 * fails before it serves a request, not on its first database call.
 */
export function safeguardsOptionsFromEnv(env: Env = runtimeEnv()): SafeguardsOptions {
  const options: SafeguardsOptions = {};
  const queue = {
    maxConcurrentConnections: readInteger(env, 'QUEUE_MAX_CONNECTIONS'),
    maxQueueSize: readInteger(env, 'QUEUE_MAX_SIZE'),
    timeoutMs: readInteger(env, 'QUEUE_TIMEOUT_MS'),
  };
  const primary = {
    failureThreshold: readInteger(env, 'CIRCUIT_FAILURE_THRESHOLD'),
    successThreshold: readInteger(env, 'CIRCUIT_SUCCESS_THRESHOLD'),
    openDurationMs: readInteger(env, 'CIRCUIT_TIMEOUT_MS'),
  };
  const retry = {
    baseDelayMs: readInteger(env, 'DB_RETRY_DELAY_MS'),
    maxAttempts: readInteger(env, 'DB_MAX_ATTEMPTS'),
  };
  // RATE_LIMIT_<POLICY>_MAX for each named policy (the source design had API and AUTH); windows stay.
  const policies: Record<string, RateLimitPolicy> = {};
  for (const [name, policy] of Object.entries(defaultRateLimitPolicies)) {
    const limit = readInteger(env, `RATE_LIMIT_${name.toUpperCase()}_MAX` as Variable);
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
  checkWithOptionRules(env, options);
  return options;
}
