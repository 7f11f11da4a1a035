import type { IncomingMessage } from 'node:http';
import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import {
  createSafeguardsMiddleware,
  createSafeguardsPlugin,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
} from '../src/index.js';
import { serve } from './fixture.js';

interface TenantContext {
  safeguards: Safeguards;
}

const limitedToOne = () =>
  createSafeguards({ rateLimits: { policies: { once: { limit: 1, windowMs: 60_000 } }, adaptive: false } });

/** One router, two instances: the `x-instance` header picks the context's safeguards. */
async function startShared(form: 'use' | 'concat') {
  const instances = { a: limitedToOne(), b: limitedToOne() };
  const t = initTRPC
    .context<TenantContext>()
    .meta<SafeguardsMeta>()
    .create({ transformer: superjson, errorFormatter: safeguardsErrorFormatter({ exposeStack: false }) });
  const fromContext = (ctx: TenantContext) => ctx.safeguards;
  const procedure =
    form === 'use'
      ? t.procedure.use(createSafeguardsMiddleware(fromContext, { defaultRateLimit: 'once' }))
      : t.procedure.concat(createSafeguardsPlugin(fromContext, { defaultRateLimit: 'once' }));
  const router = t.router({
    ping: procedure.query(({ ctx }) => ctx.safeguards.run(() => 'pong', { operationType: 'read' })),
  });
  const pick = (req: IncomingMessage) => (req.headers['x-instance'] === 'b' ? instances.b : instances.a);
  const served = await serve(router, ({ req }) => ({ safeguards: pick(req) }), instances.a);
  const call = (instance: 'a' | 'b') =>
    createTRPCClient<typeof router>({
      links: [httpLink({ url: served.url, transformer: superjson, headers: { 'x-instance': instance } })],
    })
      .ping.query()
      .catch((error: unknown) => (error instanceof TRPCClientError ? error.data?.httpStatus : error));
  const close = async () => {
    await served.close();
    await instances.b.close();
  };
  return { instances, call, [Symbol.asyncDispose]: close };
}

describe('createSafeguardsMiddleware with a function of the context (real HTTP)', () => {
  it.each(['use', 'concat'] as const)(
    '.%s(): each call is admitted and charged by the instance its context carries',
    async (form) => {
      await using server = await startShared(form);
      expect(await server.call('a')).toBe('pong');
      expect(await server.call('a')).toBe(429);
      // Instance b has its own rate limit: a's refusals do not touch it.
      expect(await server.call('b')).toBe('pong');
      expect(server.instances.a.metrics().rateLimits).toMatchObject({ checks: 2, limited: 1 });
      expect(server.instances.b.metrics().rateLimits).toMatchObject({ checks: 1, limited: 0 });
      expect(server.instances.b.metrics().operations.succeeded).toBe(1);
    },
  );
});
