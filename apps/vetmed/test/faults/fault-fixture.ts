import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type FaultProxy,
  startFaultProxy,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { loadEnv } from '../../src/env.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';

/** A real PostgreSQL, our fault proxy in front of it, and the app talking to it through the proxy. */
export interface FaultTarget {
  server: TestPostgres;
  proxy: FaultProxy;
  app: RunningVetmed;
  /** A superuser connection straight to the server (not through the proxy, not counted against the role). */
  admin: postgres.Sql;
  stop(): Promise<void>;
}

/**
 * Starts the target. Rate limits are out of the way (the faults are the subject), deadlines are short
 * so the scenarios are quick, and the breaker's open time is short (CIRCUIT_TIMEOUT_MS) for the same reason.
 */
export async function startFaultTarget(env: Record<string, string> = {}): Promise<FaultTarget> {
  const server = await startTestPostgres({
    appRoleConnectionLimit: 8,
    postgresFlags: ['-c', 'client_connection_check_interval=100ms'],
  });
  const proxy = await startFaultProxy({ targetHost: server.host, targetPort: server.port });
  const admin = postgres(server.adminUrl, { max: 2, onnotice: () => undefined });
  const config = loadEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    TRUST_PROXY: '127.0.0.1',
    DATABASE_URL: proxy.proxyUrl(server.appUrl),
    REQUEST_TIMEOUT_MS: '3000',
    SHUTDOWN_DRAIN_MS: '1000',
    CIRCUIT_TIMEOUT_MS: '5000',
    ...Object.fromEntries(
      ['API', 'AUTH', 'HEAVY', 'RECORDING', 'REPORTS'].map((policy) => [
        `RATE_LIMIT_${policy}_MAX`,
        '1000000',
      ]),
    ),
    ...env,
  });
  const app = await startVetmed(config, { log: createLogger('silent') });
  return {
    server,
    proxy,
    app,
    admin,
    async stop() {
      proxy.resume();
      proxy.dropNewConnections(false);
      proxy.setLatency(0);
      await app.stop();
      await admin.end({ timeout: 1 });
      await proxy.close();
      await server.stop();
    },
  };
}

/** What the reliability report shows for one scenario. */
export interface ScenarioFigures {
  scenario: string;
  load: string;
  faults: string;
  requests: number;
  acknowledgedWrites: number;
  unacknowledgedWrites: number;
  lostWrites: number;
  duplicatedWrites: number;
  /** Longest time from the end of a fault to the first success after it, in ms (null when not measured). */
  recoveryMs: number | null;
  notes: string[];
  measuredAt: string;
}

const resultsDir = resolve(import.meta.dirname, '../../../../.reports/reliability');

/** Saves a scenario's figures for `pnpm reliability:report`, which renders docs/reliability.md from the last run. */
export function recordScenario(id: string, figures: Omit<ScenarioFigures, 'measuredAt'>): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    resolve(resultsDir, `${id}.json`),
    `${JSON.stringify({ ...figures, measuredAt: new Date().toISOString() }, null, 2)}\n`,
  );
}
