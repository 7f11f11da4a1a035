import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Priority } from '@db-safeguards/core';
import type { ConnectionSampler } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/env.js';
import { createLogger } from '../../src/server/logger.js';
import { operationalRoutePaths } from '../../src/server/operational-routes.js';
import { type RunningVetmed, type StartVetmedOptions, startVetmed } from '../../src/start-vetmed.js';
import { watchConnectionRefusals } from '../support/connection-refusals.js';
import { countsByKey, queryRows, stockOf } from '../support/ledger.js';
import {
  type Actor,
  applied,
  createHouseholdWithAnimal,
  failure,
  nextIp,
  type Outcome,
  outcome,
  signUp,
  testPassword,
  vetmedClient,
} from './app-client.js';

/** Where the app under test keeps its data. */
export interface AppTarget {
  /** Environment for `loadEnv` that selects the driver (DATABASE_URL, DB_DRIVER, PGLITE_DATA_DIR...). */
  env: Record<string, string>;
  startOptions?: StartVetmedOptions;
  /** A real server: backends of the app role can be counted. */
  server?: { connectionLimit: number; sampleConnections(): ConnectionSampler };
}

export const adminToken = 'test-admin-token-0123456789';
const metricsToken = 'test-metrics-token-0123456789';
const asScraper = { headers: { authorization: `Bearer ${metricsToken}` } };
const tables = [
  'users',
  'auth_tokens',
  'households',
  'memberships',
  'animals',
  'medications',
  'regimens',
  'administrations',
  'inventory',
];

/**
 * Per table, its row count and an md5 of all its rows in a fixed order: "the database is unchanged"
 * must also catch an update that was applied before the call failed, which leaves the counts alone.
 */
async function tableChecksums(app: RunningVetmed): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const table of tables) {
    const [row] = await queryRows<{ n: number; sum: string }>(
      app,
      sql.raw(
        `select count(*)::int as n, md5(coalesce(string_agg(t::text, E'\n' order by t::text), '')) as sum from ${table} t`,
      ),
    );
    sums[table] = `${row?.n} rows, md5 ${row?.sum}`;
  }
  return sums;
}

interface LogLine {
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

/** A log destination keeping the app's most recent JSON log lines, parsed. */
function captureLogLines(keep = 20_000) {
  const lines: LogLine[] = [];
  return {
    lines,
    stream: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
        if (lines.length > keep) lines.splice(0, lines.length - keep);
        return true;
      },
    } as unknown as NodeJS.WritableStream,
  };
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; resolves whether it held. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(50);
  }
}

/**
 * `clients` loops fetching `url` back to back, on a worker thread; `stop()` ends them and resolves
 * with the number of responses.
 */
