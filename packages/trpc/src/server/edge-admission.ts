import {
  isSafeguardError,
  type RateLimitInfo,
  type RequestIdentity,
  type SafeguardError,
  type Safeguards,
} from '@db-safeguards/core';
import { type AnyTRPCRouter, getTRPCErrorShape, transformTRPCResponse } from '@trpc/server';
import { getHTTPStatusCode } from '@trpc/server/http';
import {
  type CallsAdmission,
  defaultMaxBatchSize,
  isBatchRequest,
  requestCallPaths,
} from './call-admission.js';
import type { TrustProxy } from './client-ip.js';
import { toTRPCError } from './error-mapping.js';
import {
  callRunContext,
  type ProcedureSettings,
  resolveProcedureSettings,
  type SafeguardsMeta,
} from './procedure-settings.js';
import { type RenderedRefusal, reuseRefusalRenderings } from './refusal-templates.js';
import { requestIdentity } from './request-identity.js';
import { rememberCallFacts, requestState, toRateLimitInfo, withSafeguardsContext } from './request-state.js';
import { safeguardsHeaders } from './response-meta.js';

/**
 * What the edge reads of a request: a Node `IncomingMessage` (tRPC's standalone and Node adapters)
 * or a Fetch `Request` (the fetch adapter). Only the method, URL and headers: never the body.
 */
export type EdgeRequest =
  | {
      method?: string | undefined;
      url?: string | undefined;
      headers: Record<string, string | string[] | undefined>;
      socket?: { remoteAddress?: string | undefined } | null;
    }
  | Request;

export interface EdgeAdmissionOptions {
  /** The app's router: each procedure's settings are read from its meta once, here. */
  router: AnyTRPCRouter;
  safeguards: Safeguards;
  /** Where tRPC is served, with the trailing slash: `/api/trpc/`. */
  basePath: string;
  /**
   * Who is calling, from the request alone, cheaply (a session cache, a signed cookie): never the
   * database, which is what the edge protects. Return `userId` when known; without an `ip` the
   * request's address is used (as `trustProxy` says). Omitted: every caller is its IP.
   */
  identify?: (request: EdgeRequest) => RequestIdentity | undefined;
  /** Whose X-Forwarded-For to believe (see `clientIp`). Default `false`: the socket's peer. */
  trustProxy?: TrustProxy;
  /** The policy of procedures whose meta sets none: the middleware's `defaultRateLimit`. Default 'api'. */
  defaultRateLimit?: string | false;
  /** The adapter's `maxBatchSize`: a larger batch is left to tRPC's own 400, charged nothing. */
  maxBatchSize?: number;
  /**
   * Refuse at the edge the calls the database cannot take now (`CIRCUIT_BREAKER`: an open breaker,
   * read-only mode). Default true. Set it to false when procedures answer something useful while the
   * database is unavailable (a stale read, a write kept for later) and must run to do so: such calls
   * then go on to tRPC, charged here once, and the middleware checks them again as usual (its refusal
   * reaches the procedure's middleware that degrades around it).
   */
  refuseUnavailable?: boolean;
}

/** A request the edge refused whole: every call refused, the answer ready to send. */
export interface EdgeRefusal {
  /** The HTTP status tRPC would send: the calls' own, or 207 when they differ. */
  readonly status: number;
  /** `content-type`, `vary`, `Retry-After` and `X-RateLimit-*`, as the safeguards' `responseMeta` gives them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The tRPC response body: the router's error shapes through its transformer. */
  readonly body: string;
  /** The refusal of each call, in order (for logs and counters). */
  readonly errors: readonly SafeguardError[];
  /** The procedure path of each call, in the same order. */
  readonly paths: readonly string[];
}

/**
 * The edge's decision for one request: `refused` when no call of it may run (answer with
 * {@link sendEdgeRefusal} or {@link edgeRefusalResponse}, tRPC never sees it); else `admitted`, the
 * outcome of every call to hand to `prechargeCalls` in `createContext`, so that the middleware
 * neither charges a call twice nor runs one refused here. Undefined: not a call the edge decides
 * (outside `basePath`, a method other than GET and POST, a batch over `maxBatchSize`, a streaming or
 * subscription request).
 */
export type EdgeDecision =
  | { refused: EdgeRefusal; admitted?: undefined }
  | { refused?: undefined; admitted: CallsAdmission }
  | undefined;

type CallType = 'query' | 'mutation' | 'subscription';

interface ProcedureAtEdge {
  settings: ProcedureSettings;
  type: CallType;
}

/**
 * Decides a request at the edge. `url`, when the server parsed the request's URL already, saves
 * parsing it again (it must be the request's own).
 */
export type EdgeAdmission = (request: EdgeRequest, url?: URL) => Promise<EdgeDecision>;

