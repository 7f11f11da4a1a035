/**
 * The sample app's two busiest calls with nothing of db-safeguards around them: a plain Node HTTP
 * server, tRPC's standalone adapter (the app's transformer: superjson, answers by its faster writer) and Drizzle over postgres.js, on the
 * app's own schema and tables. `pnpm bench:served-cost` runs it beside the app, on the same database,
 * to price what the safeguards add to a served call.
 *
 * Same as the app: the bearer token is verified against `auth_tokens` once and then kept in memory
 * for 30 s (the app's session cache), the access checks are the app's one-query joins, the dose
 * history reads 50 rows, a recording runs the app's own `recordDose` (one statement: insert, stock
 * update). The input is validated with zod, and the answers have the app's shape (`{ value, degraded }`
 * for the history), so the transformer has the same work.
 * Not here, by design: rate limits, the admission queue and budget, load shedding, breakers,
 * deadlines, stale answers, the edge admission, the request log and metrics, request IDs, the body
 * and connection guards.
 *
 * With `SAFEGUARDS=on` it is the same server with db-safeguards adopted as the packages' READMEs
 * show, and nothing of the sample app: Drizzle through `@db-safeguards/drizzle` (every statement on
 * the connection budget, with a deadline), and in tRPC the safeguards' middleware (admission, rate
 * limit, priority and deadline from each procedure's meta), error formatter and response headers.
 * `pnpm bench:served-cost -- --compare adopted` prices that against the bare server: what adopting
 * the safeguards costs, apart from what the sample app adds of its own. `SAFEGUARDS=trpc` adopts only
 * the tRPC parts (Drizzle plain), `SAFEGUARDS=drizzle` only the guarded Drizzle (no middleware: each
 * statement on the budget with the default settings), to split that cost.
 *
 * Env: DATABASE_URL, POOL_MAX (default 4), PORT (default 0), HOST (default 127.0.0.1), SAFEGUARDS
 * (`on`, `trpc`, `drizzle` or unset). Prints `listening on http://host:port` on stderr when ready.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSafeguards } from '@db-safeguards/core';
import { drizzle as guardedDrizzle } from '@db-safeguards/drizzle/postgres-js';
import {
  createSafeguardsMiddleware,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  safeguardsResponseMeta,
} from '@db-safeguards/trpc';
import { type AppDatabase, hashBearerToken, recordDose, schema } from '@db-safeguards/vetmed/db';
import { wireTransformer } from '@db-safeguards/vetmed/wire-transformer';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { z } from 'zod';

const { administrations, animals, authTokens, memberships, regimens, users } = schema;

const adoptedParts = process.env.SAFEGUARDS ?? 'off';
if (!['off', 'on', 'trpc', 'drizzle'].includes(adoptedParts))
  throw new Error(`SAFEGUARDS: expected on, trpc, drizzle or nothing, got ${adoptedParts}`);
const guardTrpc = adoptedParts === 'on' || adoptedParts === 'trpc';
const guardDrizzle = adoptedParts === 'on' || adoptedParts === 'drizzle';
const poolMax = Number(process.env.POOL_MAX ?? 4);
const sql = postgres(process.env.DATABASE_URL!, { max: poolMax, onnotice: () => {} });
/** Rate limits far above the offered load, as the app gets them in this benchmark. */
const unlimited = { limit: 100_000_000, windowMs: 60_000 };
const safeguards =
  adoptedParts !== 'off'
    ? createSafeguards({
        queue: { maxConcurrentConnections: poolMax },
        rateLimits: { policies: { api: unlimited, recording: unlimited } },
      })
    : undefined;
const db =
  safeguards && guardDrizzle
    ? guardedDrizzle({ client: sql, schema, safeguards })
    : drizzle({ client: sql, schema });
/** The app's services take its safeguarded database type; the query builder they use is the same. */
const appDb = db as unknown as AppDatabase;

interface User {
  id: string;
  email: string;
  name: string;
}
interface Context {
  token: string | undefined;
  /** The request, for the safeguards' per-IP identity when adopted. */
  req: IncomingMessage;
  user?: User;
}

/** Verified tokens for 30 s, never past the token's own expiry (the app's `SessionCache` in short). */
const sessions = new Map<string, { user: User; until: number }>();
const sessionTtlMs = 30_000;

