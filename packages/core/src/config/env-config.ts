import { defaultBreakerDefinitions, resolveBreakerOptions } from '../breaker/breaker-options.js';
import { OptionError } from '../internal/validate.js';
import { resolveQueueOptions } from '../queue/queue-options.js';
import {
  defaultRateLimitPolicies,
  type RateLimitPolicy,
  validatePolicy,
} from '../rate-limit/rate-limit-policy.js';
import { resolveRetryOptions } from '../retry/retry-options.js';
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

/** The variable that sets each option: {@link environmentVariables} read the other way. */
const variableOf: ReadonlyMap<string, Variable> = new Map(
  (Object.keys(environmentVariables) as Variable[]).map((variable) => [
    environmentVariables[variable],
    variable,
  ]),
);

/**
 * A variable as a number for its option, or undefined when unset or empty. Anything not written as an
 * integer becomes NaN: it is not refused here but by the option's own rule, the one `createSafeguards`
 * applies, so that rule alone decides, and says, what the variable may be.
 */
function readInteger(env: Env, variable: Variable): number | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  const trimmed = raw.trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/**
 * Turns a resolver's refusal of an option into one that names the variable that set the option, with
 * its value as written and the option's rule. A refusal of an option no variable sets (a rule across
 * several options) names every variable of that option group that was set. Exported for tests only.
 */
export function toConfigError(env: Env, error: TypeError): SafeguardsConfigError {
  const isSet = (variable: Variable) => (env[variable] ?? '').trim() !== '';
  const option = error instanceof OptionError ? error.option : '';
  const named = variableOf.get(option);
  if (named !== undefined && isSet(named)) {
    return new SafeguardsConfigError(named, env[named]!, (error as OptionError).expected, { cause: error });
  }
  const set = (Object.keys(environmentVariables) as Variable[]).filter(isSet);
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
 * Runs the options read from the environment through the resolvers `createSafeguards` uses: the one
 * check of every value, so no value passes here that would fail there.
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