/**
 * Admission at the HTTP edge, before tRPC reads, parses and deserialises the body: the cost of a
 * refused call is then a URL split, the checks themselves and a small JSON body, instead of tRPC's
 * whole request path (body, transformer, context, middleware, error shaping).
 *
 * Each call of a request (every call of a batch, on its own) goes through `safeguards.admit` with
 * its procedure's priority, operation type, breaker and rate-limit policy, resolved once per path
 * here: read-only mode (writes), the process's load by priority, the caller's rate limit (charged
 * per call), the breaker and the queue's shed marks. A refusal is counted as a refusal, never as a
 * failure (no breaker, health or adaptive limit sees it). The answer carries what the router itself
 * would send: its `errorFormatter` (so `error.data.userFriendly`), its transformer, the status, and
 * the `Retry-After` and `X-RateLimit-*` headers of `safeguardsResponseMeta`.
 *
 * @example
 * const edge = createEdgeAdmission({ router: appRouter, safeguards, basePath: '/api/trpc/' });
 * http.createServer(async (req, res) => {
 *   const decision = await edge(req);
 *   if (decision?.refused) return sendEdgeRefusal(res, decision.refused);
 *   // createContext: prechargeCalls(context, decision.admitted) when decision is set
 *   await trpcHandler(req, res);
 * });
 */
export function createEdgeAdmission(options: EdgeAdmissionOptions): EdgeAdmission {
  const { router, safeguards, basePath } = options;
  const defaultRateLimit = options.defaultRateLimit ?? 'api';
  const maxBatchSize = options.maxBatchSize ?? defaultMaxBatchSize;
  const trustProxy = options.trustProxy ?? false;
  const refuseUnavailable = options.refuseUnavailable ?? true;
  const reuse = reuseRefusalRenderings();
  const byPath = new Map<string, ProcedureAtEdge>();
  const procedures = router._def.procedures as Record<
    string,
    { _def: { meta?: SafeguardsMeta; type: CallType } }
  >;
  for (const [path, procedure] of Object.entries(procedures)) {
    const settings = resolveProcedureSettings(procedure._def.meta, procedure._def.type, {
      rateLimit: defaultRateLimit,
      timeoutMs: undefined,
    });
    byPath.set(path, { settings, type: procedure._def.type });
  }
  // An unknown path is tRPC's NOT_FOUND, which runs nothing; it is still a call the caller pays for.
  const unknown: ProcedureAtEdge = {
    settings: resolveProcedureSettings(undefined, 'query', {
      rateLimit: defaultRateLimit,
      timeoutMs: undefined,
    }),
    type: 'query',
  };

  return async (request, parsedUrl) => {
    // tRPC answers other methods (HEAD, OPTIONS) without running a call: nothing to admit.
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') return undefined;
    const fetchRequest = isFetchRequest(request);
    const url =
      parsedUrl ?? (fetchRequest ? new URL(request.url) : new URL(request.url ?? '/', 'http://localhost'));
    const paths = requestCallPaths(url, basePath);
    if (paths.length === 0 || paths.length > maxBatchSize) return undefined;
    // A streamed batch (httpBatchStreamLink) is answered in JSON lines: tRPC writes those itself.
    if (headerOf(request, 'trpc-accept') === 'application/jsonl') return undefined;
    const calls = paths.map((path) => ({ path, procedure: byPath.get(path) ?? unknown }));
    if (calls.some((call) => call.procedure.type === 'subscription')) return undefined;

    const identity = requestIdentity(
      options.identify?.(request),
      fetchRequest ? undefined : request,
      trustProxy,
    );
    const admitted: CallsAdmission = { tooLarge: undefined, calls: [] };
    let anyAdmitted = false;
    for (const { path, procedure } of calls) {
      const { settings } = procedure;
      const context = callRunContext(settings, identity, path);
      if (settings.rateLimit !== undefined) context.policy = settings.rateLimit;
      try {
        const admission = await safeguards.admit(context);
        anyAdmitted = true;
        admitted.calls.push({
          path,
          policy: settings.rateLimit ?? false,
          refusal: undefined,
          rateLimit: admission.rateLimit && toRateLimitInfo(admission.rateLimit),
          // A path the router does not list (a lazy router's, not loaded yet) was admitted as a
          // query with the default settings: its own settings are the middleware's to check.
          fullyAdmitted: procedure !== unknown,
        });
      } catch (error) {
        // Not a refusal (an unknown policy is a TypeError): tRPC's own path reports it.
        if (!isSafeguardError(error)) throw error;
        if (!refuseUnavailable && error.type === 'CIRCUIT_BREAKER') {
          // Left to the procedure, which may degrade around it; the middleware checks it again. An
          // open breaker refuses after the rate limit was charged (the middleware does not charge it
          // again); read-only mode refuses before (the middleware charges it, if it lets it run).
          anyAdmitted = true;
          const chargedPolicy = error.reason === 'read-only' ? false : (settings.rateLimit ?? false);
          admitted.calls.push({ path, policy: chargedPolicy, refusal: undefined, rateLimit: undefined });
          continue;
        }
        rememberCallFacts(error, {
          type: procedure.type,
          idempotent: settings.idempotent,
          degraded: error.reason === 'read-only',
          bodyRan: false,
        });
        admitted.calls.push({
          path,
          policy: settings.rateLimit ?? false,
          refusal: error,
          rateLimit: error.rateLimit,
        });
      }
    }
    if (anyAdmitted) return { admitted };
    // A request naming a path the router does not have is answered without a template: paths are
    // the caller's to choose, and a flood of made-up ones would make a template each (three
    // renderings) and push out the templates of real requests.
    const known = calls.every((call) => call.procedure !== unknown);
    return { refused: refusalAnswer(router, url, calls, admitted, known ? reuse : undefined) };
  };
}

