import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createSafeguards,
  Priority,
  SafeguardError,
  type Safeguards,
  type SafeguardsOptions,
} from '@db-safeguards/core';
import { TRPCClientError } from '@trpc/client';
import { type AnyTRPCRouter, type inferRouterContext, initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { z } from 'zod';
import {
  clientIp,
  createSafeguardsMiddleware,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  safeguardsResponseMeta,
  type TrustProxy,
  withSafeguardsContext,
} from '../src/index.js';

export interface Context {
  ip: string | undefined;
  userId: string | undefined;
}

/** Errors shaped like the drivers', carrying what must never reach a client. */
export const leakyErrors = {
  conflict: () => {
    const pg = Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), {
      name: 'PostgresError',
      code: '23505',
      detail: 'Key (email)=(secret@example.com) already exists.',
    });
    return Object.assign(
      new Error('Failed query: insert into "users" ("email") values ($1)\nparams: secret@example.com', {
        cause: pg,
      }),
      { name: 'DrizzleQueryError' },
    );
  },
  notNull: () => {
    const pg = Object.assign(
      new Error('null value in column "name" of relation "animals" violates not-null constraint'),
      {
        name: 'PostgresError',
        code: '23502',
        detail: 'Failing row contains (7, null, secret@example.com).',
      },
    );
    return Object.assign(
      new Error(
        'Failed query: insert into "animals" ("name", "owner") values ($1, $2)\nparams: ,secret@example.com',
        {
          cause: pg,
        },
      ),
      { name: 'DrizzleQueryError' },
    );
  },
  undefinedTable: () =>
    Object.assign(new Error('relation "animalz" does not exist'), { name: 'error', code: '42P01' }),
  tooManyConnections: () =>
    Object.assign(new Error('sorry, too many clients already'), { name: 'error', code: '53300' }),
  connectionString: () => new Error('connect failed for postgres://app:hunter2@db.internal:5432/prod'),
  privilege: () =>
    Object.assign(new Error('permission denied for table animals'), { name: 'error', code: '42501' }),
};

/** How the router reports errors: by default no stacks anywhere (`isDev: false`, `exposeStack: false`). */
export interface ErrorReporting {
  isDev: boolean;
  /** Omitted: the formatter decides from NODE_ENV. */
  exposeStack?: boolean;
}

