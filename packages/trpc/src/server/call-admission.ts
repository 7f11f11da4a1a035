import {
  type RateLimitInfo,
  type RateLimitResult,
  type RequestIdentity,
  SafeguardError,
  type Safeguards,
} from '@db-safeguards/core';
import type { AnyTRPCRouter } from '@trpc/server';
import { addressGroup } from './address-group.js';
import { resolveProcedureSettings, type SafeguardsMeta } from './procedure-settings.js';
import { requestState, toRateLimitInfo } from './request-state.js';

/**
 * Calls a tRPC batch may hold unless told otherwise: enough for a page that loads a dozen things at
 * once, small enough that one HTTP request cannot queue thousands of database calls. Pass it to the
 * server adapter as `maxBatchSize` and to `httpBatchLink` as `maxItems`.
 */
export const defaultMaxBatchSize = 25;

/**
 * The procedure paths a tRPC HTTP request calls, from its URL alone (no body is read): `a,b,c` of
 * `/api/trpc/a,b,c?batch=1`, or the one path of a single call. Empty when the URL is not under
 * `basePath`.
 */
export function requestCallPaths(url: URL, basePath: string): string[] {
  if (!url.pathname.startsWith(basePath)) return [];
  let joined: string;
  try {
    joined = decodeURIComponent(url.pathname.slice(basePath.length));
  } catch {
    return [];
  }
  if (joined === '') return [];
  return isBatchRequest(url) ? joined.split(',') : [joined];
}

/**
 * Whether the URL's first `batch` parameter is `1`, exactly as tRPC reads it
 * (`searchParams.get('batch')`: names and values form-decoded, the first of a repeated name). The
 * query is scanned once and only a name or the value that needs it is decoded: `searchParams` would
 * decode every parameter, the call's whole input among them, on every request the edge sees.
 */
export function isBatchRequest(url: URL): boolean {
  const search = url.search;
  /** Position of the first '=' at or after the current parameter (the query's length when none). */
  let equals = -1;
  let from = 1;
  while (from < search.length) {
    let end = search.indexOf('&', from);
    if (end === -1) end = search.length;
    if (equals < from) {
      equals = search.indexOf('=', from);
      if (equals === -1) equals = search.length;
    }
    const nameEnd = Math.min(equals, end);
    if (formDecoded(search.slice(from, nameEnd)) === 'batch')
      return nameEnd < end && formDecoded(search.slice(nameEnd + 1, end)) === '1';
    from = end + 1;
  }
  return false;
}

/** A query name or value as the URL standard's form decoding gives it ('+' a space, %XX a byte). */
function formDecoded(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  const spaced = raw.replaceAll('+', ' ');
  try {
    // The same bytes as form decoding whenever every %XX is valid and they make valid UTF-8.
    return decodeURIComponent(spaced);
  } catch {
    // Otherwise form decoding keeps a bad escape as it is and replaces bad UTF-8: parse it as a
    // lone name ('=' escaped so it stays part of it).
    return new URLSearchParams(raw.replaceAll('=', '%3D')).keys().next().value ?? '';
  }
}

/** The rate-limit policy each procedure of `router` charges (its meta over `defaultRateLimit`), by path. */
export function procedurePolicies(
  router: AnyTRPCRouter,
  defaultRateLimit: string | false = 'api',
): (path: string) => string | false {
  const byPath = new Map<string, string | false>();
  const procedures = router._def.procedures as Record<
    string,
    { _def: { meta?: SafeguardsMeta; type: 'query' | 'mutation' | 'subscription' } }
  >;
  for (const [path, procedure] of Object.entries(procedures)) {
    const settings = resolveProcedureSettings(procedure._def.meta, procedure._def.type, {
      rateLimit: defaultRateLimit,
      timeoutMs: undefined,
    });
    byPath.set(path, settings.rateLimit ?? false);
  }
  // An unknown path answers NOT_FOUND without running anything; it still costs the caller a call.
  return (path) => byPath.get(path) ?? defaultRateLimit;
}

export interface AdmitCallsOptions {
  /** The paths of the request's calls (see {@link requestCallPaths}). */
  paths: readonly string[];
  /** Whom to charge: the user when known, else the IP (IPv6 grouped by /64). */
  identity: RequestIdentity;
  /** The policy each call charges, or `false` for none. */
  policyOf: (path: string) => string | false;
  /** Refuse the whole request when it holds more calls. Default {@link defaultMaxBatchSize}. */
  maxBatchSize?: number;
}