/** The response tRPC would give for a request whose every call is refused. */
function refusalAnswer(
  router: AnyTRPCRouter,
  url: URL,
  calls: ReadonlyArray<{ path: string; procedure: ProcedureAtEdge }>,
  admitted: CallsAdmission,
  reuse: ReturnType<typeof reuseRefusalRenderings> | undefined,
): EdgeRefusal {
  const batch = isBatchRequest(url);
  const errors = admitted.calls.map((call) => call.refusal!);
  const rateLimits = admitted.calls.flatMap((call) => (call.rateLimit ? [call.rateLimit] : []));
  const render = (shown: readonly SafeguardError[]) => renderRefusal(router, batch, calls, shown, rateLimits);
  const paths = calls.map((call) => call.path);
  const key = `${batch ? 'batch' : 'single'} ${paths.join(',')}`;
  // The rate-limit headers are filled in per caller by `reuse` (from the errors' figures).
  const answer = reuse === undefined ? render(errors) : reuse(key, errors, render);
  return { ...answer, errors, paths };
}

function renderRefusal(
  router: AnyTRPCRouter,
  batch: boolean,
  calls: ReadonlyArray<{ path: string; procedure: ProcedureAtEdge }>,
  errors: readonly SafeguardError[],
  rateLimits: readonly RateLimitInfo[],
): RenderedRefusal {
  const config = router._def._config;
  const context = withSafeguardsContext({});
  const state = requestState(context)!;
  state.rateLimits.push(...rateLimits);
  const trpcErrors = [];
  const items = [];
  for (const [index, refusal] of errors.entries()) {
    const error = toTRPCError(refusal);
    trpcErrors.push(error);
    const { path, procedure } = calls[index]!;
    items.push({
      error: getTRPCErrorShape({
        config,
        error,
        type: procedure.type,
        path,
        input: undefined,
        ctx: undefined,
      }),
    });
  }
  const callType = calls[0]!.procedure.type;
  const status = getHTTPStatusCode(batch ? items : items[0]!, trpcErrors);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    vary: 'trpc-accept, accept',
    ...safeguardsHeaders(context, trpcErrors, callType),
  };
  const body = JSON.stringify(transformTRPCResponse(config, batch ? items : items[0]!));
  return { status, headers, body };
}

function isFetchRequest(request: EdgeRequest): request is Request {
  return typeof (request.headers as Headers).get === 'function';
}

function headerOf(request: EdgeRequest, name: string): string | undefined {
  if (isFetchRequest(request)) return request.headers.get(name) ?? undefined;
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const utf8 = new TextEncoder();
/** Where {@link utf8Length} encodes: reused, so measuring a body allocates nothing. */
let scratch = new Uint8Array(4096);

/** The byte length of `text` in UTF-8 (this package does not rely on Node's `Buffer`). */
function utf8Length(text: string): number {
  // Three bytes at most for each UTF-16 unit.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return utf8.encodeInto(text, scratch).written;
}

/** The parts of a Node `ServerResponse` {@link sendEdgeRefusal} writes to. */
export interface EdgeResponseTarget {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body: string): unknown;
}

/**
 * Writes an edge refusal to a Node response (`http.ServerResponse`) in one `writeHead` and `end`.
 * The request body, if any, is left unread: Node discards it, and a small one keeps the connection.
 */
export function sendEdgeRefusal(response: EdgeResponseTarget, refusal: EdgeRefusal): void {
  response.writeHead(refusal.status, {
    ...refusal.headers,
    'content-length': utf8Length(refusal.body),
  });
  response.end(refusal.body);
}

/** An edge refusal as a Fetch `Response`, for the fetch adapter (`fetchRequestHandler`) and edge runtimes. */
export function edgeRefusalResponse(refusal: EdgeRefusal): Response {
  return new Response(refusal.body, { status: refusal.status, headers: refusal.headers });
}
