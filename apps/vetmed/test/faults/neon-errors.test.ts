import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyError, createSafeguards, SafeguardError } from '@db-safeguards/core';
import { freePort } from '@db-safeguards/test-postgres';
import { neon, neonConfig } from '@neondatabase/serverless';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { loadEnv } from '../../src/env.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';
import { type NeonTestTarget, startNeonTestTarget } from '../support/neon-test-target.js';
import { countDoseAttempts, rateLimitsOutOfTheWay, recordScenario } from './fault-fixture.js';
import { expectAllTyped, finishScenario, recoveryAfter } from './scenario-checks.js';
import { type CallRecord, createLoadUsers, startSteadyLoad, watchRetries } from './steady-load.js';
import { createTeardown } from './teardown.js';

/** A PostgreSQL ErrorResponse message: what Neon's proxy sends when it refuses a connection. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat(
    [
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', code],
      ['M', message],
    ].map(([field, value]) => Buffer.from(`${field}${value}\0`, 'utf8')),
  );
  const body = Buffer.concat([fields, Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/**
 * A stand-in for Neon's proxy that refuses every connection the way Neon does: it reads the
 * driver's startup message and answers with a FATAL XX000 error carrying one of Neon's messages.
 */
async function startRefusingNeonProxy() {
  let message = "Couldn't connect to compute node";
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (socket) => {
    socket.once('message', () => {
      socket.send(errorResponse('XX000', message));
      setTimeout(() => socket.close(), 10);
    });
  });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    setMessage(next: string) {
      message = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Neon-style errors at the driver boundary, classified as the shared facts describe', () => {
  /** The real database behind our ws-to-TCP proxy (`database.proxy`), where the app normally connects. */
  let database: NeonTestTarget;
  let refusing: Awaited<ReturnType<typeof startRefusingNeonProxy>>;
  let app: RunningVetmed;
  /** Which proxy new connections of the app's Neon Pool go to. */
  let proxyPort: number;

  /** What the suite has started, closed after it (or as far as it got, when its setup failed). */
  const teardown = createTeardown();

  beforeAll(async () => {
    database = teardown.add('PostgreSQL and its Neon proxy', await startNeonTestTarget(), (started) =>
      started.stop(),
    );
    refusing = teardown.add('refusing Neon proxy', await startRefusingNeonProxy(), (started) =>
      started.close(),
    );
    proxyPort = database.proxy.port;
    const settings = database.neonConfig;
    settings.wsProxy = (host: string, port: number | string) =>
      `127.0.0.1:${proxyPort}/v2?address=${host}:${port}`;
    const config = loadEnv({
      PORT: '0',
      LOG_LEVEL: 'silent',
      SEED_DEMO: 'false',
      TRUST_PROXY: '127.0.0.1',
      DATABASE_URL: database.server.appUrl,
      DB_DRIVER: 'neon',
      CIRCUIT_TIMEOUT_MS: '2000',
      REQUEST_TIMEOUT_MS: '3000',
      // Neon's errors are the subject, not the machine's load: no 503s of load shedding (as in the fixture).
      LOAD_SHEDDING: 'off',
      ...rateLimitsOutOfTheWay,
    });
    app = teardown.add(
      'app',
      await startVetmed(config, {
        log: createLogger('silent'),
        database: { neonConfig: settings, idleTimeoutSeconds: 0 },
      }),
      (started) => started.stop(),
    );
  }, 60_000);

  afterAll(() => teardown.close());

  it("Neon's proxy refusing connections (XX000) or unreachable (ErrorEvent), under load: typed 503s, retries only where Neon's message says so, the breaker opens, the app recovers, no write lost or doubled", async () => {
    const users = await createLoadUsers(app, 4);
    const retries = watchRetries(app);
    const admin = teardown.add(
      'admin connection',
      postgres(database.server.adminUrl, { max: 1, onnotice: () => undefined }),
      (sql) => sql.end({ timeout: 1 }),
    );
    const committedAttempts = await countDoseAttempts(admin);
    const unreachablePort = await freePort();
    // New connections from now on: every case below reaches the stand-in (or nothing) afresh.
    await database.server.terminateAppBackends();

    const cases = [
      { message: "Couldn't connect to compute node", reason: 'neon-compute-unreachable', retried: true },
      {
        message: 'Too many connections to this endpoint. Please try again later.',
        reason: 'too-many-connections',
        retried: true,
      },
      {
        message: 'The endpoint has been disabled. Enable it using Neon API and retry. (endpoint is disabled)',
        reason: 'neon-endpoint-disabled',
        retried: false,
      },
      {
        message:
          'Your account or project has exceeded the compute time quota. Upgrade your plan to increase limits.',
        reason: 'neon-quota-exceeded',
        retried: false,
      },
      // Nothing listening where the WebSocket should go: the driver rejects with an ErrorEvent.
      { message: undefined, reason: 'connection-refused', retried: true },
    ] as const;
    // What the driver itself rejected with, behind each retried error (the cause chain, unwrapped).
    const driverErrors: unknown[] = [];
    app.safeguards.onRetry((event) => {
      let cause: unknown = event.error.cause;
      while (cause instanceof Error && cause.cause !== undefined) cause = cause.cause;
      driverErrors.push(cause);
    });
    const allRecords: CallRecord[] = [];
    const seen: string[] = [];
    for (const { message, reason, retried } of cases) {
      if (message === undefined) proxyPort = unreachablePort;
      else {
        refusing.setMessage(message);
        proxyPort = refusing.port;
      }
      app.safeguards.breakers.resetAll();
      const mark = retries.retries.length;
      const driverMark = driverErrors.length;
      const caseStarted = Date.now();
      const load = startSteadyLoad(users, 10);
      await sleep(1500);
      const records = await load.stop();
      allRecords.push(...records);

      expectAllTyped(records);
      expect(records.length).toBeGreaterThanOrEqual(10);
      // Nothing gets through a proxy that refuses everything: each call fails with Neon's reason, or,
      // once those failures have opened the breaker, at once with CIRCUIT_BREAKER.
      expect(records.filter((r) => r.ok)).toEqual([]);
      for (const call of records) {
        // A retried refusal can also outlast the call's 3 s deadline on a busy machine: then, and only
        // then, the answer is 504 TIMEOUT.
        if (call.status === 504) {
          expect(call.userFriendly?.type).toBe('TIMEOUT');
          expect(call.endedAt - call.startedAt).toBeGreaterThanOrEqual(2900);
          continue;
        }
        expect(call.status).toBe(503);
        expect(
          call.userFriendly?.type === 'CIRCUIT_BREAKER' ||
            (call.userFriendly?.type === 'CONNECTION' && call.userFriendly.reason === reason),
          `${call.userFriendly?.type} ${call.userFriendly?.reason}`,
        ).toBe(true);
      }
      // Neon's reason reaches the clients, or, when retries and the breaker answer first, the error log
      // and the retry events: either way each refusal is classified by its message.
      const typed = records.filter((r) => r.userFriendly?.type === 'CONNECTION');
      const caseRetries = retries.retries.slice(mark).filter((r) => r.reason === reason);
      const logged = app.safeguards.errorLog
        .recent({ type: 'CONNECTION' })
        .filter((entry) => Date.parse(entry.at) >= caseStarted);
      for (const entry of logged)
        expect(entry).toMatchObject(message === undefined ? { reason } : { reason, sqlState: 'XX000' });
      expect(typed.length + logged.length + caseRetries.length).toBeGreaterThan(0);
      expect(caseRetries.length > 0).toBe(retried);
      expect(retries.retries.slice(mark).filter((r) => r.reason !== reason)).toEqual([]);
      if (message === undefined) {
        // The driver's own rejection was a WebSocket ErrorEvent, not an Error.
        const events = driverErrors.slice(driverMark);
        expect(events.length).toBeGreaterThan(0);
        for (const event of events) {
          expect(event).not.toBeInstanceOf(Error);
          expect((event as { type?: unknown }).type).toBe('error');
        }
      }
      seen.push(
        `${message === undefined ? `no proxy listening (the driver rejected with a WebSocket ErrorEvent, ${driverErrors.length - driverMark} times)` : `"${message.slice(0, 40)}…"`} → ${reason}: ${typed.length} of ${records.length} calls answered 503 CONNECTION ${reason}, the other ${records.length - typed.length} 503 CIRCUIT_BREAKER; ${logged.length} logged as ${reason}${message === undefined ? '' : ' (XX000)'}; ${caseRetries.length} server-side retries${retried ? '' : ' (never retried, as Neon says not to)'}`,
      );
    }

    // Refusals open the breaker; once the proxy is healthy the app serves again within its open time.
    refusing.setMessage("Couldn't connect to compute node");
    proxyPort = refusing.port;
    app.safeguards.breakers.resetAll();
    const breaker = app.safeguards.breakers.get('primary');
    const load = startSteadyLoad(users, 10);
    await expect.poll(() => breaker.state, { timeout: 5000 }).toBe('OPEN');
    proxyPort = database.proxy.port;
    const back = Date.now();
    await sleep(breaker.options.openDurationMs + 2000);
    const records = await load.stop();
    allRecords.push(...records);
    expectAllTyped(records);
    const recovery = recoveryAfter(records, back);
    expect(recovery, 'served again once the proxy was healthy').not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(breaker.options.openDurationMs + 2000);

    await finishScenario(
      '6-neon-errors',
      { app, committedAttempts, users, records: allRecords, retries },
      {
        scenario:
          "Neon-style errors: Neon's proxy refusing connections (XX000 with Neon's messages) or not there at all, on the Neon WebSocket driver",
        load: '10 calls/s over HTTP (dose recordings and history reads), 4 users, 1.5 s per refusal',
        faults:
          'a stand-in Neon proxy answering the startup message with FATAL XX000, four messages; then no proxy listening (ErrorEvent); then the real proxy back',
        recoveryMs: recovery,
        notes: () => [
          ...seen,
          `the breaker opened under the refusals and the app served again ${recovery} ms after the proxy was healthy (open time ${breaker.options.openDurationMs} ms)`,
        ],
      },
    );
  }, 90_000);

  it('Neon HTTP: `Server error (HTTP status 500): {json}` is classified from its JSON body, and retried for reads', async () => {
    let body = JSON.stringify({ message: "Couldn't connect to compute node" });
    let requests = 0;
    const http: Server = createServer((_req, res) => {
      requests++;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(body);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const saved = neonConfig.fetchEndpoint;
    neonConfig.fetchEndpoint = () => `http://127.0.0.1:${(http.address() as AddressInfo).port}/sql`;
    try {
      const sql = neon('postgres://app:secret@ep-test-123456.us-east-2.aws.neon.tech/db');
      const raw = await sql`select 1`.catch((error: unknown) => error);
      expect((raw as Error).message).toMatch(/^Server error \(HTTP status 500\): \{/);
      const first = classifyError(raw);
      expect(first).toMatchObject({
        type: 'CONNECTION',
        reason: 'neon-compute-unreachable',
        retryable: true,
      });
      body = JSON.stringify({ message: 'sorry, too many clients already', code: '53300' });
      const second = classifyError(await sql`select 1`.catch((error: unknown) => error));
      expect(second).toMatchObject({
        type: 'CONNECTION',
        reason: 'too-many-connections',
      });
      const direct = requests;

      const safeguards = createSafeguards({ retry: { baseDelayMs: 10, maxAttempts: 3 } });
      requests = 0;
      const failed = await safeguards
        // 53300 is capacity, not an outage: retried until the call's deadline (here 2 s), with backoff
        // capped at 1 s and outside maxAttempts and the retry budget; never a breaker failure.
        .run(() => sql`select 1`, { operationType: 'read', timeoutMs: 2000 })
        .catch((error: unknown) => error)
        .finally(() => safeguards.close());
      expect(failed).toBeInstanceOf(SafeguardError);
      expect(failed).toMatchObject({ type: 'CONNECTION', reason: 'too-many-connections' });
      const safeguardedRequests = requests;
      const served = direct + safeguardedRequests;
      expect(safeguardedRequests).toBeGreaterThanOrEqual(3);
      // ...and no more than the doubling backoff (10 ms, equal jitter) fits in 2 s: no tight loop
      // against a full database.
      expect(safeguardedRequests).toBeLessThanOrEqual(15);
      expect(JSON.stringify(failed)).not.toContain('secret');
      recordScenario('6b-neon-http', {
        scenario: 'Neon HTTP driver: `Server error (HTTP status 500): {json}` from the SQL endpoint',
        load: `${served} requests from \`neon()\`: two direct queries, then one read through the safeguards`,
        faults: "a stand-in SQL endpoint answering HTTP 500 with a JSON body (Neon's message, then a 53300)",
        requests: served,
        acknowledgedWrites: 0,
        unacknowledgedWrites: 0,
        lostWrites: 0,
        duplicatedWrites: 0,
        stockDrawn: null,
        distinctDoses: null,
        recoveryMs: null,
        notes: [
          `"Couldn't connect to compute node" in the body → ${first.type} ${first.reason} (retryable: ${first.retryable})`,
          `"sorry, too many clients already" with code 53300 in the body → ${second.type} ${second.reason}`,
          `the safeguarded read was tried ${safeguardedRequests} times within its 2 s deadline (a refusal as full is retried until the deadline, outside maxAttempts and the retry budget), then failed as ${(failed as SafeguardError).type} ${(failed as SafeguardError).reason}; the connection string's password appears nowhere in the error`,
        ],
      });
    } finally {
      neonConfig.fetchEndpoint = saved;
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