function startHealthFlood(url: string, clients: number): { stop(): Promise<number> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
    let flooding = true;
    let polls = 0;
    parentPort.once('message', () => { flooding = false; });
    const poll = async () => {
      while (flooding) {
        try { await (await fetch(workerData.url)).arrayBuffer(); polls++; } catch {}
      }
    };
    Promise.all(Array.from({ length: workerData.clients }, poll)).then(() => parentPort.postMessage(polls));`,
    { eval: true, workerData: { url, clients } },
  );
  const done = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const polls = await done;
      await worker.terminate();
      return polls;
    },
  };
}

/**
 * The sample app's contract, written once and run on every driver: real HTTP, real tRPC client,
 * superjson, the app's own configuration path (`loadEnv` → `startVetmed`).
 */
export function describeAppContract(name: string, getTarget: () => AppTarget): void {
  describe(`VetMed over HTTP on ${name}`, () => {
    let app: RunningVetmed;
    let target: AppTarget;
    const logs = captureLogLines();

    beforeAll(async () => {
      target = getTarget();
      const config = loadEnv({
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        SEED_DEMO: 'false',
        ADMIN_TOKEN: adminToken,
        METRICS_TOKEN: metricsToken,
        TRUST_PROXY: '127.0.0.1',
        // The contract is the app's behaviour on each driver; load shedding, with the noise of a shared
        // test machine, would refuse LOW calls at random. It has its own test (load-shedding.test.ts).
        LOAD_SHEDDING: 'off',
        // The tests look for the log line of one refused request: none is left out of the logs here.
        LOG_REFUSALS_PER_SECOND: '1000000',
        ...target.env,
      });
      // Generous rate limits for the user-level tests: the load test is about the connection budget.
      config.safeguards = {
        ...config.safeguards,
        rateLimits: {
          policies: {
            ...config.safeguards.rateLimits?.policies,
            api: { limit: 100_000, windowMs: 60_000 },
            recording: { limit: 100_000, windowMs: 60_000 },
            reports: { limit: 100_000, windowMs: 60_000 },
            heavy: { limit: 100_000, windowMs: 60_000 },
          },
          adaptive: false,
        },
      };
      app = await startVetmed(config, { log: createLogger('info', logs.stream), ...target.startOptions });
    }, 60_000);

    afterAll(async () => {
      await app?.stop();
    });

    const asAdmin = { headers: { authorization: `Bearer ${adminToken}` } };

    it('answers health (with the database probe), readiness, liveness and metrics', async () => {
      const health = await fetch(`${app.url}/api/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'healthy', database: 'healthy', queue: 'healthy' });
      // The detailed report (error counts, breakers, load) is for operators only.
      expect((await fetch(`${app.url}/api/health?detailed=true`)).status).toBe(401);
      const detailed = await fetch(`${app.url}/api/health?detailed=true`, asAdmin);
      expect(detailed.status).toBe(200);
      const report = (await detailed.json()) as {
        components: Record<string, unknown>;
        metrics: { queue: { maxConcurrentConnections: number } };
        alerts: unknown[];
      };
      expect(Object.keys(report.components)).toEqual(
        expect.arrayContaining(['queue', 'circuitBreakers', 'rateLimit', 'errors', 'latency', 'database']),
      );
      expect(report.metrics.queue.maxConcurrentConnections).toBe(8);
      expect((await fetch(`${app.url}/api/ready`)).status).toBe(200);
      expect((await fetch(`${app.url}/api/alive`)).status).toBe(200);
      // The metrics publish the same figures: a bearer token is needed, the scraper's or the admin's.
      const refused = await fetch(`${app.url}/metrics`);
      expect([refused.status, refused.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
      expect((await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
      expect((await fetch(`${app.url}/metrics`, asAdmin)).status).toBe(200);
      // ...and the scraper's token opens nothing else.
      expect((await fetch(`${app.url}/api/health?detailed=true`, asScraper)).status).toBe(401);
      const metrics = await (await fetch(`${app.url}/metrics`, asScraper)).text();
      expect(metrics).toContain('db_safeguards_connections_max 8');
      expect(metrics).toContain('http_requests_total');
      expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('labels metrics by known route only: 1,000 junk URLs add no series', async () => {
      /** The label sets of the HTTP metrics in one scrape. */
      const httpSeries = async () => {
        const text = await (await fetch(`${app.url}/metrics`, asScraper)).text();
        return new Set(
          text
            .split('\n')
            .filter((line) => line.startsWith('http_'))
            .map((line) => line.slice(0, line.lastIndexOf(' '))),
        );
      };
      const junk = (i: number) => [
        `/api/junk-${i}`,
        `/api/trpc/junk.${i}`,
        `/api/trpc/auth.me,junk.${i}`,
        `/api/admin/junk-${i}`,
        `/junk-${i}?q=${i}`,
      ];
      const send = async (paths: string[]) => {
        for (const path of paths) await (await fetch(`${app.url}${path}`)).arrayBuffer();
      };
      await send(junk(0)); // the first of each kind creates its 'other' series, with its status
      const before = await httpSeries();
      expect([...before].some((series) => series.includes('route="other"'))).toBe(true);
      for (let i = 1; i <= 200; i++) await send(junk(i));
      const after = await httpSeries();
      expect(
        [...after].filter((series) => !before.has(series) && !series.includes('route="/metrics"')),
      ).toEqual([]);
      expect([...after].some((series) => series.includes('junk'))).toBe(false);
      // Every route the server serves outside tRPC is labelled as itself (the admin ones answer 401
      // here, with no token: nothing is paused or reset).
      await send([...operationalRoutePaths]);
      const served = await httpSeries();
      expect(
        operationalRoutePaths.filter(
          (path) => ![...served].some((series) => series.includes(`route="${path}"`)),
        ),
      ).toEqual([]);
    });

    it('admin endpoints need the admin token, and pause, resume, reset and list errors', async () => {
      expect((await fetch(`${app.url}/api/admin/queue/pause`, { method: 'POST' })).status).toBe(401);
      const admin = (path: string, method = 'POST') =>
        fetch(`${app.url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}` } });
      const paused = await admin('/api/admin/queue/pause?priorities=BATCH,LOW');
      expect(await paused.json()).toEqual({ paused: ['LOW', 'BATCH'] });
      // Degraded (206): an admin action shows in the very next health check, shared report or not.
      const degraded = await fetch(`${app.url}/api/health`);
      expect(degraded.status).toBe(206);
      expect(await degraded.json()).toMatchObject({ status: 'degraded', queue: 'degraded' });
      expect(await (await admin('/api/admin/queue/resume')).json()).toEqual({ paused: [] });
      expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
      app.safeguards.breakers.get('primary').forceOpen();
      // The health report is shared for up to a second: the open breaker shows once it is renewed.
      expect(await eventually(async () => (await fetch(`${app.url}/api/health`)).status === 503, 3000)).toBe(
        true,
      );
      const reset = (await (await admin('/api/admin/circuit-breaker/reset')).json()) as {
        breakers: Record<string, { state: string }>;
      };
      expect(reset.breakers.primary!.state).toBe('CLOSED');
      expect((await admin('/api/admin/circuit-breaker/reset?name=nope')).status).toBe(404);
      const errors = await admin('/api/admin/errors?limit=5&type=CONFLICT', 'GET');
      expect(errors.status).toBe(200);
      expect(await errors.json()).toHaveProperty('errors');
      expect((await admin('/api/admin/errors?limit=abc', 'GET')).status).toBe(400);
    });

    it('a flood of health checks costs at most one probe per second and starves no user call', async () => {
      const actor = await signUp(app.url, 'patient');
      const { animal } = await createHouseholdWithAnimal(actor);
      let probes = 0;
      const counting = app.safeguards.onOperationEnd((event) => {
        if (event.label === 'health-probe') probes++;
      });
      const started = performance.now();
      // 150 clients polling as fast as they can, as in the incident; on a thread of their own, so their
      // own work does not slow the user calls down.
      const clients = 150;
      const flood = startHealthFlood(`${app.url}/api/health`, clients);
      let polls: number;
      try {
        await sleep(200);
        const history = await Promise.all(
          Array.from({ length: 80 }, () =>
            outcome(actor.client.administrations.history.query({ animalId: animal.id, limit: 20 })),
          ),
        );
        const failed = history.filter((call) => !call.ok);
        expect(failed.map((call) => !call.ok && call.userFriendly?.type)).toEqual([]);
        while (performance.now() - started < 1500) await sleep(50);
      } finally {
        polls = await flood.stop();
        counting.dispose();
      }
      const elapsedMs = performance.now() - started;
      // A flood, whatever the machine's speed: as many checks answered as there are clients (each one
      // at least once on average), against the handful of probes allowed below.
      expect(polls).toBeGreaterThanOrEqual(clients);
      // The app's default: one report (one probe) answers every health check for 1 s.
      expect(probes).toBeGreaterThan(0);
      expect(probes).toBeLessThanOrEqual(Math.floor(elapsedMs / 1000) + 2);
    });

    it("tags every log line of a request with its request ID (the client's when well-formed)", async () => {
      const requestId = `test-${randomUUID()}`;
      const response = await fetch(`${app.url}/api/trpc/households.list`, {
        headers: { 'x-request-id': requestId },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('x-request-id')).toBe(requestId);
      const ofRequest = () => logs.lines.filter((line) => line.requestId === requestId);
      expect(await eventually(async () => ofRequest().some((line) => line.msg === 'request'), 2000)).toBe(
        true,
      );
      expect(ofRequest()).toEqual([
        expect.objectContaining({ msg: 'procedure failed', path: 'households.list', code: 'UNAUTHORIZED' }),
        expect.objectContaining({
          msg: 'request',
          route: 'trpc:households.list',
          status: 401,
          service: 'vetmed',
        }),
      ]);
      const malformed = await fetch(`${app.url}/api/alive`, {
        headers: { 'x-request-id': 'not a valid id!' },
      });
      const assigned = malformed.headers.get('x-request-id');
      expect(assigned).toMatch(/^[0-9a-f-]{36}$/);
      expect(await eventually(async () => logs.lines.some((line) => line.requestId === assigned), 2000)).toBe(
        true,
      );
      expect(logs.lines.some((line) => line.requestId === 'not a valid id!')).toBe(false);
    });

    describe('households are isolated', () => {
      let owner: Actor;
      let stranger: Actor;
      let world: Awaited<ReturnType<typeof createHouseholdWithAnimal>>;

      beforeAll(async () => {
        owner = await signUp(app.url, 'owner');
        stranger = await signUp(app.url, 'stranger');
        world = await createHouseholdWithAnimal(owner, 'Owner home');
        await createHouseholdWithAnimal(stranger, 'Stranger home');
      });

      it("a user never reads or changes another household's data, and nothing changes", async () => {
        const before = await tableChecksums(app);
        const { household, animal, medication, regimen } = world;
        const s = stranger.client;
        const attempts: Array<[string, () => Promise<unknown>]> = [
          ['households.get', () => s.households.get.query({ householdId: household.id })],
          [
            'households.removeMember',
            () => s.households.removeMember.mutate({ householdId: household.id, userId: owner.userId }),
          ],
          [
            'households.invite',
            () =>
              s.households.invite.mutate({
                householdId: household.id,
                email: 'x@example.test',
                role: 'vet',
              }),
          ],
          [
            'households.setRole',
            () =>
              s.households.setRole.mutate({ householdId: household.id, userId: owner.userId, role: 'vet' }),
          ],
          ['animals.list', () => s.animals.list.query({ householdId: household.id })],
          ['animals.get', () => s.animals.get.query({ animalId: animal.id })],
          [
            'animals.create',
            () => s.animals.create.mutate({ householdId: household.id, name: 'Intruder', species: 'cat' }),
          ],
          ['animals.update', () => s.animals.update.mutate({ animalId: animal.id, name: 'Renamed' })],
          ['animals.archive', () => s.animals.archive.mutate({ animalId: animal.id })],
          ['animals.delete', () => s.animals.delete.mutate({ animalId: animal.id })],
          ['medications.list', () => s.medications.list.query({ householdId: household.id })],
          [
            'medications.create',
            () => s.medications.create.mutate({ householdId: household.id, name: 'X', form: 'tablet' }),
          ],
          ['regimens.list', () => s.regimens.list.query({ animalId: animal.id })],
          [
            'regimens.create',
            () =>
              s.regimens.create.mutate({
                animalId: animal.id,
                medicationId: medication.id,
                doseAmount: 1,
                doseUnit: 'tablet',
                schedule: { kind: 'as_needed' },
              }),
          ],
          ['regimens.setActive', () => s.regimens.setActive.mutate({ regimenId: regimen.id, active: false })],
          [
            'administrations.record',
            () => s.administrations.record.mutate({ regimenId: regimen.id, idempotencyKey: randomUUID() }),
          ],
          ['administrations.history', () => s.administrations.history.query({ animalId: animal.id })],
          ['inventory.list', () => s.inventory.list.query({ householdId: household.id })],
          [
            'inventory.adjust',
            () =>
              s.inventory.adjust.mutate({
                householdId: household.id,
                medicationId: medication.id,
                delta: -5,
                unit: 'tablet',
              }),
          ],
          ['reports.adherence', () => s.reports.adherence.query({ householdId: household.id })],
          ['reports.export', () => s.reports.export.query({ householdId: household.id })],
          [
            'imports.administrations',
            () =>
              s.imports.administrations.mutate({
                householdId: household.id,
                rows: [{ regimenId: regimen.id, idempotencyKey: randomUUID(), recordedAt: new Date() }],
              }),
          ],
        ];
        for (const [procedure, call] of attempts) {
          const result = await failure(call());
          expect({ procedure, status: result.status, type: result.userFriendly?.type }).toEqual({
            procedure,
            status: 404,
            type: 'NOT_FOUND',
          });
        }
        expect(await tableChecksums(app)).toEqual(before);
        // The check sees changes that keep every count: the owner renaming the animal shows.
        await owner.client.animals.update.mutate({ animalId: animal.id, name: 'Rex II' });
        const renamed = await tableChecksums(app);
        expect(renamed.animals).not.toBe(before.animals);
        expect(renamed.animals!.split(',')[0]).toBe(before.animals!.split(',')[0]);
      });

      it('roles are enforced inside a household: a vet reads and prescribes but does not record doses', async () => {
        const vet = await signUp(app.url, 'vet');
        const me = await vet.client.auth.me.query();
        await owner.client.households.invite.mutate({
          householdId: world.household.id,
          email: me.email,
          role: 'vet',
        });
        const [invitation] = await vet.client.invitations.list.query();
        await vet.client.invitations.accept.mutate({ invitationId: invitation!.id });
        await expect(
          vet.client.animals.list.query({ householdId: world.household.id }),
        ).resolves.toHaveLength(1);
        const denied = await failure(
          vet.client.administrations.record.mutate({
            regimenId: world.regimen.id,
            idempotencyKey: randomUUID(),
          }),
        );
        expect(denied).toMatchObject({ status: 403, userFriendly: { type: 'AUTHORIZATION' } });
        await expect(
          vet.client.regimens.setActive.mutate({ regimenId: world.regimen.id, active: true }),
        ).resolves.toMatchObject({ active: true });
      });

      it('bad tokens get a typed 401 and change nothing, and a signed-out token stops working', async () => {
        const before = await tableChecksums(app);
        const anonymous = await failure(vetmedClient(app.url).households.list.query());
        expect(anonymous).toMatchObject({ status: 401, userFriendly: { type: 'AUTHENTICATION' } });
        const forged = await failure(
          vetmedClient(app.url, { token: 'x'.repeat(43) }).households.list.query(),
        );
        expect(forged).toMatchObject({ status: 401, userFriendly: { type: 'AUTHENTICATION' } });
        const forgedWrite = await failure(
          vetmedClient(app.url, { token: 'y'.repeat(43) }).animals.delete.mutate({
            animalId: world.animal.id,
          }),
        );
        expect(forgedWrite).toMatchObject({ status: 401, userFriendly: { type: 'AUTHENTICATION' } });
        expect(await tableChecksums(app)).toEqual(before);
        const leaving = await signUp(app.url, 'leaving');
        await leaving.client.auth.signOut.mutate();
        expect(await failure(leaving.client.households.list.query())).toMatchObject({ status: 401 });
      });
    });

    it('logs a refusal by its type and error ID, without a stack; an application error keeps its stack', async () => {
      const ip = nextIp();
      const call = (i: number, requestId: string) =>
        fetch(`${app.url}/api/trpc/households.list`, {
          headers: {
            authorization: `Bearer refused-${i}-${'r'.repeat(30)}`,
            'x-forwarded-for': ip,
            'x-request-id': requestId,
          },
        });
      const ids = Array.from({ length: 21 }, (_, i) => `refusal-${i}-${randomUUID()}`);
      const statuses: number[] = [];
      for (let i = 0; i < ids.length; i++) statuses.push((await call(i, ids[i]!)).status);
      // 20 unknown tokens per IP (the `token` policy), then the 21st is refused.
      expect(statuses).toEqual([...Array(20).fill(401), 429]);
      const failureOf = async (requestId: string) => {
        await eventually(
          async () => logs.lines.some((l) => l.requestId === requestId && l.msg === 'request'),
          2000,
        );
        return logs.lines.find((l) => l.requestId === requestId && l.msg === 'procedure failed');
      };
      const refused = await failureOf(ids[20]!);
      expect(refused).toMatchObject({
        code: 'TOO_MANY_REQUESTS',
        error: { type: 'RATE_LIMIT', errorId: expect.stringMatching(/^err_/) },
      });
      expect(refused).not.toHaveProperty('err');
      const unauthorized = await failureOf(ids[0]!);
      expect(unauthorized).toMatchObject({ code: 'UNAUTHORIZED', err: { stack: expect.any(String) } });
    });

    it('unknown tokens have their own limit: they never lock a valid token or sign-in out of the same IP', async () => {
      const ip = nextIp();
      const email = `shared-nat-${randomUUID().slice(0, 8)}@example.test`;
      const password = 'correct horse battery';
      const session = await vetmedClient(app.url, { ip }).auth.signUp.mutate({
        email,
        name: 'NAT',
        password,
      });
      const before = await tableChecksums(app);
      const statuses: Array<number | undefined> = [];
      for (let i = 0; i < 22; i++) {
        const bad = await failure(
          vetmedClient(app.url, { ip, token: `stale-token-${i}-${'x'.repeat(30)}` }).households.list.query(),
        );
        statuses.push(bad.status);
        if (i === 21) expect(bad.userFriendly).toMatchObject({ type: 'RATE_LIMIT', reason: 'rate-limit' });
      }
      // 20 per 15 minutes per IP (the `token` policy), then 429.
      expect(statuses).toEqual([...Array(20).fill(401), 429, 429]);
      expect(await tableChecksums(app)).toEqual(before);
      // A valid token this server has never seen (not in its session cache) still works...
      await expect(
        vetmedClient(app.url, { ip, token: session.token }).households.list.query(),
      ).resolves.toEqual([]);
      // ...and so does signing in: the bad tokens were not charged to the sign-in limit.
      await expect(
        vetmedClient(app.url, { ip }).auth.signIn.mutate({ email, password }),
      ).resolves.toMatchObject({
        user: { id: session.user.id },
      });
    });

    it('an IP over its token limit gets one lookup at a time: a flood of guesses neither fills the BATCH lane nor displaces an import', async () => {
      const ip = nextIp();
      const guess = (i: number) =>
        outcome(vetmedClient(app.url, { ip, token: `guess-${i}-${'g'.repeat(30)}` }).households.list.query());
      const statuses: Array<number | undefined> = [];
      for (let i = 0; i < 21; i++) {
        const result = await guess(i);
        statuses.push(result.ok ? 200 : result.status);
      }
      expect(statuses).toEqual([...Array(20).fill(401), 429]);
      const importer = await signUp(app.url, 'importer');
      const { household, regimen } = await createHouseholdWithAnimal(importer);
      // A session this server has never verified, to be sent from the blocked IP.
      const valid = await vetmedClient(app.url, { ip: importer.ip }).auth.signIn.mutate({
        email: importer.email,
        password: testPassword,
      });

      // With the BATCH lane paused, a lookup allowed to run stays queued there, where it can be counted.
      const shedBefore = app.safeguards.queue.stats().shed;
      const flood = 150;
      app.safeguards.pause([Priority.BATCH]);
      let lookupsQueued = -1;
      let answered = 0;
      let guesses: Array<Promise<Outcome<unknown>>> = [];
      let imported: Promise<Outcome<unknown>> | undefined;
      try {
        guesses = Array.from({ length: flood }, (_, i) =>
          guess(100 + i).then((result) => {
            answered++;
            return result;
          }),
        );
        // Every guess but the one whose lookup is queued is answered at once; without the single
        // flight, each would queue a lookup, past the point (half the queue) where BATCH arrivals are shed.
        await eventually(
          async () => answered + app.safeguards.queue.stats().queuedByPriority.BATCH >= flood,
          10_000,
        );
        lookupsQueued = app.safeguards.queue.stats().queuedByPriority.BATCH;
        imported = outcome(
          importer.client.imports.administrations.mutate({
            householdId: household.id,
            rows: [{ regimenId: regimen.id, idempotencyKey: randomUUID(), recordedAt: new Date() }],
          }),
        );
        await eventually(
          async () => app.safeguards.queue.stats().queuedByPriority.BATCH > lookupsQueued,
          2000,
        );
      } finally {
        app.safeguards.resume([Priority.BATCH]);
      }
      const results = await Promise.all(guesses);
      expect(lookupsQueued).toBeLessThanOrEqual(1);
      expect(results.map((result) => (result.ok ? 200 : result.status))).toEqual(Array(flood).fill(429));
      expect(await imported).toMatchObject({ ok: true, value: { inserted: 1 } });
      expect(app.safeguards.queue.stats().shed).toBe(shedBefore);
      // A valid token from the blocked IP is looked up (its turn comes at once now) and accepted.
      await expect(
        vetmedClient(app.url, { ip, token: valid.token }).households.list.query(),
      ).resolves.toEqual([expect.objectContaining({ id: household.id })]);
    });

    it("looks a bearer token up inside the call's safeguards context (its priority, label and deadline)", async () => {
      const actor = await signUp(app.url, 'first-call');
      const { regimen } = await createHouseholdWithAnimal(actor);
      // A second session of the same user: a token this server has not verified (nor cached) yet.
      const session = await vetmedClient(app.url, { ip: actor.ip }).auth.signIn.mutate({
        email: actor.email,
        password: testPassword,
      });
      const client = vetmedClient(app.url, { ip: actor.ip, token: session.token });
      // The operations run in the call's context. The app's background work (the look at its peers
      // in pg_stat_activity, once a second while busy; health probes) runs without a label and may
      // end in the same moment: a CI run once counted a peer look as the cached call's third operation.
      const operations = async (call: () => Promise<unknown>) => {
        const seen: Array<{ label: string | undefined; priority: number }> = [];
        const listening = app.safeguards.onOperationEnd(({ label, priority }) => {
          if (label !== undefined) seen.push({ label, priority });
        });
        try {
          await call();
        } finally {
          listening.dispose();
        }
        return seen;
      };
      const record = () =>
        client.administrations.record.mutate({ regimenId: regimen.id, idempotencyKey: randomUUID() });
      const first = await operations(record);
      const cached = await operations(record);
      // The first call's one extra operation is the token lookup, and it ran in the call's context.
      expect(first).toHaveLength(cached.length + 1);
      expect(first).toEqual(first.map(() => ({ label: 'administrations.record', priority: Priority.HIGH })));
    });

    it('limits sign-in attempts to 5 per 15 minutes per IP', async () => {
      const client = vetmedClient(app.url, { ip: nextIp() });
      const attempt = () =>
        failure(
          client.auth.signIn.mutate({ email: `nobody-${randomUUID()}@example.test`, password: 'guess' }),
        );
      for (let i = 0; i < 5; i++) expect((await attempt()).status).toBe(401);
      const limited = await attempt();
      expect(limited).toMatchObject({
        status: 429,
        userFriendly: { type: 'RATE_LIMIT', reason: 'rate-limit' },
      });
      expect(limited.userFriendly!.retryAfterMs).toBeGreaterThan(0);
      const headers = (limited.error as { meta?: { response?: Response } }).meta?.response?.headers;
      expect(Number(headers?.get('retry-after'))).toBeGreaterThan(0);
    });

    it('bad input gets a clear typed error and changes nothing', async () => {
      const actor = await signUp(app.url, 'careless');
      const { household, regimen, animal } = await createHouseholdWithAnimal(actor);
      const before = await tableChecksums(app);
      const c = actor.client as unknown as Record<
        string,
        Record<string, { mutate(input: unknown): Promise<unknown>; query(input: unknown): Promise<unknown> }>
      >;
      const invalid: Array<[string, 'mutate' | 'query', unknown]> = [
        ['households.create', 'mutate', { name: '' }],
        ['households.invite', 'mutate', { householdId: household.id, email: 'not-an-email', role: 'vet' }],
        ['animals.create', 'mutate', { householdId: 'not-a-uuid', name: 'Rex', species: 'dog' }],
        [
          'animals.create',
          'mutate',
          { householdId: household.id, name: 'Rex', species: 'dog', weightKg: -3 },
        ],
        ['animals.update', 'mutate', { animalId: animal.id, birthDate: '31/12/2020' }],
        [
          'regimens.create',
          'mutate',
          {
            animalId: animal.id,
            medicationId: regimen.medicationId,
            doseAmount: 1,
            doseUnit: 'tablet',
            schedule: { kind: 'every_full_moon' },
          },
        ],
        ['administrations.record', 'mutate', { regimenId: regimen.id, idempotencyKey: 'short' }],
        [
          'administrations.record',
          'mutate',
          { regimenId: regimen.id, idempotencyKey: randomUUID(), doseAmount: 'lots' },
        ],
        ['administrations.history', 'query', { animalId: animal.id, limit: 10_000 }],
        [
          'inventory.adjust',
          'mutate',
          { householdId: household.id, medicationId: regimen.medicationId, delta: 'ten', unit: 'tablet' },
        ],
        ['reports.adherence', 'query', { householdId: household.id, days: 365 }],
        ['imports.administrations', 'mutate', { householdId: household.id, rows: [] }],
        ['auth.signIn', 'mutate', { email: 'nobody', password: '' }],
      ];
      for (const [path, kind, input] of invalid) {
        const [group, procedure] = path.split('.') as [string, string];
        const result = await failure(c[group]![procedure]![kind](input));
        expect({ path, status: result.status, type: result.userFriendly?.type }).toEqual({
          path,
          status: 400,
          type: 'VALIDATION',
        });
        expect(result.userFriendly?.issues?.length ?? 0).toBeGreaterThan(0);
      }

      const headers = {
        authorization: `Bearer ${actor.token}`,
        'content-type': 'application/json',
        'x-forwarded-for': actor.ip,
      };
      const malformed = await fetch(`${app.url}/api/trpc/households.create`, {
        method: 'POST',
        headers,
        body: '{"json": {"name": ',
      });
      expect(malformed.status).toBe(400);
      expect(
        ((await malformed.json()) as { error: { json: { data: { userFriendly: { type: string } } } } }).error
          .json.data.userFriendly.type,
      ).toBe('VALIDATION');

      const oversized = await fetch(`${app.url}/api/trpc/households.create`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ json: { name: 'x'.repeat(2 * 1024 * 1024) } }),
      });
      expect(oversized.status).toBe(413);
      expect(
        ((await oversized.json()) as { error: { json: { data: { userFriendly: { type: string } } } } }).error
          .json.data.userFriendly.type,
      ).toBe('VALIDATION');

      const unknownHousehold = await failure(
        actor.client.animals.create.mutate({ householdId: randomUUID(), name: 'Ghost', species: 'cat' }),
      );
      expect(unknownHousehold).toMatchObject({ status: 404, userFriendly: { type: 'NOT_FOUND' } });
      const unknownRegimen = await failure(
        actor.client.administrations.record.mutate({ regimenId: randomUUID(), idempotencyKey: randomUUID() }),
      );
      expect(unknownRegimen).toMatchObject({ status: 404, userFriendly: { type: 'NOT_FOUND' } });
      const wrongRoute = await fetch(`${app.url}/api/nothing-here`);
      expect(wrongRoute.status).toBe(404);

      expect(await tableChecksums(app)).toEqual(before);
    });

    it('adjusts stock in its own unit only: another unit is a CONFLICT and changes nothing', async () => {
      const actor = await signUp(app.url, 'stock-keeper');
      const { household, medication } = await createHouseholdWithAnimal(actor);
      const adjust = (delta: number, unit: string) =>
        actor.client.inventory.adjust.mutate({
          householdId: household.id,
          medicationId: medication.id,
          delta,
          unit,
        });
      const before = await tableChecksums(app);
      const relabel = await failure(adjust(5, 'ml'));
      expect(relabel).toMatchObject({ status: 409, userFriendly: { type: 'CONFLICT' } });
      expect(relabel.userFriendly!.message).toContain('tablet');
      expect(await tableChecksums(app)).toEqual(before);
      const adjusted = await adjust(-4, 'tablet');
      expect([adjusted.unit, Number(adjusted.quantityOnHand)]).toEqual(['tablet', 9996]);
    });

    it('takes no dose on a paused or ended regimen (CONFLICT), but still answers a retry', async () => {
      const actor = await signUp(app.url, 'paused');
      const { animal, medication, regimen } = await createHouseholdWithAnimal(actor);
      const given = randomUUID();
      await actor.client.administrations.record.mutate({ regimenId: regimen.id, idempotencyKey: given });
      await actor.client.regimens.setActive.mutate({ regimenId: regimen.id, active: false });
      const before = await tableChecksums(app);
      const paused = await failure(
        actor.client.administrations.record.mutate({ regimenId: regimen.id, idempotencyKey: randomUUID() }),
      );
      expect(paused).toMatchObject({
        status: 409,
        userFriendly: { type: 'CONFLICT', reason: 'regimen-inactive' },
      });
      const retried = applied(
        await actor.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: given,
        }),
      );
      expect(retried.created).toBe(false);
      expect(await tableChecksums(app)).toEqual(before);

      const day = 24 * 3_600_000;
      const course = await actor.client.regimens.create.mutate({
        animalId: animal.id,
        medicationId: medication.id,
        doseAmount: 1,
        doseUnit: 'tablet',
        schedule: { kind: 'times_per_day', timesPerDay: 1 },
        startsAt: new Date(Date.now() - 3 * day),
        endsAt: new Date(Date.now() - day),
      });
      const ended = await failure(
        actor.client.administrations.record.mutate({ regimenId: course.id, idempotencyKey: randomUUID() }),
      );
      expect(ended).toMatchObject({
        status: 409,
        userFriendly: { type: 'CONFLICT', reason: 'regimen-ended' },
      });
      // A dose given while the course ran may still be recorded afterwards.
      const late = applied(
        await actor.client.administrations.record.mutate({
          regimenId: course.id,
          idempotencyKey: randomUUID(),
          recordedAt: new Date(Date.now() - 2 * day),
        }),
      );
      expect(late.created).toBe(true);
    });

    it('deletes an animal with its whole history', async () => {
      const owner = await signUp(app.url, 'deleter');
      const { household, animal, regimen } = await createHouseholdWithAnimal(owner);
      await owner.client.administrations.record.mutate({
        regimenId: regimen.id,
        idempotencyKey: randomUUID(),
      });
      await owner.client.imports.administrations.mutate({
        householdId: household.id,
        rows: [
          {
            regimenId: regimen.id,
            idempotencyKey: randomUUID(),
            recordedAt: new Date(Date.now() - 3_600_000),
          },
        ],
      });
      const other = await owner.client.animals.create.mutate({
        householdId: household.id,
        name: 'Stays',
        species: 'cat',
      });
      expect(await owner.client.animals.delete.mutate({ animalId: animal.id })).toEqual({ deleted: 1 });
      const left = await queryRows<{ regimens: number; doses: number }>(
        app,
        sql`select (select count(*)::int from regimens where animal_id = ${animal.id}) as regimens,
                   (select count(*)::int from administrations where animal_id = ${animal.id}) as doses`,
      );
      expect(left).toEqual([{ regimens: 0, doses: 0 }]);
      expect((await owner.client.animals.list.query({ householdId: household.id })).map((a) => a.id)).toEqual(
        [other.id],
      );
      expect(await failure(owner.client.animals.get.query({ animalId: animal.id }))).toMatchObject({
        status: 404,
      });
    });

    it('exports the doses as JSON and as CSV, with formula-like text neutralised', async () => {
      const actor = await signUp(app.url, 'exporter');
      const { household, regimen } = await createHouseholdWithAnimal(actor);
      const notes = ['=HYPERLINK("http://evil.example","click")', '+1+1', 'plain, with a comma'];
      for (const note of notes)
        await actor.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: randomUUID(),
          notes: note,
        });
      const json = await actor.client.reports.export.query({ householdId: household.id });
      expect(json.format).toBe('json');
      expect(json.format === 'json' && json.rows.map((row) => row.notes).sort()).toEqual([...notes].sort());
      const csv = await actor.client.reports.export.query({ householdId: household.id, format: 'csv' });
      expect(csv.format).toBe('csv');
      const lines = csv.format === 'csv' ? csv.csv.split('\n') : [];
      expect(lines[0]).toBe('recorded_at,animal,medication,dose_amount,dose_unit,notes,idempotency_key');
      expect(lines).toHaveLength(4);
      const body = lines.slice(1).join('\n');
      expect(body).toContain('"\'=HYPERLINK(""http://evil.example"",""click"")"');
      expect(body).toContain(",'+1+1,");
      expect(body).toContain(',"plain, with a comma",');
      expect(lines.slice(1).every((line) => !/(^|,)[=+\-@]/.test(line))).toBe(true);
    });

    it('a retried dose is recorded once; the same key with another dose is a CONFLICT', async () => {
      const a = await signUp(app.url, 'retrier');
      const { regimen } = await createHouseholdWithAnimal(a);
      const key = randomUUID();
      const first = applied(
        await a.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: key,
        }),
      );
      const again = applied(
        await a.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: key,
        }),
      );
      expect([first.created, again.created, again.administration.id === first.administration.id]).toEqual([
        true,
        false,
        true,
      ]);
      const before = await tableChecksums(app);
      const different = await failure(
        a.client.administrations.record.mutate({ regimenId: regimen.id, idempotencyKey: key, doseAmount: 2 }),
      );
      expect(different).toMatchObject({
        status: 409,
        userFriendly: { type: 'CONFLICT', reason: 'idempotency-key-reused' },
      });
      expect(await tableChecksums(app)).toEqual(before);
      expect((await countsByKey(app, [key])).get(key)).toBe(1);
    });

    it('keeps a dose amount as entered: 4 decimals are retried as one dose, 5 are a VALIDATION error that changes nothing', async () => {
      const a = await signUp(app.url, 'decimals');
      const { household, regimen } = await createHouseholdWithAnimal(a);
      const key = randomUUID();
      const first = applied(
        await a.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: key,
          doseAmount: '0.3333',
        }),
      );
      const retried = applied(
        await a.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: key,
          doseAmount: 0.3333,
        }),
      );
      expect([first.created, retried.created, first.administration.doseAmount]).toEqual([
        true,
        false,
        '0.3333',
      ]);
      const row = {
        regimenId: regimen.id,
        idempotencyKey: randomUUID(),
        recordedAt: new Date(Date.now() - 3_600_000),
        doseAmount: '1.2340',
      };
      const rows = { householdId: household.id, rows: [row] };
      expect(await a.client.imports.administrations.mutate(rows)).toEqual({
        received: 1,
        inserted: 1,
        skipped: 0,
      });
      expect(
        await a.client.imports.administrations.mutate({ ...rows, rows: [{ ...row, doseAmount: '1.234' }] }),
      ).toEqual({ received: 1, inserted: 0, skipped: 1 });

      const before = await tableChecksums(app);
      const refusals = [
        await failure(
          a.client.administrations.record.mutate({
            regimenId: regimen.id,
            idempotencyKey: randomUUID(),
            doseAmount: '0.33333',
          }),
        ),
        await failure(
          a.client.administrations.record.mutate({
            regimenId: regimen.id,
            idempotencyKey: key,
            doseAmount: 0.33333,
          }),
        ),
        await failure(
          a.client.imports.administrations.mutate({
            ...rows,
            rows: [{ ...row, idempotencyKey: randomUUID(), doseAmount: '1.23456' }],
          }),
        ),
      ];
      expect(
        refusals.map((refused) => ({
          status: refused.status,
          type: refused.userFriendly?.type,
          issues: refused.userFriendly?.issues?.map((issue) => issue.path),
        })),
      ).toEqual([
        { status: 400, type: 'VALIDATION', issues: ['doseAmount'] },
        { status: 400, type: 'VALIDATION', issues: ['doseAmount'] },
        { status: 400, type: 'VALIDATION', issues: ['rows.0.doseAmount'] },
      ]);
      expect(refusals[0]!.userFriendly!.issues![0]!.message).toMatch(/at most 4 decimal places/);
      expect(await tableChecksums(app)).toEqual(before);
    });

    it("one household's idempotency keys neither block nor reveal another's doses", async () => {
      const a = await signUp(app.url, 'household-a');
      const b = await signUp(app.url, 'household-b');
      const worldA = await createHouseholdWithAnimal(a);
      const worldB = await createHouseholdWithAnimal(b);
      const recorded = randomUUID();
      const imported = randomUUID();
      const recordedAt = new Date(Date.now() - 3_600_000);
      // B uses both keys first...
      await b.client.administrations.record.mutate({
        regimenId: worldB.regimen.id,
        idempotencyKey: recorded,
      });
      await b.client.imports.administrations.mutate({
        householdId: worldB.household.id,
        rows: [{ regimenId: worldB.regimen.id, idempotencyKey: imported, recordedAt }],
      });
      // ...and A's writes with the same keys are A's own doses: written, not skipped nor refused.
      const dose = applied(
        await a.client.administrations.record.mutate({
          regimenId: worldA.regimen.id,
          idempotencyKey: recorded,
        }),
      );
      expect(dose.created).toBe(true);
      expect(dose.administration.regimenId).toBe(worldA.regimen.id);
      const row = { regimenId: worldA.regimen.id, idempotencyKey: imported, recordedAt };
      expect(
        await a.client.imports.administrations.mutate({ householdId: worldA.household.id, rows: [row] }),
      ).toEqual({ received: 1, inserted: 1, skipped: 0 });
      // A retried import skips it; the same key with another dose is refused and writes nothing.
      expect(
        await a.client.imports.administrations.mutate({ householdId: worldA.household.id, rows: [row] }),
      ).toEqual({ received: 1, inserted: 0, skipped: 1 });
      const before = await tableChecksums(app);
      const fresh = randomUUID();
      const changed = await failure(
        a.client.imports.administrations.mutate({
          householdId: worldA.household.id,
          rows: [
            { regimenId: worldA.regimen.id, idempotencyKey: fresh, recordedAt },
            { ...row, recordedAt: new Date(recordedAt.getTime() - 60_000) },
          ],
        }),
      );
      expect(changed).toMatchObject({
        status: 409,
        userFriendly: { type: 'CONFLICT', reason: 'idempotency-key-reused' },
      });
      expect(await tableChecksums(app)).toEqual(before);
      expect(Object.fromEntries(await countsByKey(app, [recorded, imported, fresh]))).toEqual({
        [recorded]: 2,
        [imported]: 2,
        [fresh]: 0,
      });
      const history = await a.client.administrations.history.query({ animalId: worldA.animal.id });
      expect(history.value.map((entry) => entry.idempotencyKey).sort()).toEqual([recorded, imported].sort());
    });

    it('under 200+ concurrent calls of mixed priorities: no connection error, the budget holds, HIGH goes first, every acknowledged dose exactly once', async () => {
      const users = await Promise.all(Array.from({ length: 8 }, (_, i) => signUp(app.url, `load-${i}`)));
      const worlds = await Promise.all(users.map((user) => createHouseholdWithAnimal(user)));
      const stockBefore = await Promise.all(worlds.map((world) => stockOf(app, { world })));
      await Promise.all(users.map((user) => user.client.auth.me.query()));
      app.safeguards.queue.resetPeak();
      const sampler = target.server?.sampleConnections();
      const refusals = watchConnectionRefusals(app.safeguards);

      type Call = {
        priority: 'HIGH' | 'NORMAL' | 'LOW' | 'BATCH';
        user: number;
        outcome: Outcome<unknown>;
        keys: string[];
      };
      const calls: Array<Promise<Call>> = [];
      const track = (
        priority: Call['priority'],
        user: number,
        keys: string[],
        call: () => Promise<unknown>,
      ) => {
        calls.push(outcome(call()).then((result) => ({ priority, user, outcome: result, keys })));
      };
      // 8 users × (4 bulk imports of 10 rows, 4 reports, 8 history reads, 12 dose recordings) = 224 calls
      // at once, the lowest priorities sent first: served in arrival order, the imports would finish
      // first; only the priorities can put the recordings ahead.
      users.forEach((user, index) => {
        const world = worlds[index]!;
        for (let i = 0; i < 4; i++) {
          const rows = Array.from({ length: 10 }, (_, row) => ({
            regimenId: world.regimen.id,
            idempotencyKey: randomUUID(),
            recordedAt: new Date(Date.now() - (row + 1) * 3_600_000),
          }));
          track(
            'BATCH',
            index,
            rows.map((row) => row.idempotencyKey),
            () => user.client.imports.administrations.mutate({ householdId: world.household.id, rows }),
          );
        }
        for (let i = 0; i < 4; i++)
          track('LOW', index, [], () =>
            user.client.reports.adherence.query({ householdId: world.household.id, days: 7 }),
          );
        for (let i = 0; i < 8; i++)
          track('NORMAL', index, [], () =>
            user.client.administrations.history.query({ animalId: world.animal.id, limit: 20 }),
          );
        for (let i = 0; i < 12; i++) {
          const key = randomUUID();
          track('HIGH', index, [key], () =>
            user.client.administrations.record.mutate({ regimenId: world.regimen.id, idempotencyKey: key }),
          );
        }
      });
      const results = await Promise.all(calls);
      const connections = sampler ? await sampler.stop() : undefined;
      refusals.stop();
      expect(results.length).toBeGreaterThanOrEqual(200);

      // 1. No client ever sees a connection-limit error; every failure is typed.
      const failures = results
        .filter((call) => !call.outcome.ok)
        .map((call) => call.outcome as Extract<Outcome<unknown>, { ok: false }>);
      for (const failed of failures) {
        expect(failed.userFriendly).toBeDefined();
        expect(failed.userFriendly!.reason).not.toBe('too-many-connections');
        expect(JSON.stringify(failed.userFriendly)).not.toMatch(/too many (connections|clients)|53300/i);
      }
      // 2. The budget holds: never more than 8 slots, nor (on a real server) 8 backends of the role.
      // The role's limit is 8 too, so the server cannot show a 9th backend: a pool trying to open one
      // would meet 53300, which the safeguards retry without a client noticing. So count those.
      expect(app.safeguards.queue.stats().peakActive).toBeLessThanOrEqual(8);
      expect({ retried: refusals.retried, failed: refusals.failed }).toEqual({ retried: 0, failed: 0 });
      if (connections && target.server) {
        expect(connections.errors).toBe(0);
        expect(connections.peak).toBeGreaterThan(0);
        expect(connections.peak).toBeLessThanOrEqual(target.server.connectionLimit);
      }
      // 3. HIGH goes first: every dose recording succeeds, and the server grants its operations a slot
      // ahead of the bulk imports'. Measured on the server, by the queue: the client's latencies depend
      // on when this test's own busy event loop got round to sending each request and reading its
      // answer. The imports were sent first, so served in arrival order they would wait the least.
      const succeeded = (priority: Call['priority']) =>
        results.filter((call) => call.priority === priority && call.outcome.ok);
      expect(succeeded('HIGH')).toHaveLength(users.length * 12);
      expect(succeeded('BATCH').length).toBeGreaterThan(0);
      if (target.server) {
        // (PGlite runs each statement on this thread's event loop: the requests are worked off one by
        // one, the queue never fills, and there is no order to check.)
        const waits = app.safeguards.queue.stats().waitMsByPriority;
        expect(waits.HIGH.count).toBeGreaterThanOrEqual(users.length * 12);
        expect(waits.BATCH.count).toBeGreaterThan(0);
        expect(waits.BATCH.p95).toBeGreaterThan(2 * waits.HIGH.p95);
      }

      // 4. Every acknowledged dose is in the database exactly once; refused imports wrote nothing.
      const acknowledged = results.filter((call) => call.outcome.ok).flatMap((call) => call.keys);
      const refused = results.filter((call) => !call.outcome.ok).flatMap((call) => call.keys);
      const counts = await countsByKey(app, [...acknowledged, ...refused]);
      for (const key of acknowledged) expect(counts.get(key)).toBe(1);
      for (const key of refused) expect(counts.get(key)).toBe(0);
      // No row count can exceed 1 (the key is unique per regimen), so "not doubled" is checked on the
      // stock: each recorded dose draws its amount down once, so per user the stock drawn down is the
      // number of distinct doses acknowledged (bulk imports record past doses and draw nothing).
      const dosesDrawn = async () =>
        Promise.all(
          worlds.map(
            async (world, user) =>
              (stockBefore[user]! - (await stockOf(app, { world }))) / Number(world.regimen.doseAmount),
          ),
        );
      const dosesAcknowledged = users.map(
        (_, user) =>
          new Set(
            results
              .filter((call) => call.priority === 'HIGH' && call.user === user && call.outcome.ok)
              .flatMap((call) => call.keys),
          ).size,
      );
      expect(await dosesDrawn()).toEqual(dosesAcknowledged);
      // Sending every recording again changes nothing.
      const recordings = results.filter((call) => call.priority === 'HIGH');
      const replays = await Promise.all(
        recordings.map((call) =>
          users[call.user]!.client.administrations.record.mutate({
            regimenId: worlds[call.user]!.regimen.id,
            idempotencyKey: call.keys[0]!,
          }),
        ),
      );
      expect(replays.every((replay) => !applied(replay).created)).toBe(true);
      const recorded = recordings.map((call) => call.keys[0]!);
      const after = await countsByKey(app, recorded);
      for (const key of recorded) expect(after.get(key)).toBe(1);
      expect(await dosesDrawn()).toEqual(dosesAcknowledged);
    });
  });
}
