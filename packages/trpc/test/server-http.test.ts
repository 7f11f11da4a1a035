import { ErrorType, Priority } from '@db-safeguards/core';
import { errorTypeDefaults } from '@db-safeguards/core/advanced';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  type TRPCClientError,
} from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { UserFriendlyErrorData } from '../src/index.js';
import { type AppRouter, type Fixture, failure, startFixture } from './fixture.js';

const client = (url: string, headers: Record<string, string> = {}) =>
  createTRPCClient<AppRouter>({ links: [httpLink({ url, transformer: superjson, headers })] });

describe('tRPC server with the safeguards (real HTTP, superjson)', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await startFixture();
  });
  afterAll(() => fixture.close());

  it('a 429 reaches the client with Retry-After, rate-limit headers and typed userFriendly data', async () => {
    const api = client(fixture.url, { 'x-user-id': 'rate-limited-user' });
    await api.limited.query();
    await api.limited.query();
    const error = await failure(api.limited.query());
    expect(error.data?.httpStatus).toBe(429);
    expectTypeOf(error.data!.userFriendly).toEqualTypeOf<UserFriendlyErrorData>();
    const userFriendly = error.data!.userFriendly;
    expect(userFriendly).toMatchObject({ type: 'RATE_LIMIT', retryable: true, reason: 'rate-limit' });
    expect(userFriendly.retryAfterMs).toBeGreaterThan(0);
    expect(userFriendly.suggestedActions[0]).toMatch(/^Wait \d+ seconds?/);
    const headers = (error.meta!.response as Response).headers;
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(headers.get('x-ratelimit-limit')).toBe('2');
    expect(headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });

  it('successes carry X-RateLimit headers too', async () => {
    const response = await fetch(`${fixture.url}/ping`, { headers: { 'x-user-id': 'headers-user' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-limit')).toBe('100');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('99');
    expect(response.headers.get('retry-after')).toBeNull();
  });

  it('an open breaker gives 503 with retryAfterMs, fast, without running the procedure', async () => {
    const before = fixture.probes.bodyRuns;
    fixture.safeguards.breakers.get('primary').forceOpen();
    try {
      const started = performance.now();
      const error = await failure(client(fixture.url).dbRead.query());
      const elapsed = performance.now() - started;
      expect(error.data?.httpStatus).toBe(503);
      expect(error.data?.userFriendly).toMatchObject({
        type: 'CIRCUIT_BREAKER',
        reason: 'circuit-open',
        retryable: true,
      });
      expect(error.data!.userFriendly.retryAfterMs).toBeGreaterThan(25_000);
      expect((error.meta!.response as Response).headers.get('retry-after')).toBe('30');
      expect(elapsed).toBeLessThan(1000);
      expect(fixture.probes.bodyRuns).toBe(before);
      expect(fixture.safeguards.queue.stats().processed).toBe(0);
    } finally {
      fixture.safeguards.breakers.get('primary').reset();
    }
  });

  it('priority, deadline, identity and path set on a procedure reach the database calls inside it', async () => {
    const started = Date.now();
    const result = await client(fixture.url, { 'x-user-id': 'u-42' }).highPriority.query();
    expect(result.db.priority).toBe(Priority.HIGH);
    expect(result.db.label).toBe('highPriority');
    expect(result.db.identity).toMatchObject({ userId: 'u-42' });
    expect(result.db.deadline).toBeGreaterThanOrEqual(started + 1234);
    expect(result.db.deadline).toBeLessThanOrEqual(Date.now() + 1234);
    const normal = await client(fixture.url).dbRead.query();
    expect(normal.priority).toBe(Priority.NORMAL);
  });

  it('with no meta priority, the priority comes from the operation type, also for calls inside', async () => {
    const api = client(fixture.url);
    await expect(api.batchJob.query()).resolves.toBe(Priority.BATCH);
    await expect(api.criticalInside.query()).resolves.toBe(Priority.CRITICAL);
  });

  it('the request AbortSignal reaches the database call: a client that goes away aborts its query', async () => {
    const controller = new AbortController();
    const pending = client(fixture.url).waitForAbort.query(undefined, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => fixture.probes.seen.at(-1), { timeout: 2000 }).toBe('aborted');
    await expect.poll(() => fixture.safeguards.queue.active, { timeout: 2000 }).toBe(0);
  });

  it('headers are right on a batch with mixed outcomes (207): limits of the tightest call, Retry-After of the refused one', async () => {
    const headers = { 'x-user-id': 'batch-user' };
    await client(fixture.url, headers).limited.query();
    await client(fixture.url, headers).limited.query();
    const response = await fetch(`${fixture.url}/ping,limited,unlimited?batch=1`, { headers });
    expect(response.status).toBe(207);
    const body = (await response.json()) as Array<{
      result?: unknown;
      error?: { json: { data: { httpStatus: number } } };
    }>;
    expect(body.map((entry) => (entry.error ? entry.error.json.data.httpStatus : 200))).toEqual([
      200, 429, 200,
    ]);
    expect(response.headers.get('x-ratelimit-limit')).toBe('2');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('Retry-After only where the response is a 429 or 503 whose body says to retry', async () => {
    // Untranslated: tRPC answers 500 although the error would be a retryable 503 after translation.
    const untranslated = await fetch(`${fixture.url}/bareTooManyConnections`);
    expect(untranslated.status).toBe(500);
    expect(untranslated.headers.get('retry-after')).toBeNull();
    // A 503 for a write of unknown outcome: the body says not to retry, so no header says when to.
    const ambiguous = await fetch(`${fixture.url}/writeLostConnection`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(ambiguous.status).toBe(503);
    const body = (await ambiguous.json()) as {
      error: { json: { data: { userFriendly: { retryable: boolean } } } };
    };
    expect(body.error.json.data.userFriendly.retryable).toBe(false);
    expect(ambiguous.headers.get('retry-after')).toBeNull();
  });

  it('an all-success batch has rate-limit headers and no Retry-After', async () => {
    const response = await fetch(`${fixture.url}/ping,unlimited?batch=1`, {
      headers: { 'x-user-id': 'batch-ok' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-remaining')).toBe('99');
    expect(response.headers.get('retry-after')).toBeNull();
  });

  it('batched client calls each get their own typed outcome', async () => {
    const api = createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({ url: fixture.url, transformer: superjson, headers: { 'x-user-id': 'batch-client' } }),
      ],
    });
    const results = await Promise.allSettled([
      api.ping.query(),
      api.boom.query('notFound'),
      api.boom.query('conflict'),
    ]);
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: 'pong' });
    const notFound = (results[1] as PromiseRejectedResult).reason as TRPCClientError<AppRouter>;
    const conflict = (results[2] as PromiseRejectedResult).reason as TRPCClientError<AppRouter>;
    expect(notFound.data?.userFriendly).toMatchObject({
      type: 'NOT_FOUND',
      message: 'Animal not found',
      retryable: false,
    });
    expect(conflict.data?.httpStatus).toBe(409);
    expect(conflict.data?.userFriendly).toMatchObject({
      type: 'CONFLICT',
      reason: 'unique-violation',
      message: 'This already exists.',
    });
  });

  it('a mutation the middleware did not see is not retryable after a write of unknown outcome', async () => {
    const api = client(fixture.url);
    const bare = await failure(api.bareWriteLostConnection.mutate());
    const early = await failure(api.auditedWrite.mutate());
    for (const error of [bare, early])
      expect(error.data?.userFriendly).toMatchObject({
        type: 'CONNECTION',
        reason: 'connection-reset',
        retryable: false,
        retryAfterMs: null,
      });
  });

  it('a mutation that throws a 5xx or a timeout on purpose is not retryable; one that throws 429 is', async () => {
    const api = client(fixture.url);
    for (const code of ['GATEWAY_TIMEOUT', 'SERVICE_UNAVAILABLE', 'TIMEOUT', 'BAD_GATEWAY'] as const) {
      const error = await failure(api.failWrite.mutate(code));
      expect(error.data?.userFriendly, code).toMatchObject({ retryable: false, retryAfterMs: null });
    }
    const limited = await failure(api.failWrite.mutate('TOO_MANY_REQUESTS'));
    expect(limited.data?.userFriendly).toMatchObject({ type: 'RATE_LIMIT', retryable: true });
  });

  it('httpBatchStreamLink: status 200 and no safeguards headers, but userFriendly in each error (documented)', async () => {
    const headers = { 'x-user-id': 'stream-user' };
    await client(fixture.url, headers).limited.query();
    await client(fixture.url, headers).limited.query();
    const responses: Response[] = [];
    const api = createTRPCClient<AppRouter>({
      links: [
        httpBatchStreamLink({
          url: fixture.url,
          transformer: superjson,
          headers,
          fetch: async (input, init) => {
            const response = await fetch(input, init);
            responses.push(response);
            return response;
          },
        }),
      ],
    });
    const [ping, limited] = await Promise.allSettled([api.ping.query(), api.limited.query()]);
    expect(ping).toMatchObject({ status: 'fulfilled', value: 'pong' });
    const error = (limited as PromiseRejectedResult).reason as TRPCClientError<AppRouter>;
    expect(error.data?.userFriendly).toMatchObject({ type: 'RATE_LIMIT', retryable: true });
    expect(error.data!.userFriendly.retryAfterMs).toBeGreaterThan(0);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(200);
    expect(responses[0]!.headers.get('retry-after')).toBeNull();
    expect(responses[0]!.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('zod validation errors arrive as VALIDATION with flattened issues', async () => {
    const error = await failure(client(fixture.url).createAnimal.mutate({ name: '', weightKg: -1 }));
    expect(error.data?.httpStatus).toBe(400);
    expect(error.data?.userFriendly.type).toBe('VALIDATION');
    expect(error.data?.userFriendly.issues?.map((issue) => issue.path).sort()).toEqual(['name', 'weightKg']);
    expect(error.message).toBe("Some of the information provided isn't valid.");
  });
});

describe('production error bodies (NODE_ENV=production is the only hint)', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    // tRPC is told isDev (it puts stacks in error shapes) and the formatter gets no exposeStack:
    // only NODE_ENV, read when the formatter is created, says this is production.
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      fixture = await startFixture({
        safeguards: { defaultTimeoutMs: 5000 },
        reporting: { isDev: true },
      });
    } finally {
      process.env.NODE_ENV = before;
    }
  });
  afterAll(() => fixture.close());

  const forbidden = [
    // SQL and its parameters
    /select /i,
    /insert into/i,
    /params:/i,
    /Failed query/i,
    /secret@example\.com/,
    /Failing row/,
    /relation "/,
    /users_email_key/,
    /permission denied/i,
    /not-null constraint/,
    // connection strings
    /postgres:\/\//,
    /hunter2/,
    // stack traces (raw or JSON-escaped newlines)
    /\n\s+at /,
    /\\n\s+at /,
    /"stack"/,
    /node_modules/,
    /\.ts:\d+/,
  ];
  const boom = (name: string) => () =>
    fetch(`${fixture.url}/boom?input=${encodeURIComponent(JSON.stringify({ json: name }))}`);

  // Every error type, each produced the way it happens for real; a Record so a new type cannot be forgotten.
  const producers: Record<ErrorType, Array<[string, number, () => Promise<Response>]>> = {
    VALIDATION: [
      ['not-null violation', 400, boom('notNull')],
      ['TRPCError with a leaky cause', 400, boom('badRequestWithCause')],
      [
        'zod input',
        400,
        () =>
          fetch(`${fixture.url}/createAnimal`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ json: { name: 'x'.repeat(3), weightKg: 'heavy' } }),
          }),
      ],
    ],
    RATE_LIMIT: [
      [
        'a real 429',
        429,
        async () => {
          const headers = { 'x-user-id': 'production-429' };
          await fetch(`${fixture.url}/limited`, { headers });
          await fetch(`${fixture.url}/limited`, { headers });
          return fetch(`${fixture.url}/limited`, { headers });
        },
      ],
    ],
    CONNECTION: [['too many connections', 503, boom('tooManyConnections')]],
    CIRCUIT_BREAKER: [
      [
        'open breaker',
        503,
        async () => {
          fixture.safeguards.breakers.get('primary').forceOpen();
          try {
            return await fetch(`${fixture.url}/dbRead`);
          } finally {
            fixture.safeguards.breakers.get('primary').reset();
          }
        },
      ],
    ],
    QUEUE_FULL: [['displaced', 503, boom('queueFull')]],
    TIMEOUT: [['deadline', 504, boom('timeout')]],
    DATABASE: [['undefined table', 500, boom('undefinedTable')]],
    AUTHENTICATION: [['bare UNAUTHORIZED', 401, boom('unauthorized')]],
    AUTHORIZATION: [
      ['42501', 403, boom('privilege')],
      ['bare FORBIDDEN', 403, boom('forbidden')],
    ],
    NOT_FOUND: [['NOT_FOUND with a message', 404, boom('notFound')]],
    CONFLICT: [['unique violation', 409, boom('conflict')]],
    INTERNAL: [
      ['connection string in a driver error', 500, boom('connectionString')],
      ['plain throw', 500, boom('plainThrow')],
    ],
  };
  const cases = Object.values(ErrorType).flatMap((type) =>
    producers[type].map(([how, status, produce]) => [type, how, status, produce] as const),
  );

  it('covers every error type', () => {
    expect(new Set(cases.map(([type]) => type))).toEqual(new Set(Object.values(ErrorType)));
  });

  it.each(cases)(
    '%s (%s): HTTP %i and nothing a client must not see',
    async (type, _how, status, produce) => {
      const response = await produce();
      const text = await response.text();
      expect(response.status).toBe(status);
      for (const pattern of forbidden) expect(text).not.toMatch(pattern);
      const body = JSON.parse(text) as {
        error: {
          json: {
            message: string;
            data: { userFriendly: { type: string; errorId: string; message: string } };
          };
        };
      };
      expect(body.error.json.data.userFriendly.type).toBe(type);
      expect(body.error.json.data.userFriendly.errorId).toMatch(/^err_/);
      expect(body.error.json.message).toBe(body.error.json.data.userFriendly.message);
    },
  );

  it('a TRPCError with no message of its own shows the default text of its type, not its cause or code', async () => {
    const api = client(fixture.url);
    for (const [name, type] of [
      ['unauthorized', 'AUTHENTICATION'],
      ['badRequestWithCause', 'VALIDATION'],
    ] as const) {
      const error = await failure(api.boom.query(name));
      const expected = errorTypeDefaults[type].userMessage;
      expect(error.data?.userFriendly).toMatchObject({ type, message: expected });
      expect(error.message).toBe(expected);
    }
  });
});

describe('client IP and X-Forwarded-For', () => {
  it('a spoofed X-Forwarded-For does not change the rate-limit key when no proxy is trusted', async () => {
    await using fixture = await startFixture();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${fixture.url}/limited`, {
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('with trustProxy: true a client cannot escape its limit by sending its own X-Forwarded-For', async () => {
    await using fixture = await startFixture({ trustProxy: true });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      // The trusted proxy appends the address it saw (198.51.100.7) after what the client sent.
      const response = await fetch(`${fixture.url}/limited`, {
        headers: { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.7` },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('behind a trusted proxy each forwarded client gets its own key', async () => {
    await using fixture = await startFixture({ trustProxy: ['127.0.0.1'] });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${fixture.url}/limited`, {
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 200]);
    const same = await fetch(`${fixture.url}/limited`, { headers: { 'x-forwarded-for': '203.0.113.0' } });
    expect(same.status).toBe(200);
    const third = await fetch(`${fixture.url}/limited`, { headers: { 'x-forwarded-for': '203.0.113.0' } });
    expect(third.status).toBe(429);
  });
});
