import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createSafeguards,
  type LoadOptions,
  type LoadSample,
  Priority,
  type Safeguards,
} from '@db-safeguards/core';
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createEdgeAdmission,
  createSafeguardsMiddleware,
  type EdgeDecision,
  prechargeCalls,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  safeguardsResponseMeta,
  sendEdgeRefusal,
  withSafeguardsContext,
} from '../src/index.js';

interface Context {
  userId: string | undefined;
}

const t = initTRPC
  .context<Context>()
  .meta<SafeguardsMeta>()
  .create({ transformer: superjson, errorFormatter: safeguardsErrorFormatter() });
const procedure = t.procedure.use(
  createSafeguardsMiddleware((ctx: Context & { safeguards?: Safeguards }) => ctx.safeguards!, {
    identify: (ctx) => ({ userId: ctx.userId }),
  }),
);
const router = t.router({
  list: procedure.meta({ rateLimit: 'tiny' }).query(() => ['a', 'b']),
  save: procedure.meta({ rateLimit: 'tiny' }).mutation(() => 'saved'),
  report: procedure.meta({ priority: Priority.LOW, rateLimit: false }).query(() => 'report'),
  open: procedure.meta({ rateLimit: false }).query(() => 'open'),
});
type AppRouter = typeof router;

/** A load reading the test sets: the process "lags" as much as it says. */
class SetLoad {
  sample: LoadSample = { eventLoopDelayMs: 0 };
  sampler = { sample: () => this.sample };
  /** Sets the reading and waits past the monitor's sampling interval (1 ms) so the next call reads it. */
  async set(sample: LoadSample): Promise<void> {
    this.sample = sample;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Running {
  url: string;
  safeguards: Safeguards;
  load: SetLoad;
  /** Requests tRPC handled (the edge did not answer them). */
  reachedTRPC: number;
  server: Server;
}

const running: Running[] = [];
afterEach(async () => {
  for (const one of running.splice(0)) {
    one.server.close();
    await one.safeguards.close();
  }
});

/** A real HTTP server; with `edge` the edge decides first, as an app would wire it. */
async function start(edge: boolean, loadOptions: Partial<LoadOptions> = {}): Promise<Running> {
  const load = new SetLoad();
  const safeguards = createSafeguards({
    rateLimits: { policies: { tiny: { limit: 2, windowMs: 60_000 } }, adaptive: false },
    load: { sampler: load.sampler, sampleIntervalMs: 1, sustainedReadings: 1, ...loadOptions },
  });
  const admit = createEdgeAdmission({
    router,
    safeguards,
    basePath: '/trpc/',
    identify: (req) => ({ userId: headerValue(req, 'x-user') }),
  });
  const decisions = new WeakMap<IncomingMessage, EdgeDecision>();
  const state = { reachedTRPC: 0 };
  const trpc = createHTTPHandler({
    router,
    basePath: '/trpc/',
    responseMeta: safeguardsResponseMeta(),
    createContext: ({ req }) => {
      state.reachedTRPC++;
      const context = withSafeguardsContext({ userId: headerValue(req, 'x-user'), safeguards });
      const admitted = decisions.get(req)?.admitted;
      if (admitted) prechargeCalls(context, admitted);
      return context;
    },
  });
  const server = createServer(async (req, res) => {
    if (edge) {
      const decision = await admit(req);
      if (decision?.refused) {
        sendEdgeRefusal(res, decision.refused);
        return;
      }
      decisions.set(req, decision);
    }
    await trpc(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const one: Running = {
    url: `http://127.0.0.1:${port}/trpc`,
    safeguards,
    load,
    server,
    get reachedTRPC() {
      return state.reachedTRPC;
    },
  };
  running.push(one);
  return one;
}

function headerValue(req: { headers: unknown }, name: string): string | undefined {
  const headers = req.headers as Headers | Record<string, string | string[] | undefined>;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

function client(url: string, user = 'ann', batch = false) {
  const link = (batch ? httpBatchLink : httpLink)({
    url,
    transformer: superjson,
    headers: { 'x-user': user },
  });
  return createTRPCClient<AppRouter>({ links: [link] });
}

/** What the client's code does with an error: a switch on `userFriendly`'s type and reason. */
function clientReaction(error: unknown): string {
  if (!(error instanceof TRPCClientError)) return 'not a tRPC error';
  const friendly = (error as TRPCClientError<AppRouter>).data?.userFriendly;
  if (!friendly) return 'no userFriendly';
  switch (friendly.type) {
    case 'RATE_LIMIT':
      return `slow down ${friendly.reason} ${friendly.retryAfterMs !== null}`;
    case 'QUEUE_FULL':
      return `busy ${friendly.reason} ${friendly.retryable}`;
    case 'CIRCUIT_BREAKER':
      return `unavailable ${friendly.reason}`;
    default:
      return `${friendly.type} ${friendly.reason} ${friendly.degraded}`;
  }
}

async function rawGet(url: string, user: string) {
  const response = await fetch(url, { headers: { 'x-user': user } });
  const body = (await response.json()) as unknown;
  return { status: response.status, headers: response.headers, body };
}

/** The error IDs of an answer's calls, in order. */
function errorIds(body: unknown): string[] {
  const ids: string[] = [];
  JSON.parse(JSON.stringify(body), (key, value) => {
    if (key === 'errorId') ids.push(value as string);
    return value;
  });
  return ids;
}

/** A body with the fields that differ between any two refusals (error ID, stack, times) blanked. */
function comparable(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body), (key, value) => {
    if (key === 'errorId' || key === 'stack') return 'x';
    if (key === 'retryAfterMs' && typeof value === 'number') return 'ms';
    if (key === 'message' && typeof value === 'string') return value.replace(/\d+ seconds?/, 'N seconds');
    if (typeof value === 'string') return value.replace(/Wait \d+ seconds?/, 'Wait N seconds');
    return value;
  });
}

describe('createEdgeAdmission over HTTP with the real tRPC client (Node adapter)', () => {
  it('refuses a rate-limited call before tRPC, with the answer tRPC itself gives', async () => {
    const [edged, plain] = await Promise.all([start(true), start(false)]);
    for (const server of [edged, plain]) {
      const trpc = client(server.url);
      expect(await trpc.list.query()).toEqual(['a', 'b']);
      expect(await trpc.list.query()).toEqual(['a', 'b']);
    }
    const before = edged.reachedTRPC;
    const [fromEdge, fromTRPC] = await Promise.all([
      rawGet(`${edged.url}/list`, 'ann'),
      rawGet(`${plain.url}/list`, 'ann'),
    ]);
    expect(edged.reachedTRPC).toBe(before);
    expect(fromEdge.status).toBe(429);
    expect(fromEdge.status).toBe(fromTRPC.status);
    expect(comparable(fromEdge.body)).toEqual(comparable(fromTRPC.body));
    for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'content-type', 'vary']) {
      expect(fromEdge.headers.get(name), name).not.toBeNull();
      expect(fromEdge.headers.get(name), name).toBe(fromTRPC.headers.get(name));
    }
    // The window counts in buckets of 6 s (60 s / 10): the two servers' first calls can fall either
    // side of a bucket's end, so their Retry-After may differ by one bucket (a CI run had 60 and 66).
    const retryAfter = [fromEdge, fromTRPC].map((answer) => Number(answer.headers.get('retry-after')));
    for (const seconds of retryAfter) expect(seconds).toBeGreaterThan(0);
    expect(Math.abs(retryAfter[0]! - retryAfter[1]!)).toBeLessThanOrEqual(6);
    // The reset time may differ by a second between the two servers.
    expect(Number(fromEdge.headers.get('x-ratelimit-reset'))).toBeCloseTo(
      Number(fromTRPC.headers.get('x-ratelimit-reset')),
      -1,
    );

    // Later refusals come from one rendering: each still its own ID, its own wait and counters.
    const later = [];
    for (let i = 0; i < 3; i++) later.push(await rawGet(`${edged.url}/list`, 'ann'));
    expect(edged.reachedTRPC).toBe(before);
    expect(new Set(later.map((answer) => errorIds(answer.body)[0])).size).toBe(3);
    for (const answer of later) {
      expect(comparable(answer.body)).toEqual(comparable(fromTRPC.body));
      const wait = (answer.body as { error: { json: { data: { userFriendly: { retryAfterMs: number } } } } })
        .error.json.data.userFriendly.retryAfterMs;
      expect(answer.headers.get('retry-after')).toBe(String(Math.ceil(wait / 1000)));
      expect(answer.headers.get('x-ratelimit-remaining')).toBe('0');
      // The caller's own reset time (a bucket of 6 s may have ended meanwhile), not a stale copy.
      const reset = Number(answer.headers.get('x-ratelimit-reset'));
      expect(reset).toBeGreaterThanOrEqual(Number(fromEdge.headers.get('x-ratelimit-reset')));
      expect(reset).toBeLessThanOrEqual(Number(fromEdge.headers.get('x-ratelimit-reset')) + 6);
    }

    const refused = await client(edged.url)
      .list.query()
      .catch((error: unknown) => error);
    expect(clientReaction(refused)).toBe('slow down rate-limit true');
    // Another user's limit is their own.
    expect(await client(edged.url, 'bob').list.query()).toEqual(['a', 'b']);
  });

  it('charges every call of a batch on its own and answers a fully refused batch itself', async () => {
    const server = await start(true);
    const trpc = client(server.url, 'ann', true);
    // Three calls of a limit of two in one batch: two served, the third refused by the middleware
    // with the edge's outcome (the batch as a whole had calls to run).
    const mixed = await Promise.allSettled([trpc.list.query(), trpc.list.query(), trpc.list.query()]);
    expect(mixed.map((one) => one.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(clientReaction((mixed[2] as PromiseRejectedResult).reason)).toBe('slow down rate-limit true');
    const before = server.reachedTRPC;
    const refused = await Promise.allSettled([trpc.list.query(), trpc.save.mutate()]);
    expect(server.reachedTRPC).toBe(before);
    for (const one of refused) {
      expect(one.status).toBe('rejected');
      expect(clientReaction((one as PromiseRejectedResult).reason)).toBe('slow down rate-limit true');
    }
    // A batch with a call that may run goes to tRPC; only the refused call fails.
    const partly = await Promise.allSettled([trpc.list.query(), trpc.open.query()]);
    expect(partly.map((one) => one.status)).toEqual(['rejected', 'fulfilled']);
  });

  it('answers repeated refusals from one rendering: each its own error ID, the rest as tRPC renders it', async () => {
    const [edged, plain] = await Promise.all([start(true), start(false)]);
    for (const server of [edged, plain]) await server.load.set({ eventLoopDelayMs: 500 });
    const fromTRPC = await rawGet(`${plain.url}/report`, 'ann');
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await rawGet(`${edged.url}/report`, 'ann'));
    const ids = answers.map((answer) => errorIds(answer.body));
    expect(new Set(ids.flat()).size).toBe(3);
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(fromTRPC.status);
      expect(answer.headers.get('retry-after')).toBe(fromTRPC.headers.get('retry-after'));
      expect(comparable(answer.body)).toEqual(comparable(fromTRPC.body));
      expect(ids[i]![0]).toMatch(/^err_[0-9a-f]{16}$/);
    }
    // A refused batch: each call its own ID, in the calls' order, also when the answer is reused.
    const batchUrl = `${edged.url}/report,report?batch=1&input=${encodeURIComponent('{}')}`;
    const batches = [await rawGet(batchUrl, 'ann'), await rawGet(batchUrl, 'ann')];
    const batchIds = batches.flatMap((answer) => errorIds(answer.body));
    expect(batchIds).toHaveLength(4);
    expect(new Set(batchIds).size).toBe(4);
    expect(comparable(batches[0]!.body)).toEqual(comparable(batches[1]!.body));
  });

  it('counts a call once in the admitted share of NORMAL, though the edge, the middleware and its first operation all check the load', async () => {
    // One reading a second: the first reading of a fully busy loop halves NORMAL's share, and the
    // calls below all fall in the window it covers.
    const server = await start(true, { sampleIntervalMs: 1000, eventLoopDelayMs: false });
    server.load.sample = { eventLoopUtilization: 1 };
    await new Promise((resolve) => setTimeout(resolve, 1010));
    expect(server.safeguards.metrics().load.normalShare).toBe(0.5);
    const trpc = client(server.url, 'dan');
    const outcomes = [];
    for (let i = 0; i < 20; i++) outcomes.push(await trpc.open.query().then(() => 'ok', clientReaction));
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(10);
    expect(outcomes.filter((outcome) => outcome === 'busy overloaded true')).toHaveLength(10);
    expect(server.safeguards.metrics().load.normalShare).toBe(0.5);
  });

  it('admits a call once: the edge admits it, the middleware does not admit it again', async () => {
    for (const edge of [true, false]) {
      const server = await start(edge);
      const admit = server.safeguards.admit.bind(server.safeguards);
      let admissions = 0;
      server.safeguards.admit = (context) => {
        admissions++;
        return admit(context);
      };
      const trpc = client(server.url, 'eve');
      expect(await trpc.list.query()).toEqual(['a', 'b']);
      // With the edge: the edge's only; without it: the middleware's.
      expect(admissions).toBe(1);
      // Charged once either way: 'tiny' allows 2, and the second call is still admitted.
      expect(await trpc.list.query()).toEqual(['a', 'b']);
      await expect(trpc.list.query()).rejects.toMatchObject({
        data: { userFriendly: { type: 'RATE_LIMIT' } },
      });
    }
  });

  it('sheds by priority, refuses writes in read-only mode, and none of it is a failure', async () => {
    const server = await start(true);
    const trpc = client(server.url, 'cat');
    await server.load.set({ eventLoopDelayMs: 500 });
    const before = server.reachedTRPC;
    const shed = await trpc.report.query().catch((error: unknown) => error);
    expect(clientReaction(shed)).toBe('busy overloaded true');
    expect(server.reachedTRPC).toBe(before);
    const raw = await fetch(`${server.url}/report`);
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('5');
    // 100 ms passes LOW's mark (50) but not NORMAL's (200).
    await server.load.set({ eventLoopDelayMs: 100 });
    expect(await trpc.open.query()).toBe('open');
    expect(clientReaction(await trpc.report.query().catch((error: unknown) => error))).toBe(
      'busy overloaded true',
    );
    await server.load.set({ eventLoopDelayMs: 0 });
    expect(await trpc.report.query()).toBe('report');

    server.safeguards.readOnly.enable('maintenance');
    const beforeWrite = server.reachedTRPC;
    const write = await trpc.save.mutate().catch((error: unknown) => error);
    expect(clientReaction(write)).toBe('unavailable read-only');
    expect((write as TRPCClientError<AppRouter>).data?.userFriendly.degraded).toBe(true);
    expect(server.reachedTRPC).toBe(beforeWrite);
    expect(await trpc.open.query()).toBe('open');
    server.safeguards.readOnly.disable();

    // Refusals are load, not failures: no failed operation, every breaker closed, health not unhealthy.
    const metrics = server.safeguards.metrics();
    expect(metrics.operations.rejected).toBeGreaterThanOrEqual(3);
    expect(metrics.operations.windowFailed).toBe(0);
    for (const breaker of Object.values(metrics.breakers)) expect(breaker.totalFailures).toBe(0);
    for (const breaker of Object.values(metrics.breakers)) expect(breaker.state).toBe('CLOSED');
    expect((await server.safeguards.health()).status).not.toBe('unhealthy');
  });
});

describe('createEdgeAdmission called directly', () => {
  it('decides on the URL it is given, and names each refused call by its path', async () => {
    const safeguards = createSafeguards({
      rateLimits: { policies: { tiny: { limit: 2, windowMs: 60_000 } }, adaptive: false },
    });
    try {
      const admit = createEdgeAdmission({
        router,
        safeguards,
        basePath: '/trpc/',
        identify: () => ({ userId: 'u' }),
      });
      // The request's own URL names one free call; the URL the server parsed names a batch of three
      // rate-limited ones. The parsed one decides: two charged, the third refused, then all refused.
      const request = { method: 'GET', url: '/trpc/open', headers: {} };
      const batch = new URL('http://localhost/trpc/list,save,list?batch=1');
      const first = await admit(request, batch);
      expect(first?.admitted?.calls.map((call) => call.refusal?.type)).toEqual([
        undefined,
        undefined,
        'RATE_LIMIT',
      ]);
      const second = await admit(request, batch);
      expect(second?.refused?.paths).toEqual(['list', 'save', 'list']);
      expect(second?.refused?.errors.map((error) => error.type)).toEqual([
        'RATE_LIMIT',
        'RATE_LIMIT',
        'RATE_LIMIT',
      ]);
      // Without one, the request's own URL is read.
      expect((await admit(request))?.admitted?.calls.map((call) => call.path)).toEqual(['open']);
    } finally {
      await safeguards.close();
    }
  });

  it('sends a refusal with the byte length of its body as content-length, whatever its characters and size', () => {
    for (const body of [
      '{"a":1}',
      `{"m":"${'é😀中'.repeat(3000)}"}`,
      `{"lone":"\ud800"}`,
      'x'.repeat(20_000),
    ]) {
      let sentHeaders: Record<string, string | number> = {};
      let sentBody = '';
      sendEdgeRefusal(
        {
          writeHead: (_status, headers) => {
            sentHeaders = headers;
          },
          end: (text) => {
            sentBody = text;
          },
        },
        { status: 429, headers: { 'content-type': 'application/json' }, body, errors: [], paths: [] },
      );
      expect(sentBody).toBe(body);
      expect(sentHeaders['content-length']).toBe(Buffer.byteLength(body));
    }
  });
});
