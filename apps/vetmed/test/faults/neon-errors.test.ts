import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyError, createSafeguards, SafeguardError } from '@db-safeguards/core';
import { neon, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { loadEnv } from '../../src/env.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';
import { failure } from '../app/app-client.js';
import { type NeonTestTarget, startNeonTestTarget } from '../support/neon-test-target.js';
import { recordScenario } from './fault-fixture.js';
import { createLoadUsers } from './steady-load.js';

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

  beforeAll(async () => {
    database = await startNeonTestTarget();
    refusing = await startRefusingNeonProxy();
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
      RATE_LIMIT_AUTH_MAX: '1000',
    });
    app = await startVetmed(config, {
      log: createLogger('silent'),
      database: { neonConfig: settings, idleTimeoutSeconds: 0 },
    });
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await refusing?.close();
    await database?.stop();
  });

  it("Neon's proxy refusing connections (XX000): typed 503s, retries only where Neon's message says so, the breaker opens, and the app recovers", async () => {
    const [user] = await createLoadUsers(app, 1);
    const retries: string[] = [];
    app.safeguards.onRetry((event) => retries.push(event.error.reason));
    await database.server.terminateAppBackends();
    proxyPort = refusing.port;

    const cases = [
      ["Couldn't connect to compute node", 'neon-compute-unreachable', true],
      ['Too many connections to this endpoint. Please try again later.', 'too-many-connections', true],
      [
        'The endpoint has been disabled. Enable it using Neon API and retry. (endpoint is disabled)',
        'neon-endpoint-disabled',
        false,
      ],
      [
        'Your account or project has exceeded the compute time quota. Upgrade your plan to increase limits.',
        'neon-quota-exceeded',
        false,
      ],
    ] as const;
    const seen: string[] = [];
    for (const [message, reason, retried] of cases) {
      refusing.setMessage(message);
      app.safeguards.breakers.resetAll();
      retries.length = 0;
      const refused = await failure(
        user!.client.administrations.history.query({ animalId: user!.world.animal.id }),
      );
      expect(refused.status).toBe(503);
      expect(refused.userFriendly).toMatchObject({ type: 'CONNECTION', reason });
      expect(retries.includes(reason)).toBe(retried);
      const logged = app.safeguards.errorLog.recent({ limit: 1, type: 'CONNECTION' })[0]!;
      expect(logged).toMatchObject({ reason, sqlState: 'XX000' });
      seen.push(`"${message.slice(0, 40)}…" → ${reason}${retried ? ', retried' : ', not retried'}`);
    }
    // Enough of them open the breaker: then calls fail fast without touching the proxy.
    refusing.setMessage("Couldn't connect to compute node");
    app.safeguards.breakers.resetAll();
    const breakerCalls = 7;
    for (let i = 0; i < breakerCalls - 1; i++)
      await failure(user!.client.administrations.history.query({ animalId: user!.world.animal.id }));
    const open = await failure(
      user!.client.administrations.history.query({ animalId: user!.world.animal.id }),
    );
    expect(open.userFriendly).toMatchObject({ type: 'CIRCUIT_BREAKER', retryable: true });
    // The proxy is healthy again: within the breaker's open time the app serves.
    proxyPort = database.proxy.port;
    const back = Date.now();
    let recoveredAt: number | undefined;
    let recoveryCalls = 0;
    while (Date.now() - back < 10_000) {
      recoveryCalls++;
      const attempt = await user!.client.administrations.history
        .query({ animalId: user!.world.animal.id })
        .then(
          () => true,
          () => false,
        );
      if (attempt) {
        recoveredAt = Date.now();
        break;
      }
      await sleep(200);
    }
    expect(recoveredAt).toBeDefined();
    expect(recoveredAt! - back).toBeLessThanOrEqual(2000 + 2000);
    recordScenario('6-neon-errors', {
      scenario: "Neon's proxy refusing connections (XX000 with Neon's messages) and HTTP 500 bodies",
      load: 'history reads over HTTP through the app on the Neon WebSocket driver',
      faults:
        'a stand-in Neon proxy answering the startup message with FATAL XX000; neon() HTTP 500 JSON (the ErrorEvent of an unreachable proxy: packages/core/test/driver-errors.test.ts)',
      requests: cases.length + breakerCalls + recoveryCalls,
      acknowledgedWrites: 0,
      unacknowledgedWrites: 0,
      lostWrites: 0,
      duplicatedWrites: 0,
      stockDrawn: null,
      distinctDoses: null,
      recoveryMs: recoveredAt! - back,
      notes: [
        ...seen,
        'the breaker opened after repeated refusals and the app served again once the proxy was healthy',
      ],
    });
  }, 60_000);

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
      expect(classifyError(raw)).toMatchObject({
        type: 'CONNECTION',
        reason: 'neon-compute-unreachable',
        retryable: true,
      });
      body = JSON.stringify({ message: 'sorry, too many clients already', code: '53300' });
      expect(classifyError(await sql`select 1`.catch((error: unknown) => error))).toMatchObject({
        type: 'CONNECTION',
        reason: 'too-many-connections',
      });

      const safeguards = createSafeguards({ retry: { baseDelayMs: 10, maxAttempts: 3 } });
      requests = 0;
      const failed = await safeguards
        .run(() => sql`select 1`, { operationType: 'read' })
        .catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(SafeguardError);
      expect(failed).toMatchObject({ type: 'CONNECTION', reason: 'too-many-connections' });
      expect(requests).toBe(3);
      expect(JSON.stringify(failed)).not.toContain('secret');
    } finally {
      neonConfig.fetchEndpoint = saved;
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