async function userOf(token: string): Promise<User | undefined> {
  const now = Date.now();
  const kept = sessions.get(token);
  if (kept && kept.until > now) return kept.user;
  const [row] = await db
    .select({ id: users.id, email: users.email, name: users.name, expiresAt: authTokens.expiresAt })
    .from(authTokens)
    .innerJoin(users, eq(users.id, authTokens.userId))
    .where(
      and(
        eq(authTokens.tokenHash, hashBearerToken(token)),
        isNull(authTokens.revokedAt),
        gt(authTokens.expiresAt, new Date(now)),
      ),
    )
    .limit(1);
  if (!row) return undefined;
  const { expiresAt, ...user } = row;
  sessions.set(token, { user, until: Math.min(now + sessionTtlMs, expiresAt.getTime()) });
  return user;
}

const t = initTRPC
  .context<Context>()
  .meta<SafeguardsMeta>()
  .create({
    transformer: wireTransformer,
    isDev: false,
    ...(guardTrpc ? { errorFormatter: safeguardsErrorFormatter() } : {}),
  });

const procedure =
  safeguards && guardTrpc ? t.procedure.use(createSafeguardsMiddleware(safeguards)) : t.procedure;
const signedIn = procedure.use(async ({ ctx, next }) => {
  const user = ctx.token === undefined ? undefined : await userOf(ctx.token);
  if (!user) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { user } });
});

const notFound = (what: string) => new TRPCError({ code: 'NOT_FOUND', message: `${what} not found.` });
const uuid = z.uuid();

const router = t.router({
  administrations: t.router({
    history: signedIn
      .meta({ priority: 'NORMAL' })
      .input(z.object({ animalId: uuid, limit: z.number().int().min(1).max(200).default(50) }))
      .query(async ({ ctx, input }) => {
        // The app's access check: the animal with the caller's membership joined in.
        const [animal] = await db
          .select({ id: animals.id, role: memberships.role })
          .from(animals)
          .leftJoin(
            memberships,
            and(eq(memberships.householdId, animals.householdId), eq(memberships.userId, ctx.user.id)),
          )
          .where(eq(animals.id, input.animalId))
          .limit(1);
        if (!animal?.role) throw notFound('Animal');
        const doses = await db
          .select()
          .from(administrations)
          .where(eq(administrations.animalId, input.animalId))
          .orderBy(desc(administrations.recordedAt))
          .limit(input.limit);
        return { value: doses, degraded: false as const };
      }),
    record: signedIn
      .meta({ priority: 'HIGH', rateLimit: 'recording' })
      .input(
        z.object({
          regimenId: uuid,
          idempotencyKey: z.string().trim().min(8).max(200),
          notes: z.string().trim().max(2000).optional(),
        }),
      )
      .mutation(async ({ ctx, input }) => {
        const [row] = await db
          .select({
            id: regimens.id,
            animalId: regimens.animalId,
            medicationId: regimens.medicationId,
            householdId: animals.householdId,
            doseAmount: regimens.doseAmount,
            doseUnit: regimens.doseUnit,
            active: regimens.active,
            startsAt: regimens.startsAt,
            endsAt: regimens.endsAt,
            role: memberships.role,
          })
          .from(regimens)
          .innerJoin(animals, eq(animals.id, regimens.animalId))
          .leftJoin(
            memberships,
            and(eq(memberships.householdId, animals.householdId), eq(memberships.userId, ctx.user.id)),
          )
          .where(eq(regimens.id, input.regimenId))
          .limit(1);
        if (row?.role !== 'owner' && row?.role !== 'caregiver') throw notFound('Regimen');
        const result = await recordDose(appDb, { ...input, recordedBy: ctx.user.id }, row);
        return { status: 'applied' as const, degraded: false, ...result };
      }),
  }),
});

const bearer = (req: IncomingMessage) => /^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? '')?.[1];

const handler = createHTTPHandler({
  router,
  basePath: '/api/trpc/',
  createContext: ({ req }): Context => ({ token: bearer(req), req }),
  ...(guardTrpc ? { responseMeta: safeguardsResponseMeta() } : {}),
});

const server = createServer((req, res) => {
  void handler(req, res);
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo;
  console.error(`bare server listening on http://${address}:${port}`);
});

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void sql.end({ timeout: 5 }).then(() => process.exit(0));
});
