/**
 * Load test of the running sample app over HTTP (tRPC client), open loop.
 *
 *   pnpm loadtest                                  against http://127.0.0.1:3000 (start it with TRUST_PROXY=127.0.0.1)
 *   pnpm loadtest -- --start postgres --rate 400 --duration 20 --out report.json --svg latency.svg
 *
 * Options: --url URL | --start pglite|postgres, --users 20, --rate 100 (requests/s), --duration 20 (s),
 * --mix record=4,list=4,report=1,import=1, --max-in-flight 5000, --unlimited (with --start: rate limits
 * out of the way, to load the connection budget), --db-latency MS (with --start postgres: a proxy delays
 * every chunk MS ms in each direction, so each round trip to the database takes 2 × MS ms longer, as a
 * remote database such as Neon would), --pg-admin-url URL --pg-role
 * ROLE (count the role's backends on a server you run), --metrics-token TOKEN (the app's METRICS_TOKEN, to
 * read its CPU and event-loop lag from /metrics during the run; with --start the tool sets one itself),
 * --out FILE.json, --svg FILE.svg, --app-env KEY=VALUE,... (with --start: more of the app's variables,
 * e.g. LOAD_SHEDDING=off).
 *
 *   pnpm loadtest -- --instances 4 [--clients 20] [--duration 10] [--rounds 3] [--out docs/multi-instance.json] [--trace-kills DIR]
 *
 * Several sample-app processes on one PostgreSQL (app role CONNECTION LIMIT 8), closed-loop clients,
 * without and with Redis, against one instance with all the clients in the same run; then, with
 * Redis, Redis stopped 10 s mid-run, one instance SIGKILLed mid-run, and one user's rate limit spread
 * over every instance. Prints the figures and the issue's targets (see multi-instance/).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type ConnectionSampler,
  startConnectionSampler,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import { outputPath } from '../output-path.js';
import { parseAppEnv } from './app-env.js';
import { type AppProcess, killOnExit, startAppProcess, stopChild } from './app-process.js';
import { type AppProcessSampler, sampleAppProcess } from './app-process-sampler.js';
import { describeDbLatency } from './describe-db-latency.js';
import type { HealthProbeReport } from './health-prober.js';
import { buildLoadReport, formatLoadReport, renderLatencySvg } from './load-report.js';
import { formatMultiInstance } from './multi-instance/multi-instance-targets.js';
import { runMultiInstance } from './multi-instance/run-multi-instance.js';
import { runOpenLoop } from './open-loop.js';
import { createVirtualUsers, type ScenarioName, scenarioNames } from './scenarios.js';
import { type SideProcess, startSideProcess } from './side-process/side-process.js';
import type { HealthTask } from './side-process/side-task.js';
import { unlimitedRateLimitsEnv } from './unlimited-rate-limits.js';

const args = process.argv.slice(2).filter((arg) => arg !== '--');
const option = (name: string, fallback?: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : fallback;
};
const flag = (name: string) => args.includes(`--${name}`);
const number = (name: string, fallback: number) => {
  const value = Number(option(name, String(fallback)));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
};

function parseMix(text: string): Record<ScenarioName, number> {
  const mix = Object.fromEntries(scenarioNames.map((name) => [name, 0])) as Record<ScenarioName, number>;
  for (const part of text.split(',')) {
    const [name, weight] = part.split('=');
    if (!scenarioNames.includes(name as ScenarioName) || !(Number(weight) >= 0))
      throw new Error(`--mix: bad entry "${part}" (scenarios: ${scenarioNames.join(', ')})`);
    mix[name as ScenarioName] = Number(weight);
  }
  return mix;
}

/** Starts the latency proxy in a process of its own; resolves with its port. */
async function startLatencyProxy(
  host: string,
  port: number,
  latencyMs: number,
): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('./latency-proxy-process.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, '--host', host, '--port', String(port), '--latency', String(latencyMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  killOnExit(child);
  const proxyPort = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /port=(\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the latency proxy exited with ${code}`)));
  });
  return { child, port: proxyPort };
}

async function mainMultiInstance(instances: number): Promise<void> {
  const report = await runMultiInstance({
    instances,
    clientsPerInstance: number('clients', 20),
    durationMs: number('duration', 10) * 1000,
    connectionLimit: 8,
    rateLimit: 100,
    rounds: number('rounds', 3),
    log: (line) => console.error(line),
    traceKillsDir: option('trace-kills'),
  });
  console.log(formatMultiInstance(report));
  const out = option('out');
  if (out) writeFileSync(outputPath(out), `${JSON.stringify(report, null, 2)}\n`);
}

async function main(): Promise<void> {
  if (option('instances') !== undefined) return mainMultiInstance(number('instances', 4));
  const start = option('start');
  let app: AppProcess | undefined;
  let server: TestPostgres | undefined;
  let proxy: ChildProcess | undefined;
  let sampler: ConnectionSampler | undefined;
  let url = option('url', 'http://127.0.0.1:3000')!;
  let appSampler: AppProcessSampler | undefined;
  let healthProber: SideProcess<HealthTask> | undefined;
  const metricsToken = option('metrics-token', randomBytes(18).toString('hex'))!;
  try {
    if (start) {
      if (start !== 'pglite' && start !== 'postgres') throw new Error('--start must be pglite or postgres');
      const env: Record<string, string> = {
        // The tool reads the app's own CPU and event-loop lag from /metrics during the run.
        METRICS_TOKEN: metricsToken,
        TRUST_PROXY: '127.0.0.1',
        SEED_DEMO: 'false',
        ...(flag('unlimited') ? unlimitedRateLimitsEnv : {}),
        // More of the app's variables, e.g. --app-env LOAD_SHEDDING=off (compare with load shedding off).
        ...parseAppEnv(option('app-env')),
      };
      if (start === 'postgres') {
        server = await startTestPostgres({ appRoleConnectionLimit: 8 });
        env.DATABASE_URL = server.appUrl;
        const latency = Number(option('db-latency', '0'));
        if (latency > 0) {
          const started = await startLatencyProxy(server.host, server.port, latency);
          proxy = started.child;
          const viaProxy = new URL(server.appUrl);
          viaProxy.port = String(started.port);
          env.DATABASE_URL = viaProxy.toString();
        }
        sampler = server.sampleAppConnections(10);
      } else {
        env.PGLITE_DATA_DIR = 'memory://';
      }
      app = await startAppProcess(env);
      url = app.url;
    } else if (option('pg-admin-url')) {
      sampler = startConnectionSampler(option('pg-admin-url')!, option('pg-role', 'app')!, 10);
    }
    const userCount = number('users', 20);
    const rate = number('rate', 100);
    const durationMs = number('duration', 20) * 1000;
    console.error(`Creating ${userCount} users on ${url}...`);
    const users = await createVirtualUsers(url, userCount);
    console.error(`Running ${rate} req/s for ${durationMs / 1000} s...`);
    const live = process.stderr.isTTY;
    appSampler = sampleAppProcess(url, metricsToken);
    // Health checks as a load balancer asks them, ten a second, on the app this tool started; from a
    // process of their own, so their latency is the app's and not this busy generator's.
    healthProber = start
      ? await startSideProcess({ kind: 'health', url, intervalMs: 100, timeoutMs: 10_000 })
      : undefined;
    healthProber?.go();
    const result = await runOpenLoop({
      users,
      ratePerSecond: rate,
      durationMs,
      mix: parseMix(option('mix', 'record=4,list=4,report=1,import=1')!),
      maxInFlight: number('max-in-flight', 5000),
      onProgress: (p) => {
        const line = `  ${(p.elapsedMs / 1000).toFixed(0)} s: sent ${p.sent}, done ${p.completed} (ok ${p.ok}, failed ${p.failed}), in flight ${p.inFlight}${p.droppedByClient ? `, dropped ${p.droppedByClient}` : ''}`;
        if (live) process.stderr.write(`\r${line.padEnd(100)}`);
        else if (Math.round(p.elapsedMs / 1000) % 5 === 0) console.error(line);
      },
    });
    if (live) process.stderr.write('\n');
    const connections = sampler ? await sampler.stop() : undefined;
    sampler = undefined;
    const appProcess = appSampler.stop() ?? null;
    const health: HealthProbeReport | null = (await healthProber?.stop()) ?? null;
    healthProber = undefined;
    const report = buildLoadReport(result, {
      target: start
        ? `sample app on ${start === 'postgres' ? `PostgreSQL (role limited to 8 connections${proxy ? `, ${describeDbLatency(Number(option('db-latency')))}` : ''})` : 'PGlite'}`
        : url,
      ratePerSecond: rate,
      users: userCount,
      peakDbConnections: connections?.peak ?? null,
      appProcess,
      health,
    });
    console.log(formatLoadReport(report));
    const out = option('out');
    if (out) writeFileSync(outputPath(out), `${JSON.stringify(report, null, 2)}\n`);
    const svg = option('svg');
    if (svg) writeFileSync(outputPath(svg), renderLatencySvg(report));
  } finally {
    appSampler?.stop();
    healthProber?.kill();
    await sampler?.stop();
    await app?.stop();
    if (proxy) await stopChild(proxy, 5_000);
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