/** The outcome of {@link admitCalls}, one entry per call, in order. */
export interface CallsAdmission {
  /** Set when the batch is over `maxBatchSize`: nothing was charged, every call is refused with it. */
  tooLarge: SafeguardError | undefined;
  calls: Array<{
    path: string;
    /** The policy the call was charged under; `false` when it was charged nothing. */
    policy: string | false;
    refusal: SafeguardError | undefined;
    rateLimit: RateLimitInfo | undefined;
    /**
     * Every check of `safeguards.admit` passed for it (the edge's admission), not only its rate
     * limit: the middleware does not repeat them, and its first operation checks again anyway.
     */
    fullyAdmitted?: boolean;
  }>;
}

/**
 * Admits the calls of one request before any of them runs: refuses a batch larger than
 * `maxBatchSize` outright, then charges every call to the caller's limit under its policy, so a
 * batch of 25 costs what 25 requests cost. Cheap: rate-limit checks only, no slot, no database.
 * Hand the outcome to {@link prechargeCalls} so that the safeguards middleware does not charge the
 * calls a second time and refuses the ones refused here.
 */
export async function admitCalls(
  safeguards: Safeguards,
  options: AdmitCallsOptions,
): Promise<CallsAdmission> {
  const maxBatchSize = options.maxBatchSize ?? defaultMaxBatchSize;
  if (options.paths.length > maxBatchSize) {
    return {
      tooLarge: new SafeguardError({
        type: 'VALIDATION',
        reason: 'payload-too-large',
        httpStatus: 413,
        userMessage: 'That request holds too many calls at once.',
        suggestedActions: [`Send at most ${maxBatchSize} calls per request.`],
        internalMessage: `batch of ${options.paths.length} calls over the limit of ${maxBatchSize}`,
      }),
      calls: [],
    };
  }
  const identity = { ...options.identity };
  if (identity.ip !== undefined) identity.ip = addressGroup(identity.ip);
  const calls: CallsAdmission['calls'] = [];
  for (const path of options.paths) {
    const policy = options.policyOf(path);
    if (policy === false) {
      calls.push({ path, policy, refusal: undefined, rateLimit: undefined });
      continue;
    }
    const result = await safeguards.rateLimiter.check(policy, identity);
    calls.push({
      path,
      policy,
      refusal: result.allowed ? undefined : refusalOf(result),
      rateLimit: toRateLimitInfo(result),
    });
  }
  return { tooLarge: undefined, calls };
}

/**
 * Records the outcome of {@link admitCalls} in the request's context (made with
 * `withSafeguardsContext`): the safeguards middleware then takes each call's outcome instead of
 * charging it again, and refuses the calls refused here with their typed 429.
 */
export function prechargeCalls(context: object, admission: CallsAdmission): void {
  const state = requestState(context);
  if (!state) return;
  for (const call of admission.calls) {
    // Every call, also one without a policy: the middleware then knows the edge let it through
    // (and counted it in the load's admitted share), or refused it.
    let queue = state.precharged.get(call.path);
    if (queue === undefined) {
      queue = [];
      state.precharged.set(call.path, queue);
    }
    queue.push({
      refusal: call.refusal,
      rateLimit: call.rateLimit,
      fullyAdmitted: call.fullyAdmitted === true,
      charged: call.policy !== false,
    });
  }
}

/** True when at least one call of the admission may go on. */
export function anyAdmitted(admission: CallsAdmission): boolean {
  return admission.tooLarge === undefined && admission.calls.some((call) => call.refusal === undefined);
}

/** The 429 of a call refused here: the same figures the middleware's own refusal carries. */
function refusalOf(result: RateLimitResult): SafeguardError<'RATE_LIMIT'> {
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  return new SafeguardError({
    type: 'RATE_LIMIT',
    reason: 'rate-limit',
    retryAfterMs: result.retryAfterMs,
    notApplied: true,
    suggestedActions: [`Wait ${seconds} second${seconds === 1 ? '' : 's'}, then try again.`],
    internalMessage: `rate limit "${result.policy}" reached for ${result.key} (${result.limit} per window)`,
    rateLimit: toRateLimitInfo(result),
  });
}

/**
 * The refusal `admitCalls` gave the next call of `path` in this request, without taking it: lets a
 * middleware that runs before the safeguards middleware (a session lookup) skip work for a call that
 * will be refused anyway.
 */
export function prechargedRefusal(context: object, path: string): SafeguardError | undefined {
  return requestState(context)?.precharged.get(path)?.[0]?.refusal;
}
