import { SafeguardError } from '@db-safeguards/core';
import type { AnyTRPCRouter } from '@trpc/server';
import type { ResponseMetaFn } from '@trpc/server/http';
import { describe, expect, it } from 'vitest';
import { toTRPCError } from './error-mapping.js';
import { safeguardsResponseMeta } from './response-meta.js';

type Options = Parameters<ResponseMetaFn<AnyTRPCRouter>>[0];

const rateLimited = () =>
  toTRPCError(new SafeguardError({ type: 'RATE_LIMIT', retryAfterMs: 4200, notApplied: true }));
const call = (meta: ResponseMetaFn<AnyTRPCRouter>, errors: Options['errors']) => {
  const options: Options = {
    ctx: {},
    errors,
    type: 'query',
    paths: ['x'],
    info: undefined,
    data: [],
    eagerGeneration: false,
  };
  return new Headers(meta(options).headers as HeadersInit);
};

describe('safeguardsResponseMeta', () => {
  it('sends the body’s wait as Retry-After on a 429', () => {
    expect(call(safeguardsResponseMeta(), [rateLimited()]).get('retry-after')).toBe('5');
  });

  it('drops Retry-After when your responseMeta answers with a status that is not 429 or 503', () => {
    const inner: ResponseMetaFn<AnyTRPCRouter> = () => ({ status: 200, headers: { 'x-own': 'yes' } });
    const headers = call(safeguardsResponseMeta(inner), [rateLimited()]);
    expect(headers.get('retry-after')).toBeNull();
    expect(headers.get('x-own')).toBe('yes');
  });
});
