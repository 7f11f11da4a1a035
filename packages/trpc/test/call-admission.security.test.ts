import type { AddressInfo } from 'node:net';
import { createSafeguards } from '@db-safeguards/core';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressGroup,
  admitCalls,
  createSafeguardsMiddleware,
  defaultMaxBatchSize,
  prechargeCalls,
  procedurePolicies,
  requestCallPaths,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  safeguardsResponseMeta,
  withSafeguardsContext,
} from '../src/index.js';

describe('addressGroup', () => {
  it('limits IPv6 clients per /64 and IPv4 clients per address', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8:1:2::ffff')).toBe(addressGroup('2001:db8:1:2:ffff::9'));
    expect(addressGroup('2001:db8:1:3::1')).not.toBe(addressGroup('2001:db8:1:2::1'));
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressGroup('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    // Not an address: kept as given (a platform's own client id).
    expect(addressGroup('client:::weird')).toBe('client:::weird');
    expect(addressGroup('1:2:3:4:5:6:7:8:9')).toBe('1:2:3:4:5:6:7:8:9');
  });
});

describe('requestCallPaths', () => {
  it('reads the calls of a request from its URL alone', () => {
    const at = (path: string) => new URL(path, 'http://x');
    expect(requestCallPaths(at('/api/trpc/a,b,c?batch=1'), '/api/trpc/')).toEqual(['a', 'b', 'c']);
    expect(requestCallPaths(at('/api/trpc/a,b'), '/api/trpc/')).toEqual(['a,b']);
    expect(requestCallPaths(at('/api/trpc/auth.me'), '/api/trpc/')).toEqual(['auth.me']);
    expect(requestCallPaths(at('/api/trpc/%E0%A4%A'), '/api/trpc/')).toEqual([]);
    expect(requestCallPaths(at('/other'), '/api/trpc/')).toEqual([]);
  });

  it('reads a batch exactly as tRPC does (the first `batch` parameter, decoded), for any query', () => {
    const at = (search: string) => new URL(`/api/trpc/a,b${search}`, 'http://x');
    const asTRPC = (url: URL) => (url.searchParams.get('batch') === '1' ? ['a', 'b'] : ['a,b']);
    const tricky = [
      '?batch=1',
      '?input=%7B%7D&batch=1',
      '?batch=0&batch=1',
      '?batch=1&batch=0',
      '?batch=11',
      '?batch=',
      '?batch',
      '?batchx=1',
      '?xbatch=1',
      '?%62atch=1',
      '?batch=%31',
      '?batch=1+',
      '?b+atch=1',
      '?&&batch=1&',
      '?=1&batch=1',
      '?input=batch=1',
      '?input=a&batch=1=',
      '?input=%7B%22a%22%3A1%7D&batch=1',
      '?input=%7B%7D&%62atch=%31',
      '?batch%3D1',
      '?%62atch%3D1=1',
      '?batch=1%3D',
      '?%E0%A4%A=1&batch=1',
      '?batch=%E0%A4%A',
      '?%ZZ&batch=1',
      '?a&a&a&batch=1',
      '?a&b=1&batch=1',
      '?a&a&a=&batch=0',
      '',
      '?',
    ];
    for (const search of tricky)
      expect(requestCallPaths(at(search), '/api/trpc/'), search).toEqual(asTRPC(at(search)));
    // And random queries made of the pieces that matter (seeded: a failure repeats).
    const pieces = [
      'batch',
      '=',
      '1',
      '0',
      '&',
      '%62',
      '%31',
      '+',
      'x',
      'input',
      '%7B',
      '%3D',
      '%2B',
      '%',
      '%ZZ',
      '%E0%A4',
      '%26',
    ];
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 20_000; i++) {
      let search = '?';
      for (let n = next() % 9; n > 0; n--) search += pieces[next() % pieces.length];
      expect(requestCallPaths(at(search), '/api/trpc/'), search).toEqual(asTRPC(at(search)));
    }
  });
});

describe('admitCalls: a batch is bounded and each call charged before any runs (over HTTP)', () => {
  const safeguards = createSafeguards({
    rateLimits: {
      policies: { api: { limit: 30, windowMs: 60_000 }, free: { limit: 1000, windowMs: 60_000 } },
    },
  });
  let bodyRuns = 0;
  const t = initTRPC
    .context<{ ip: string | undefined }>()
    .meta<SafeguardsMeta>()
    .create({ errorFormatter: safeguardsErrorFormatter({ exposeStack: false }) });
  const procedure = t.procedure.use(
    createSafeguardsMiddleware(safeguards, {
      identify: (ctx: { ip: string | undefined }) => ({ ip: ctx.ip }),
    }),
  );
  const router = t.router({
    me: procedure.query(() => {
      bodyRuns++;
      return 'me';
    }),
    free: procedure.meta({ rateLimit: false }).query(() => 'free'),
  });
  const policyOf = procedurePolicies(router);
  const server = createHTTPServer({
    router,
    basePath: '/api/trpc/',
    maxBatchSize: defaultMaxBatchSize,
    responseMeta: safeguardsResponseMeta(),
    createContext: async ({ req }) => {
      const ctx = withSafeguardsContext({ ip: req.headers['x-test-ip'] as string | undefined });
      const paths = requestCallPaths(new URL(req.url ?? '/', 'http://x'), '/api/trpc/');
      const admission = await admitCalls(safeguards, { paths, identity: { ip: ctx.ip }, policyOf });
      prechargeCalls(ctx, admission);
      return ctx;
    },
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc/`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await safeguards.close();
  });

  const batch = (paths: string[], ip: string) =>
    fetch(`${url}${paths.join(',')}?batch=1&input=${encodeURIComponent('{}')}`, {
      headers: { 'x-test-ip': ip },
    });

  it('refuses a batch over maxBatchSize outright: nothing runs, nothing is charged', async () => {
    const response = await batch(Array(1990).fill('me'), '198.51.100.1');
    expect(response.status).toBe(400);
    expect(bodyRuns).toBe(0);
    expect(safeguards.rateLimiter.stats().byPolicy.api!.checks).toBe(0);
  });

  it('charges every call of a batch once, to the IP (IPv6 by /64), and refuses the calls over the limit with a typed 429', async () => {
    const first = await batch(Array(25).fill('me'), '2001:db8:7:7::1');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('5');
    // Another address of the same /64 shares the limit: five more pass, the rest are refused.
    const second = await batch([...Array(10).fill('me'), 'free'], '2001:db8:7:7:ffff::2');
    expect(second.status).toBe(207);
    const results = (await second.json()) as Array<{
      result?: unknown;
      error?: { data: { userFriendly: { type: string } } };
    }>;
    expect(results.filter((r) => r.result !== undefined)).toHaveLength(6);
    expect(results.slice(5, 10).map((r) => r.error?.data.userFriendly.type)).toEqual(
      Array(5).fill('RATE_LIMIT'),
    );
    expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(bodyRuns).toBe(30);
    // Charged once per call (36 checks: 25 + 10 + the policy-free call none), never twice.
    expect(safeguards.rateLimiter.stats().byPolicy.api!.checks).toBe(35);
    // A different /64 is untouched.
    const other = await batch(['me'], '2001:db8:7:8::1');
    expect(other.headers.get('x-ratelimit-remaining')).toBe('29');
  });
});
