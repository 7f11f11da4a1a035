import type { IncomingMessage } from 'node:http';
import { createSafeguards, Priority, type RequestIdentity } from '@db-safeguards/core';
import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import {
  checkRequest,
  createSafeguardsMiddleware,
  type SafeguardsMeta,
  type SafeguardsMiddlewareOptions,
  safeguardsErrorFormatter,
} from '../src/index.js';
import { serve } from './fixture.js';

/** A context that carries, besides the user, fields a run context also has. */
interface LoadedContext {
  req: IncomingMessage;
  userId?: string;
  timeoutMs?: number;
  priority?: Priority;
  label?: string;
  breaker?: string;
}

async function start(
  middleware: SafeguardsMiddlewareOptions<LoadedContext>,
  extra: Omit<LoadedContext, 'req'> = {},
) {
  const safeguards = createSafeguards({
    rateLimits: { policies: { tiny: { limit: 2, windowMs: 60_000 } }, adaptive: false },
  });
  const t = initTRPC
    .context<LoadedContext>()
    .meta<SafeguardsMeta>()
    .create({ transformer: superjson, errorFormatter: safeguardsErrorFormatter({ exposeStack: false }) });
  const procedure = t.procedure.use(createSafeguardsMiddleware(safeguards, middleware));
  const router = t.router({
    whoAmI: procedure.meta({ rateLimit: 'tiny' }).query(() =>
      safeguards.run(
        (scope) => ({
          identity: scope.context.identity,
          priority: scope.context.priority,
          label: scope.context.label,
          breaker: scope.context.breaker,
          msToDeadline: scope.deadline - Date.now(),
        }),
        { operationType: 'read' },
      ),
    ),
  });
  const served = await serve(router, ({ req }) => ({ req, ...extra }), safeguards);
  const client = (headers: Record<string, string> = {}) =>
    createTRPCClient<typeof router>({
      links: [httpLink({ url: served.url, transformer: superjson, headers })],
    });
  return { ...served, client };
}

describe('who the middleware rate-limits (real HTTP, superjson)', () => {
  it('reads only userId, tenantId and ip from identify, even when it returns the whole context', async () => {
    await using server = await start(
      { identify: (ctx) => ctx },
      { userId: 'u-1', timeoutMs: 1, priority: Priority.CRITICAL, label: 'spoofed', breaker: 'critical' },
    );
    const seen = await server.client().whoAmI.query();
    expect(seen.identity).toEqual({ userId: 'u-1', ip: '127.0.0.1' });
    expect(seen.priority).toBe(Priority.NORMAL);
    expect(seen.label).toBe('whoAmI');
    expect(seen.breaker).toBe('primary');
    expect(seen.msToDeadline).toBeGreaterThan(1000);
  });

  it('without identify, callers are told apart by the IP of ctx.req, not one shared bucket', async () => {
    await using server = await start({ trustProxy: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const outcome = await server
        .client({ 'x-forwarded-for': `203.0.113.${i}` })
        .whoAmI.query()
        .then(
          (seen) => {
            expect(seen.identity).toEqual({ ip: `203.0.113.${i}` });
            return 200;
          },
          (error: { data?: { httpStatus?: number } }) => error.data?.httpStatus ?? 0,
        );
      statuses.push(outcome);
    }
    expect(statuses).toEqual([200, 200, 200]);
  });

  it('without identify or a trusted proxy, the socket peer of ctx.req is the key', async () => {
    await using server = await start({});
    const seen = await server.client({ 'x-forwarded-for': '203.0.113.9' }).whoAmI.query();
    expect(seen.identity).toEqual({ ip: '127.0.0.1' });
  });
});

describe('checkRequest identity', () => {
  const safeguards = () =>
    createSafeguards({ rateLimits: { policies: { hook: { limit: 1, windowMs: 60_000 } }, adaptive: false } });

  it('reads only the identity fields of identify (a priority on it cannot skip the rate limit)', async () => {
    const sg = safeguards();
    const loaded = { ip: '198.51.100.3', priority: Priority.CRITICAL };
    const options = { safeguards: sg, policy: 'hook', identify: (): RequestIdentity => loaded };
    const request = () => new Request('http://localhost/hook', { method: 'POST' });
    expect((await checkRequest(request(), options)).response).toBeNull();
    expect((await checkRequest(request(), options)).response?.status).toBe(429);
    await sg.close();
  });

  it('with trustProxy and no identify, reads the client from X-Forwarded-For', async () => {
    const sg = safeguards();
    const request = (ip: string) =>
      new Request('http://localhost/hook', { method: 'POST', headers: { 'x-forwarded-for': ip } });
    const options = { safeguards: sg, policy: 'hook', trustProxy: 1 };
    expect((await checkRequest(request('203.0.113.1'), options)).response).toBeNull();
    expect((await checkRequest(request('203.0.113.2'), options)).response).toBeNull();
    expect((await checkRequest(request('203.0.113.1'), options)).response?.status).toBe(429);
    await sg.close();
  });
});