export function buildRouter(
  safeguards: Safeguards,
  probes: { bodyRuns: number; seen: unknown[]; calls: Record<string, number> },
  reporting: ErrorReporting = { isDev: false, exposeStack: false },
) {
  const t = initTRPC
    .context<Context>()
    .meta<SafeguardsMeta>()
    .create({
      transformer: superjson,
      isDev: reporting.isDev,
      errorFormatter: safeguardsErrorFormatter(
        reporting.exposeStack === undefined ? {} : { exposeStack: reporting.exposeStack },
      ),
    });
  const procedure = t.procedure.use(
    createSafeguardsMiddleware(safeguards, {
      identify: (ctx: Context) => ({ userId: ctx.userId, ip: ctx.ip }),
    }),
  );
  // A middleware placed before the safeguards middleware that writes (an audit log, say) and loses
  // its connection: the safeguards middleware never sees this call.
  const auditedProcedure = t.procedure
    .use(async ({ next }) => {
      await lostConnectionWrite();
      return next();
    })
    .use(createSafeguardsMiddleware(safeguards, { identify: (ctx: Context) => ({ userId: ctx.userId }) }));
  const lostConnectionWrite = () =>
    safeguards.run(
      () => Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
      { operationType: 'write' },
    );
  const count = (name: string) => {
    probes.calls[name] = (probes.calls[name] ?? 0) + 1;
    return probes.calls[name];
  };
  // A "database call" that reports the context it ran with.
  const dbCall = () =>
    safeguards.run(
      (scope) => ({
        priority: scope.context.priority,
        deadline: scope.deadline,
        label: scope.context.label,
        identity: scope.context.identity,
      }),
      {
        operationType: 'read',
      },
    );

  const priorityHere = () => safeguards.run((scope) => scope.context.priority);

  return t.router({
    ping: procedure.query(() => 'pong'),
    // The inner call declares no type of its own, so it inherits the procedure's.
    batchJob: procedure.meta({ operationType: 'batch', rateLimit: false }).query(async () => {
      count('batchJob');
      return priorityHere();
    }),
    lowReport: procedure.meta({ priority: 'LOW', rateLimit: 'tiny' }).query(() => {
      count('lowReport');
      return 'report';
    }),
    criticalInside: procedure.query(() =>
      safeguards.run((scope) => scope.context.priority, { operationType: 'critical' }),
    ),
    limited: procedure.meta({ rateLimit: 'tiny' }).query(() => 'ok'),
    unlimited: procedure.meta({ rateLimit: false }).query(() => 'ok'),
    dbRead: procedure.query(async () => {
      probes.bodyRuns++;
      return dbCall();
    }),
    highPriority: procedure
      .meta({ priority: Priority.HIGH, timeoutMs: 1234 })
      .query(async () => ({ now: Date.now(), db: await dbCall() })),
    waitForAbort: procedure.query(async () => {
      const seen = await safeguards
        .run(
          (scope) =>
            new Promise<string>((resolve) => {
              scope.signal.addEventListener('abort', () => resolve('aborted'));
            }),
          { operationType: 'read' },
        )
        .catch((error: SafeguardError) => error.reason);
      probes.seen.push(seen);
      return seen;
    }),
    flaky: procedure.query(async () => {
      if (count('flaky') < 3)
        await safeguards.run(() => Promise.reject(leakyErrors.tooManyConnections()), {
          operationType: 'read',
        });
      return 'recovered';
    }),
    alwaysUnavailable: procedure.query(() => {
      count('alwaysUnavailable');
      throw new SafeguardError({ type: 'QUEUE_FULL', reason: 'shed', retryAfterMs: 300, notApplied: true });
    }),
    writeLostConnection: procedure.mutation(async () => {
      count('writeLostConnection');
      await lostConnectionWrite();
    }),
    // Without the safeguards middleware.
    bareWriteLostConnection: t.procedure.mutation(async () => {
      count('bareWriteLostConnection');
      await lostConnectionWrite();
    }),
    auditedWrite: auditedProcedure.mutation(() => 'saved'),
    // Its own breaker: a test forces it open, so calls are refused before the body runs (nothing was
    // written) and the server says retrying is safe although the mutation is not idempotent.
    shedWrite: procedure.meta({ rateLimit: false, breaker: 'shed-write' }).mutation(() => {
      count('shedWrite');
      return 'written';
    }),
    // Refused inside the body by its first database operation (a full queue). That operation wrote
    // nothing, but the error says nothing of the body as a whole: not retryable for a mutation.
    shedInBodyWrite: procedure.meta({ rateLimit: false }).mutation(() => {
      count('shedInBodyWrite');
      throw new SafeguardError({ type: 'QUEUE_FULL', reason: 'shed', retryAfterMs: 50, notApplied: true });
    }),
    // Without the middleware: tRPC answers 500 whatever the error says.
    bareTooManyConnections: t.procedure.query(() => {
      throw leakyErrors.tooManyConnections();
    }),
    // A write (not idempotent) that gives up on purpose with the given code.
    failWrite: procedure
      .input(
        z.enum(['GATEWAY_TIMEOUT', 'SERVICE_UNAVAILABLE', 'TIMEOUT', 'BAD_GATEWAY', 'TOO_MANY_REQUESTS']),
      )
      .mutation(({ input }) => {
        throw new TRPCError({ code: input, message: 'Please try again later.' });
      }),
    recordDose: procedure
      .meta({ idempotent: true, rateLimit: false })
      .input(z.object({ key: z.string().min(1) }))
      .mutation(async ({ input }) => {
        if (count('recordDose') < 2)
          await safeguards.run(() => Promise.reject(leakyErrors.tooManyConnections()), {
            operationType: 'write',
          });
        return { recorded: input.key };
      }),
    createAnimal: procedure
      .input(z.object({ name: z.string().min(1), weightKg: z.number().positive() }))
      .mutation(({ input }) => input),
    boom: procedure
      .input(
        z.enum([
          'conflict',
          'notNull',
          'undefinedTable',
          'tooManyConnections',
          'connectionString',
          'privilege',
          'notFound',
          'unauthorized',
          'badRequestWithCause',
          'forbidden',
          'queueFull',
          'timeout',
          'plainThrow',
        ]),
      )
      .query(async ({ input }) => {
        switch (input) {
          case 'notFound':
            throw new TRPCError({ code: 'NOT_FOUND', message: 'Animal not found' });
          case 'unauthorized':
            throw new TRPCError({ code: 'UNAUTHORIZED' });
          case 'badRequestWithCause':
            // No message of its own: tRPC copies the cause's.
            throw new TRPCError({ code: 'BAD_REQUEST', cause: leakyErrors.connectionString() });
          case 'forbidden':
            throw new TRPCError({ code: 'FORBIDDEN' });
          case 'queueFull':
            throw new SafeguardError({
              type: 'QUEUE_FULL',
              reason: 'displaced',
              notApplied: true,
              retryAfterMs: 1000,
            });
          case 'timeout':
            return safeguards.run(() => new Promise(() => undefined), {
              operationType: 'read',
              timeoutMs: 30,
            });
          case 'plainThrow':
            throw leakyErrors.connectionString();
          default:
            return safeguards.run(() => Promise.reject(leakyErrors[input]()), { operationType: 'write' });
        }
      }),
  });
}

