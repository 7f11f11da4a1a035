import type { RateLimitInfo, RateLimitResult, SafeguardError } from '@db-safeguards/core';

/** A call charged before it reached the middleware (see `admitCalls`): its refusal, or its figures. */
export interface PrechargedCall {
  refusal: SafeguardError | undefined;
  rateLimit: RateLimitInfo | undefined;
  /** Admitted at the edge by `safeguards.admit` (all its checks), not only charged (`admitCalls`). */
  fullyAdmitted: boolean;
  /** Its rate limit was charged (its `policy` in `CallsAdmission`); else the middleware charges it. */
  charged: boolean;
}

/** What the middleware learned about one HTTP request, for the response headers. */
export interface RequestState {
  /** Rate-limit results of the calls in the request (several in a batch). */
  rateLimits: RateLimitInfo[];
  /** Calls already charged by `admitCalls`, by path, in batch order: the middleware takes them in turn. */
  precharged: Map<string, PrechargedCall[]>;
}

const stateKey = Symbol.for('db-safeguards.trpc.requestState');
const byContext = new WeakMap<object, RequestState>();

/**
 * Adds the (hidden) per-request state holder to a tRPC context. Use it in `createContext` when other
 * middleware runs before the safeguards middleware: tRPC copies the context when a middleware extends
 * it, and the holder travels with the copies. When the safeguards middleware runs first it is optional.
 */
export function withSafeguardsContext<T extends object>(context: T): T {
  if (!(stateKey in context))
    Object.defineProperty(context, stateKey, {
      value: { rateLimits: [], precharged: new Map() } satisfies RequestState,
      enumerable: true,
    });
  return context;
}

/** The state of the request `context` belongs to (created on first use). */
export function requestState(context: unknown): RequestState | undefined {
  if (typeof context !== 'object' || context === null) return undefined;
  const held = (context as Record<symbol, RequestState | undefined>)[stateKey];
  if (held) return held;
  let state = byContext.get(context);
  if (!state) {
    state = { rateLimits: [], precharged: new Map() };
    byContext.set(context, state);
  }
  return state;
}

export function toRateLimitInfo(result: RateLimitResult): RateLimitInfo {
  return {
    policy: result.policy,
    limit: result.limit,
    remaining: result.remaining,
    resetAt: result.resetAt,
    retryAfterMs: result.retryAfterMs,
  };
}

/** Per-call facts the error formatter needs but tRPC does not give it (the procedure's meta). */
export interface CallFacts {
  type: 'query' | 'mutation' | 'subscription';
  idempotent: boolean;
  degraded: boolean;
  /**
   * The procedure body started. Then an error that says its own operation was not applied (a query
   * refused by a full queue, a serialization failure) says nothing of the writes made before it.
   */
  bodyRan: boolean;
}

const factsByError = new WeakMap<SafeguardError, CallFacts>();

export function rememberCallFacts(error: SafeguardError, facts: CallFacts): void {
  factsByError.set(error, facts);
}

export function callFactsOf(error: SafeguardError): CallFacts | undefined {
  return factsByError.get(error);
}
