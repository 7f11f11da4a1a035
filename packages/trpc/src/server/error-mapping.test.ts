import { createSafeguards, ErrorType, SafeguardError } from '@db-safeguards/core';
import { initTRPC, TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toSafeguardError, toTRPCError, trpcCodeByErrorType } from './error-mapping.js';
import { resolveProcedureSettings, type SafeguardsMeta } from './procedure-settings.js';
import { createSafeguardsPlugin } from './safeguards-middleware.js';

describe('error table', () => {
  it('maps every error type to the documented tRPC code', () => {
    expect(trpcCodeByErrorType).toEqual({
      VALIDATION: 'BAD_REQUEST',
      RATE_LIMIT: 'TOO_MANY_REQUESTS',
      CONNECTION: 'SERVICE_UNAVAILABLE',
      CIRCUIT_BREAKER: 'SERVICE_UNAVAILABLE',
      QUEUE_FULL: 'SERVICE_UNAVAILABLE',
      TIMEOUT: 'GATEWAY_TIMEOUT',
      DATABASE: 'INTERNAL_SERVER_ERROR',
      AUTHENTICATION: 'UNAUTHORIZED',
      AUTHORIZATION: 'FORBIDDEN',
      NOT_FOUND: 'NOT_FOUND',
      CONFLICT: 'CONFLICT',
      INTERNAL: 'INTERNAL_SERVER_ERROR',
    });
    for (const type of Object.values(ErrorType))
      expect(toTRPCError(new SafeguardError({ type })).code).toBe(trpcCodeByErrorType[type]);
  });

  it('a caller who went away gets 499, not 504', () => {
    expect(toTRPCError(new SafeguardError({ type: 'TIMEOUT', reason: 'aborted' })).code).toBe(
      'CLIENT_CLOSED_REQUEST',
    );
  });

  it('translates database errors wrapped by tRPC, keeps errors thrown on purpose', () => {
    const wrapped = new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      cause: Object.assign(new Error('duplicate key'), { code: '23505' }),
    });
    const translated = toTRPCError(wrapped);
    expect(translated.code).toBe('CONFLICT');
    expect(translated.message).toBe('This already exists.');
    const deliberate = new TRPCError({ code: 'NOT_FOUND', message: 'Animal not found' });
    expect(toTRPCError(deliberate)).toBe(deliberate);
    expect(toSafeguardError(deliberate)).toMatchObject({
      type: 'NOT_FOUND',
      userMessage: 'Animal not found',
    });
  });

  it('a TRPCError thrown on purpose says the write was not applied only for 4xx codes, not for 5xx or timeouts', () => {
    const notApplied = (code: TRPCError['code']) => toSafeguardError(new TRPCError({ code })).notApplied;
    for (const code of ['BAD_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'CONFLICT', 'TOO_MANY_REQUESTS'] as const)
      expect(notApplied(code), code).toBe(true);
    for (const code of [
      'SERVICE_UNAVAILABLE',
      'BAD_GATEWAY',
      'GATEWAY_TIMEOUT',
      'TIMEOUT',
      'CLIENT_CLOSED_REQUEST',
      'NOT_IMPLEMENTED',
    ] as const)
      expect(notApplied(code), code).toBe(false);
  });

  it('never uses the message of an INTERNAL_SERVER_ERROR (it is the raw error message)', () => {
    const raw = new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'connect to postgres://u:pw@h failed',
    });
    expect(toSafeguardError(raw).userMessage).toBe('Something unexpected went wrong.');
  });

  it('gives the same SafeguardError (and error ID) every time it sees the same error', () => {
    const error = new Error('boom');
    expect(toSafeguardError(error).errorId).toBe(toSafeguardError(error).errorId);
  });
});

describe('procedure settings', () => {
  it('queries are read, idempotent; mutations write, not idempotent; the priority is left to the core; meta wins', () => {
    const defaults = { rateLimit: 'api' as const, timeoutMs: undefined };
    expect(resolveProcedureSettings(undefined, 'query', defaults)).toMatchObject({
      priority: undefined,
      operationType: 'read',
      idempotent: true,
      rateLimit: 'api',
    });
    expect(resolveProcedureSettings(undefined, 'mutation', defaults)).toMatchObject({
      priority: undefined,
      operationType: 'write',
      idempotent: false,
    });
    expect(resolveProcedureSettings({ operationType: 'batch' }, 'query', defaults).priority).toBeUndefined();
    expect(resolveProcedureSettings({ priority: 'LOW' }, 'query', defaults).priority).toBe(1);
    expect(
      resolveProcedureSettings(
        { priority: 'HIGH', rateLimit: false, idempotent: true },
        'mutation',
        defaults,
      ),
    ).toMatchObject({
      priority: 3,
      rateLimit: undefined,
      idempotent: true,
    });
    expect(() => resolveProcedureSettings({ priority: 'URGENT' as 'HIGH' }, 'query', defaults)).toThrow(
      /meta.priority/,
    );
  });
});

describe('createSafeguardsPlugin (the .concat() form)', () => {
  it('protects procedures of an app router and charges its rate limit', async () => {
    const safeguards = createSafeguards({
      rateLimits: { policies: { api: { limit: 1, windowMs: 60_000 } }, adaptive: false },
    });
    const t = initTRPC
      .context<{ userId: string }>()
      .meta<SafeguardsMeta & { description?: string }>()
      .create();
    // identify sees the typed context: ctx.userId compiles (the typecheck is part of `pnpm test`).
    const procedure = t.procedure.concat(
      createSafeguardsPlugin<{ userId: string }>(safeguards, { identify: (ctx) => ({ userId: ctx.userId }) }),
    );
    const annotated = t.procedure.concat(
      createSafeguardsPlugin(safeguards, { identify: (ctx: { userId: string }) => ({ userId: ctx.userId }) }),
    );
    expect(annotated).toBeDefined();
    const withoutUser = initTRPC.context<{ tenantId: string }>().meta<SafeguardsMeta>().create();
    // @ts-expect-error the plugin needs a userId the router's context does not have
    withoutUser.procedure.concat(createSafeguardsPlugin<{ userId: string }>(safeguards));
    const router = t.router({ hello: procedure.input(z.string()).query(({ input }) => `hello ${input}`) });
    const caller = t.createCallerFactory(router)({ userId: 'u1' });
    await expect(caller.hello('you')).resolves.toBe('hello you');
    await expect(caller.hello('again')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
  });
});
