import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built sample app: what `pnpm start` runs. */
export const appMain = fileURLToPath(new URL('../../../apps/vetmed/dist/main.js', import.meta.url));

/** Kills `child` if this process exits first (a crash, a timeout), so no server is left running. */
export function killOnExit(child: ChildProcess): void {
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface AppProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Node's flags for writing a CPU profile to `dir` when the process exits (the directory is made
 * now); none without a directory. The benchmarks' `--profile DIR`.
 */
export function cpuProfileFlags(dir: string | undefined): string[] {
  if (dir === undefined) return [];
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', path.resolve(dir)];
}

/**
 * Starts the built sample app (`node apps/vetmed/dist/main.js`, what `pnpm start` runs) in its own
 * process, so the load generator and the server do not share a CPU, and waits for its "listening" log.
 * With `profileDir`, under `node --cpu-prof` writing there (see {@link cpuProfileFlags}).
 */
export function startAppProcess(env: Record<string, string>, profileDir?: string): Promise<AppProcess> {
  return startServerProcess([...cpuProfileFlags(profileDir), appMain], env);
}

/**
 * Starts `node ...args` (a server that logs `listening on http://host:port` on stderr once ready) with
 * only `env` (and PATH, PORT=0, HOST=127.0.0.1, LOG_LEVEL=warn unless given), and waits for that log.
 */
export async function startServerProcess(args: string[], env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    // stdout (the JSON logs) is not read here: a pipe nobody drains fills up and blocks the app.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  killOnExit(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start:\n${stderr}`)), 60_000);
    child.stderr!.on('data', () => {
      const match = /listening on (http:\/\/[\d.:]+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`the app exited with ${code}:\n${stderr}`)));
  });
  return {
    url,
    child,
    stop: () => stopChild(child),
  };
}
