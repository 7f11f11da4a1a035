import { createSafeguards } from '@db-safeguards/core';
import { errorTypeDefaults } from '@db-safeguards/core/advanced';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { createSafeguardsMiddleware, type FormatterInput, safeguardsErrorFormatter } from '../src/index.js';
import { leakyErrors, serve } from './fixture.js';

/** A server whose own formatter rewrites messages with `rewrite`. */
async function start(rewrite: (input: FormatterInput) => string) {
  const safeguards = createSafeguards();
  const t = initTRPC.create({
    transformer: superjson,
    isDev: false,
    errorFormatter: safeguardsErrorFormatter({
      exposeStack: false,
      format: (input) => ({ ...input.shape, message: rewrite(input) }),
    }),
  });
  const procedure = t.procedure.use(createSafeguardsMiddleware(safeguards, { defaultRateLimit: false }));
  const router = t.router({
    notFound: procedure.query(() => {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'Animal not found' });
    }),
    leaky: procedure.query(() => {
      throw leakyErrors.connectionString();
    }),
    duplicate: procedure.query(() =>
      safeguards.run(() => Promise.reject(leakyErrors.conflict()), { operationType: 'write' }),
    ),
  });
  const served = await serve(router, () => ({}), safeguards);
  const client = createTRPCClient<typeof router>({
    links: [httpLink({ url: served.url, transformer: superjson })],
  });
  return { ...served, client };
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.catch((e: unknown) => e);
  if (!(error instanceof TRPCClientError))
    throw new Error(`expected a TRPCClientError, got ${String(error)}`);
  return error.message;
}

describe('safeguardsErrorFormatter with your own format (real HTTP, superjson)', () => {
  it('keeps the message your format wrote', async () => {
    await using server = await start(({ shape }) => `Sorry (${shape.data.code})`);
    expect(await messageOf(server.client.notFound.query())).toBe('Sorry (NOT_FOUND)');
    expect(await messageOf(server.client.leaky.query())).toBe('Sorry (INTERNAL_SERVER_ERROR)');
  });

  it('may build on the user-facing message', async () => {
    await using server = await start(({ shape }) => `${shape.message} Please refresh.`);
    expect(await messageOf(server.client.duplicate.query())).toBe('This already exists. Please refresh.');
  });

  it('replaces a message of yours that repeats the raw error text', async () => {
    const rawTexts = (input: FormatterInput) => {
      const texts: string[] = [];
      for (let node: unknown = input.error; node instanceof Error; node = node.cause)
        texts.push(node.message);
      return texts.join(' | ');
    };
    await using server = await start(rawTexts);
    const leaky = await messageOf(server.client.leaky.query());
    expect(leaky).toBe(errorTypeDefaults.INTERNAL.userMessage);
    const duplicate = await messageOf(server.client.duplicate.query());
    expect(duplicate).toBe('This already exists.');
  });
});
