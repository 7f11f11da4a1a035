import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FaultProxy,
  startFaultProxy,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCredentials } from '../src/db/index.js';
import { vetmedClient } from './app/app-client.js';

const appDir = resolve(import.meta.dirname, '..');

/**
 * Starts the built app (`node dist/main.js`, what `pnpm start` runs) and waits for its "listening" log
 * line. `env` is added to the app's environment (an undefined value removes a variable); `nodeArgs`
 * go before the script.
 */
async function startProcess(
  databaseUrl: string | undefined,
  options: { env?: Record<string, string | undefined>; nodeArgs?: string[] } = {},
): Promise<{ child: ChildProcess; url: string; logs: string[] }> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    SEED_DEMO: 'true',
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_MS: '10000',
    // One user sends 80+ calls within seconds: with the adaptive limits tightened by the queue those
    // calls build (0.5 × 100 per minute), the last ones would get 429 instead of testing the shutdown.
    RATE_LIMIT_API_MAX: '100000',
    // 40 calls at once on a process just started (its code not yet compiled) can keep its event loop
    // busy long enough to shed some as overloaded (typed 503s: the safeguards working, as a fresh-clone
    // CI run on a busy machine showed); what is tested here is the shutdown, so load is not read.
    LOAD_SHEDDING: 'off',
    ...options.env,
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'dist/main.js'], {
    cwd: appDir,
    env: Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let buffered = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening" line; logs:\n${logs.join('\n')}`)),
      30_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolveUrl(entry.url);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
  });
  return { child, url, logs };
}

/** One GET over a keep-alive agent; resolves with the status, or the error's code. */
function request(agent: Agent, url: string, token: string): Promise<number | string> {
  return new Promise((resolveStatus) => {
    const req = get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolveStatus(error.code ?? error.message));
  });
}

describe('graceful shutdown of the real process', () => {
  let server: TestPostgres;
  let proxy: FaultProxy;
  beforeAll(async () => {
    server = await startTestPostgres({ appRoleConnectionLimit: 8 });
    // The app reaches the database through a proxy that can slow it down, so requests are really in flight.
    proxy = await startFaultProxy({ targetHost: server.host, targetPort: server.port });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}: stops accepting, finishes the requests in flight, closes the database, exits 0`, async () => {
      proxy.setLatency(0);
      const { child, url, logs } = await startProcess(proxy.proxyUrl(server.appUrl));
      try {
        const session = await vetmedClient(url).auth.signIn.mutate(demoCredentials);
        const client = vetmedClient(url, { token: session.token });
        const [household] = await client.households.list.query();
        const animals = await client.animals.list.query({ householdId: household!.id });
        const input = encodeURIComponent(JSON.stringify({ json: { animalId: animals[0]!.id, limit: 50 } }));
        const historyUrl = `${url}/api/trpc/administrations.history?input=${input}`;
        // Open 40 keep-alive connections first, so the 40 requests below reach the server at once.
        const agent = new Agent({ keepAlive: true, maxSockets: 40 });
        const warm = await Promise.all(
          Array.from({ length: 40 }, () => request(agent, historyUrl, session.token)),
        );
        expect(warm).toEqual(Array(40).fill(200));
        // Each database round trip now takes 100 ms: every request below is still running at the signal.
        proxy.setLatency(100);
        const inFlight = Array.from({ length: 40 }, () => request(agent, historyUrl, session.token));
        await sleep(50);
        const exited = once(child, 'exit');
        child.kill(signal);
        // Every request the server had accepted is answered, not cut off.
        expect(await Promise.all(inFlight)).toEqual(Array(40).fill(200));
        agent.destroy();
        const [code] = await exited;
        expect(code).toBe(0);
        const messages = logs.map((line) => JSON.parse(line) as { msg: string; reason?: string });
        expect(messages).toContainEqual(
          expect.objectContaining({ msg: 'shutting down: no longer accepting connections', reason: signal }),
        );
        expect(messages.map((message) => message.msg)).toContain('shut down cleanly');
        await expect(fetch(`${url}/api/alive`)).rejects.toThrow();
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }, 60_000);
  }
});

describe('process-level handlers of the real process', () => {
  it('logs an unhandled promise rejection and keeps serving', async () => {
    // Preloaded into the app's process: SIGUSR2 makes a promise rejection nobody handles.
    const preload = `data:text/javascript,${encodeURIComponent(
      "process.on('SIGUSR2', () => { Promise.reject(new Error('nobody handles this')); });",
    )}`;
    const { child, url, logs } = await startProcess(undefined, {
      env: { PGLITE_DATA_DIR: 'memory://', SEED_DEMO: 'false' },
      nodeArgs: ['--import', preload],
    });
    try {
      const exited = once(child, 'exit');
      child.kill('SIGUSR2');
      const logged = () =>
        logs
          .map((line) => JSON.parse(line) as { msg: string; level: number; err?: { message?: string } })
          .find((entry) => entry.msg === 'unhandled promise rejection');
      for (let waited = 0; !logged() && waited < 5000; waited += 50) await sleep(50);
      expect(logged()).toMatchObject({ level: 50, err: { message: 'nobody handles this' } });
      // Still up and serving; then it shuts down as usual.
      expect((await fetch(`${url}/api/alive`)).status).toBe(200);
      expect(child.exitCode).toBeNull();
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
