import { createSafeguards } from '@db-safeguards/core';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import superjson from 'superjson';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createEdgeAdmission,
  createSafeguardsMiddleware,
  edgeRefusalResponse,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  safeguardsResponseMeta,
} from '../src/index.js';

const t = initTRPC
  .meta<SafeguardsMeta>()
  .create({ transformer: superjson, errorFormatter: safeguardsErrorFormatter() });
const safeguards = createSafeguards({
  rateLimits: { policies: { tiny: { limit: 1, windowMs: 60_000 } }, adaptive: false },
});
afterEach(() => safeguards.rateLimiter.reset('tiny', { ip: '203.0.113.9' }));
const procedure = t.procedure.use(
  createSafeguardsMiddleware(safeguards, { identify: () => ({ ip: '203.0.113.9' }) }),
);
const router = t.router({
  list: procedure.meta({ rateLimit: 'tiny' }).query(() => 'listed'),
  save: procedure.meta({ rateLimit: 'tiny' }).mutation(() => 'saved'),
});

const request = () =>
  new Request('https://example.test/api/trpc/list,list?batch=1&input=%7B%7D', {
    headers: { 'x-forwarded-for': '203.0.113.9' },
  });

describe('createEdgeAdmission with a Fetch Request (fetch adapter)', () => {
  it('admits while the limit lasts, then answers as fetchRequestHandler would, without the body', async () => {
    const edge = createEdgeAdmission({
      router,
      safeguards,
      basePath: '/api/trpc/',
      identify: () => ({ ip: '203.0.113.9' }),
    });
    // Two calls in one batch against a limit of one: the first admitted, so tRPC runs the request.
    const first = await edge(request());
    expect(first?.admitted?.calls.map((call) => call.refusal?.type)).toEqual([undefined, 'RATE_LIMIT']);

    // Now both calls are refused: the edge answers.
    const second = await edge(request());
    expect(second?.refused).toBeDefined();
    const fromEdge = edgeRefusalResponse(second!.refused!);
    const fromTRPC = await fetchRequestHandler({
      endpoint: '/api/trpc',
      req: request(),
      router,
      createContext: () => ({}),
      responseMeta: safeguardsResponseMeta(),
    });
    expect(fromEdge.status).toBe(429);
    expect(fromEdge.status).toBe(fromTRPC.status);
    for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'content-type', 'vary'])
      expect(fromEdge.headers.get(name), name).toBe(fromTRPC.headers.get(name));
    // The wait counts down between the two answers, in whole seconds rounded up: the edge's, given
    // first, is the same or one more (CI once saw 64 against 63 across a second's boundary).
    const edgeWait = Number(fromEdge.headers.get('retry-after'));
    const trpcWait = Number(fromTRPC.headers.get('retry-after'));
    expect(trpcWait).toBeGreaterThan(0);
    expect(edgeWait - trpcWait).toBeGreaterThanOrEqual(0);
    expect(edgeWait - trpcWait).toBeLessThanOrEqual(1);
    const edgeBody = (await fromEdge.json()) as Array<{ error: unknown }>;
    const trpcBody = (await fromTRPC.json()) as Array<{ error: unknown }>;
    expect(edgeBody).toHaveLength(2);
    const friendly = (body: Array<{ error: unknown }>) =>
      body.map((item) => {
        const shape = superjson.deserialize(item.error as never) as {
          code: number;
          data: { code: string; httpStatus: number; path: string; userFriendly: Record<string, unknown> };
        };
        const {
          errorId: _id,
          retryAfterMs: _wait,
          suggestedActions: _actions,
          ...rest
        } = shape.data.userFriendly;
        return {
          code: shape.code,
          dataCode: shape.data.code,
          status: shape.data.httpStatus,
          path: shape.data.path,
          rest,
        };
      });
    expect(friendly(edgeBody)).toEqual(friendly(trpcBody));
    expect(friendly(edgeBody)[0]!.rest).toMatchObject({
      type: 'RATE_LIMIT',
      reason: 'rate-limit',
      retryable: true,
    });
  });

  it('leaves to tRPC what is not a call it decides', async () => {
    const edge = createEdgeAdmission({ router, safeguards, basePath: '/api/trpc/' });
    expect(await edge(new Request('https://example.test/health'))).toBeUndefined();
    expect(await edge(new Request('https://example.test/api/trpc/list', { method: 'HEAD' }))).toBeUndefined();
    const tooMany = `https://example.test/api/trpc/${Array(26).fill('list').join(',')}?batch=1`;
    expect(await edge(new Request(tooMany))).toBeUndefined();
    const streamed = new Request('https://example.test/api/trpc/list?batch=1', {
      headers: { 'trpc-accept': 'application/jsonl' },
    });
    expect(await edge(streamed)).toBeUndefined();
  });
});

describe('createEdgeAdmission and paths the router does not list', () => {
  it('leaves the middleware to admit a call of an unlisted path (a lazy router not loaded yet)', async () => {
    const edge = createEdgeAdmission({ router, safeguards, basePath: '/api/trpc/' });
    const decision = await edge(
      new Request('https://example.test/api/trpc/later.save', {
        method: 'POST',
        headers: { 'x-forwarded-for': '203.0.113.9' },
      }),
    );
    expect(decision?.admitted?.calls.map((call) => call.fullyAdmitted)).toEqual([false]);
    const listed = await edge(request());
    expect(listed?.admitted?.calls[0]?.fullyAdmitted).toBe(true);
  });
});

describe('createEdgeAdmission with refuseUnavailable: false', () => {
  it('leaves calls an open breaker would refuse to the procedure (which may degrade), nothing precharged for them', async () => {
    const own = createSafeguards({
      rateLimits: { policies: { tiny: { limit: 100, windowMs: 60_000 } }, adaptive: false },
    });
    try {
      const options = {
        router,
        safeguards: own,
        basePath: '/api/trpc/',
        identify: () => ({ ip: '203.0.113.7' }),
      };
      own.breakers.get('primary').forceOpen();
      const plain = await createEdgeAdmission(options)(request());
      expect(plain?.refused?.errors.map((error) => error.type)).toEqual([
        'CIRCUIT_BREAKER',
        'CIRCUIT_BREAKER',
      ]);

      const lenient = await createEdgeAdmission({ ...options, refuseUnavailable: false })(request());
      expect(lenient?.refused).toBeUndefined();
      // Both calls go on, not fully admitted: the middleware checks them again, and its refusal
      // reaches the procedure's own middleware. The breaker refused them after charging 'tiny' here,
      // so the middleware does not charge them again.
      expect(lenient?.admitted?.calls).toEqual([
        { path: 'list', policy: 'tiny', refusal: undefined, rateLimit: undefined },
        { path: 'list', policy: 'tiny', refusal: undefined, rateLimit: undefined },
      ]);
      own.breakers.get('primary').reset();

      // Read-only mode refuses a write before its rate limit is charged: passed on uncharged, so
      // the middleware charges it if it lets it run.
      own.readOnly.enable('maintenance');
      const write = new Request('https://example.test/api/trpc/save', {
        method: 'POST',
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      const passed = await createEdgeAdmission({ ...options, refuseUnavailable: false })(write);
      expect(passed?.admitted?.calls).toEqual([
        { path: 'save', policy: false, refusal: undefined, rateLimit: undefined },
      ]);
    } finally {
      await own.close();
    }
  });
});
