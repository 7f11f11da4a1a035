import { classifyError, ErrorType, isSafeguardError } from '@db-safeguards/core';
import { RateLimiter, rateLimitKey } from '@db-safeguards/core/advanced';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { outcome } from '../app/app-client.js';
import { recordBadInput, startFaultTarget } from './fault-fixture.js';
import { createLoadUsers } from './steady-load.js';

const countBy = (values: readonly (string | number)[]) => {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b));
};
const listCounts = (counts: ReadonlyArray<[string, number]>) =>
  counts.map(([value, n]) => `${value} ×${n}`).join(', ');

describe('bad input (property-based)', () => {
  it('random and hostile input to the procedures gets a typed 4xx, never a 5xx, and the app stays up', async () => {
    const target = await startFaultTarget();
    try {
      const { app } = target;
      const [user] = await createLoadUsers(app, 1);
      const procedures = [
        ['households.create', 'mutation'],
        ['animals.create', 'mutation'],
        ['animals.update', 'mutation'],
        ['regimens.create', 'mutation'],
        ['administrations.record', 'mutation'],
        ['administrations.history', 'query'],
        ['inventory.adjust', 'mutation'],
        ['reports.adherence', 'query'],
        ['imports.administrations', 'mutation'],
        ['auth.signIn', 'mutation'],
      ] as const;
      const hostile = fc.oneof(
        fc.anything(),
        fc.record(
          {
            householdId: fc.oneof(fc.string(), fc.uuid()),
            animalId: fc.string(),
            regimenId: fc.uuid(),
            name: fc.string({ maxLength: 5000 }),
            idempotencyKey: fc.string(),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom(
          "' or 1=1 --",
          '{"$ne": null}',
          '\u0000',
          'x'.repeat(20_000),
          -1,
          1e308,
          Number.NaN,
          null,
        ),
      );
      const statuses: number[] = [];
      const numRuns = 150;
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...procedures), hostile, async ([path, type], input) => {
          const body = JSON.stringify({ json: input });
          const response =
            type === 'query'
              ? await fetch(`${app.url}/api/trpc/${path}?input=${encodeURIComponent(body)}`, {
                  headers: { authorization: `Bearer ${user!.token}`, 'x-forwarded-for': user!.ip },
                })
              : await fetch(`${app.url}/api/trpc/${path}`, {
                  method: 'POST',
                  body,
                  headers: {
                    authorization: `Bearer ${user!.token}`,
                    'content-type': 'application/json',
                    'x-forwarded-for': user!.ip,
                  },
                });
          const text = await response.text();
          statuses.push(response.status);
          if (response.ok) return;
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expect(text).toContain('userFriendly');
          expect(text).not.toMatch(/Failed query|params:|\n\s+at /);
        }),
        { numRuns },
      );
      expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
      expect((await outcome(user!.client.households.list.query())).ok).toBe(true);
      const serverErrors = statuses.filter((status) => status >= 500).length;
      expect(serverErrors).toBe(0);
      recordBadInput('bad-input-procedures', {
        title: `Random and hostile JSON sent over HTTP to ${procedures.length} procedures`,
        test: 'apps/vetmed/test/faults/bad-input.test.ts',
        runs: statuses.length,
        findings: [
          `answers by HTTP status: ${listCounts(countBy(statuses))}; ${serverErrors} were 5xx`,
          'every refusal carried typed `userFriendly` data and no SQL or stack trace; the app answered its health check and a normal call afterwards',
        ],
      });
    } finally {
      await target.stop();
    }
  }, 120_000);

  it('classifyError never throws and always returns a typed SafeguardError, whatever it is given', () => {
    const cyclic = () => {
      const value: Record<string, unknown> = { code: '08006', message: 'cyclic' };
      value.cause = value;
      value.self = value;
      return value;
    };
    const throwingGetters = () =>
      Object.defineProperties(
        {},
        Object.fromEntries(
          ['code', 'message', 'cause', 'name', 'errno', 'status', 'error', 'stack'].map((name) => [
            name,
            {
              enumerable: true,
              get() {
                throw new Error(`getter ${name}`);
              },
            },
          ]),
        ),
      );
    const throwingProxy = () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('proxy get');
          },
          has() {
            throw new Error('proxy has');
          },
          getPrototypeOf() {
            throw new Error('proxy prototype');
          },
          ownKeys() {
            throw new Error('proxy keys');
          },
        },
      );
    const deepCauses = (depth: number) => {
      let error: unknown = new Error('bottom');
      for (let i = 0; i < depth; i++) error = new Error(`level ${i}`, { cause: error });
      return error;
    };
    // Each input is made inside the property: fast-check itself inspects the values it generates,
    // and a proxy that throws on every trap would break the generator instead of the classifier.
    const hostile: fc.Arbitrary<() => unknown> = fc.oneof(
      fc
        .oneof(
          fc.anything(),
          fc.record(
            {
              code: fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null)),
              message: fc.oneof(fc.string({ maxLength: 10_000 }), fc.integer(), fc.object()),
              cause: fc.anything(),
              severity: fc.string(),
              status: fc.oneof(fc.integer(), fc.string()),
            },
            { requiredKeys: [] },
          ),
          fc.constantFrom<unknown>('x'.repeat(100_000), Symbol('s'), 10n, Number.NaN),
        )
        .map((value) => () => value),
      fc.integer({ min: 0, max: 1000 }).map((depth) => () => deepCauses(depth)),
      fc.constantFrom(cyclic, throwingGetters, throwingProxy),
    );
    const types: string[] = [];
    const numRuns = 1000;
    fc.assert(
      fc.property(hostile, (make) => {
        const classified = classifyError(make());
        expect(isSafeguardError(classified)).toBe(true);
        expect(Object.values(ErrorType)).toContain(classified.type);
        types.push(classified.type);
      }),
      { numRuns },
    );
    recordBadInput('bad-input-classify-error', {
      title: '`classifyError` fed random values, cyclic and deep cause chains, throwing getters and proxies',
      test: 'apps/vetmed/test/faults/bad-input.test.ts',
      runs: types.length,
      findings: [
        `never threw; every result a SafeguardError of the closed set: ${listCounts(countBy(types))}`,
      ],
    });
  });

  it('huge and odd rate-limit keys stay short, and the in-memory store never holds more than maxKeys', async () => {
    const maxKeys = 500;
    const limiter = new RateLimiter({ maxKeys, adaptive: false });
    const part = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.string({ minLength: 1000, maxLength: 100_000 }),
      fc.constantFrom('', '|', 'user:x|ip:y', '\u0000\uffff', '🐕'.repeat(5000), '__proto__', 'constructor'),
    );
    const identity = fc.record({ userId: part, householdId: part, ip: part }, { requiredKeys: [] });
    let longestKey = 0;
    let peakKeys = 0;
    let checks = 0;
    await fc.assert(
      fc.asyncProperty(identity, fc.nat(), async (who, salt) => {
        // The salt makes most identities distinct, so the store is pushed past its limit.
        const result = await limiter.check('api', { ...who, ip: `${who.ip ?? ''}${salt}` });
        checks++;
        longestKey = Math.max(longestKey, result.key.length, rateLimitKey('api', who).length);
        peakKeys = Math.max(peakKeys, limiter.stats().keys ?? 0);
        expect(result.key.length).toBeLessThanOrEqual(200);
        expect(limiter.stats().keys ?? 0).toBeLessThanOrEqual(maxKeys);
      }),
      { numRuns: 3000 },
    );
    expect(peakKeys).toBe(maxKeys);
    recordBadInput('bad-input-rate-limit-keys', {
      title: 'Rate-limit keys from huge, empty and odd identities (up to 100 000 characters)',
      test: 'apps/vetmed/test/faults/bad-input.test.ts',
      runs: checks,
      findings: [
        `longest key ${longestKey} characters; the store peaked at ${peakKeys} keys with maxKeys ${maxKeys}, never above`,
      ],
    });
  });
});
