import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const appDir = resolve(import.meta.dirname, '../..');

/** A free TCP port on 127.0.0.1 (free when asked: the app takes it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * VetMed as its own process (`src/main.ts` through tsx), so a test can SIGKILL it as a crash would,
 * and start it again on the same port. `env` is its whole configuration (with PORT).
 */
export function vetmedProcess(env: Record<string, string>) {
  let child: ChildProcess | undefined;
  let output = '';
  const url = `http://127.0.0.1:${env.PORT}`;
  return {
    url,
    get pid() {
      return child?.pid;
    },
    /** Starts it and waits until it answers its health check; rejects if it exits first or takes over `timeoutMs`. */
    async start(timeoutMs = 60_000): Promise<void> {
      const started = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=@db-safeguards/source', 'src/main.ts'],
        { cwd: appDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = started;
      started.stdout?.on('data', (chunk) => {
        output = (output + chunk).slice(-4000);
      });
      started.stderr?.on('data', (chunk) => {
        output = (output + chunk).slice(-4000);
      });
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (started.exitCode !== null) throw new Error(`vetmed exited with ${started.exitCode}:\n${output}`);
        const status = await fetch(`${url}/api/health`)
          .then((response) => response.status)
          .catch(() => undefined);
        if (status !== undefined) return;
        await sleep(200);
      }
      throw new Error(`vetmed did not answer within ${timeoutMs} ms:\n${output}`);
    },
    /** SIGKILL: no drain, no goodbye; waits until the process is gone. */
    async kill(): Promise<void> {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((done) => running.once('exit', done));
      running.kill('SIGKILL');
      await exited;
    },
    /** SIGTERM: the graceful shutdown; resolves with the exit code once the process is gone. */
    async terminate(): Promise<number | null> {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null)
        return running?.exitCode ?? null;
      const exited = new Promise<number | null>((done) => running.once('exit', (code) => done(code)));
      running.kill('SIGTERM');
      return exited;
    },
    output: () => output,
  };
}