export type AppRouter = ReturnType<typeof buildRouter>;

export interface Fixture extends AsyncDisposable {
  url: string;
  safeguards: Safeguards;
  probes: { bodyRuns: number; seen: unknown[]; calls: Record<string, number> };
  close(): Promise<void>;
}

/** A running HTTP server for a router; closing it also closes its safeguards. */
export interface Served extends AsyncDisposable {
  url: string;
  close(): Promise<void>;
}

/** Serves any router with tRPC's standalone adapter on a free port, with the safeguards' responseMeta. */
export async function serve<TRouter extends AnyTRPCRouter>(
  router: TRouter,
  createContext: (opts: { req: IncomingMessage }) => inferRouterContext<TRouter>,
  safeguards: Safeguards,
): Promise<Served> {
  const server = createHTTPServer({
    basePath: '/trpc/',
    router,
    createContext: ({ req }) => createContext({ req }),
    responseMeta: safeguardsResponseMeta(),
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await safeguards.close({ drainTimeoutMs: 100 });
  };
  return { url: `http://127.0.0.1:${port}/trpc`, close, [Symbol.asyncDispose]: close };
}

/** A real tRPC HTTP server (standalone adapter) on a free port, with the safeguards wired in. */
export async function startFixture(
  options: { safeguards?: SafeguardsOptions; trustProxy?: TrustProxy; reporting?: ErrorReporting } = {},
): Promise<Fixture> {
  const safeguards = createSafeguards({
    retry: { maxAttempts: 1 },
    rateLimits: { policies: { tiny: { limit: 2, windowMs: 60_000 } }, adaptive: false },
    ...options.safeguards,
  });
  const probes = { bodyRuns: 0, seen: [] as unknown[], calls: {} as Record<string, number> };
  const router = buildRouter(safeguards, probes, options.reporting);
  const served = await serve(
    router,
    ({ req }) =>
      withSafeguardsContext<Context>({
        ip: clientIp(
          { remoteAddress: req.socket.remoteAddress, headers: req.headers },
          options.trustProxy ?? false,
        ),
        userId: typeof req.headers['x-user-id'] === 'string' ? req.headers['x-user-id'] : undefined,
      }),
    safeguards,
  );
  return { ...served, safeguards, probes };
}

/** The TRPCClientError a call to the fixture's router rejected with; throws if it did not reject so. */
export async function failure(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCClientError))
    throw new Error(`expected a TRPCClientError, got ${String(error)}`);
  return error as TRPCClientError<AppRouter>;
}
