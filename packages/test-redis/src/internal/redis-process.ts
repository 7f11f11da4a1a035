import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  freePort,
  isProcessAlive,
  readPidFile,
  sweepOrphanDirectories,
  writeOwnerFile,
} from '@db-safeguards/test-postgres';
import { redisServerBinary } from './redis-server-binary.js';

/** Every server's directory is `<tmpdir>/<ROOT_PREFIX>XXXXXX`; the orphan sweep touches nothing else. */
export const ROOT_PREFIX = 'db-safeguards-redis-';
const PID_FILE = 'server.pid';
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 20_000;
const STOP_KILL_AFTER_MS = 10_000;
const LOG_LINES_KEPT = 200;

/** A redis-server child of this process, in its own temporary directory. */
export interface RedisProcess {
  readonly port: number;
  readonly dir: string;
  readonly pid: number | undefined;
  readonly isRunning: boolean;
  /** Starts the stopped server again: same port, same directory (so an append-only file is replayed). */
  start(): Promise<void>;
  /** SIGTERM: Redis shuts down cleanly (an append-only file is flushed) and exits. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown work at all, as a crash. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server stays up but answers nothing, as a frozen VM. */
  freeze(): void;
  resume(): void;
  /** Kills the server and deletes its directory. Idempotent. */
  destroy(): Promise<void>;
  recentLog(): string;
}

interface LiveServer {
  dir: string;
  child: ChildProcess | undefined;
}

const live = new Set<LiveServer>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const server of live) {
    try {
      server.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
    try {
      rmSync(server.dir, { recursive: true, force: true });
    } catch {
      // best effort while exiting
    }
  }
  live.clear();
}

/**
 * `exit` hooks are synchronous: every server gets SIGKILL (a throwaway server has nothing to save) and
 * its directory is removed. A runner ended by a signal runs no `exit` hook unless someone calls
 * `process.exit`, so the signals get a hook too: it cleans up, then, when it is the only listener,
 * re-raises the signal so the process still ends as it would have. A runner killed with SIGKILL is
 * cleaned up by the next run's orphan sweep.
 */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

let swept: Promise<void> | undefined;

/**
 * Sweeps the directories of runners that died without cleaning up. A leftover pid is signalled only if
 * that process still runs from the directory (redis-server changes its working directory to `--dir`),
 * so a recycled pid is never touched.
 */
function sweepOrphans(): Promise<void> {
  swept ??= sweepOrphanDirectories({
    prefix: ROOT_PREFIX,
    async stopServer(dir) {
      const pid = await readPidFile(join(dir, PID_FILE));
      if (pid === undefined || !isProcessAlive(pid)) return true;
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      // Unreadable: cannot tell, leave it. Another directory: the pid was recycled, the server is gone.
      if (cwd !== dir) return cwd !== '';
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && isProcessAlive(pid); i++) await sleep(20);
      return true;
    },
  }).catch(() => undefined);
  return swept;
}

function hasExited(child: ChildProcess | undefined): boolean {
  return child === undefined || child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface LaunchOptions {
  /** Arguments after the port, directory and bind address: persistence settings and the caller's extras. */
  args: readonly string[];
}

/** Starts redis-server on a free port in a fresh temporary directory, retrying when the port is taken. */
export async function launchRedisProcess(options: LaunchOptions): Promise<RedisProcess> {
  const binary = await redisServerBinary();
  await sweepOrphans();
  const dir = await mkdtemp(join(tmpdir(), ROOT_PREFIX));
  await writeOwnerFile(dir);
  const entry: LiveServer = { dir, child: undefined };
  live.add(entry);
  installHooks();

  const log: string[] = [];
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') log.push(line);
    if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
  };

  /** Resolves once Redis says it accepts connections; rejects (marking a port conflict) if it exits first. */
  const spawnOn = async (
    port: number,
  ): Promise<{ ok: true } | { ok: false; conflict: boolean; error: Error }> => {
    const from = log.length;
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--protected-mode',
        'no',
        '--logfile',
        '',
        ...options.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    entry.child = child;
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    // Listening for "ready" starts before anything is awaited: a server that starts while the pid
    // file is written would otherwise print it unseen, and the start would time out.
    const readiness = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('Ready to accept connections')) done(true);
      };
      const onExit = () => done(false);
      const done = (value: boolean) => {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(value);
      };
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    });
    await writeFile(join(dir, PID_FILE), String(child.pid ?? ''));
    const ready = await readiness;
    if (ready) return { ok: true };
    child.kill('SIGKILL');
    await waitForExit(child);
    const attemptLog = log.slice(from).join('\n');
    return {
      ok: false,
      conflict: /Address already in use/.test(attemptLog),
      error: new Error(`redis-server did not start on 127.0.0.1:${port}:\n${attemptLog}`),
    };
  };

  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const result = await spawnOn(port);
      if (result.ok) break;
      if (!result.conflict || attempt >= START_ATTEMPTS) throw result.error;
    }
  } catch (error) {
    live.delete(entry);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }

  let destroyed: Promise<void> | undefined;
  const signalAndWait = async (signal: NodeJS.Signals) => {
    const child = entry.child;
    if (!child || hasExited(child)) return;
    // A frozen server cannot act on SIGTERM until it runs again.
    child.kill('SIGCONT');
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_AFTER_MS);
    await waitForExit(child);
    clearTimeout(killer);
  };

  return {
    port,
    dir,
    get pid() {
      return hasExited(entry.child) ? undefined : entry.child?.pid;
    },
    get isRunning() {
      return !hasExited(entry.child);
    },
    async start() {
      if (destroyed) throw new Error('This Redis server has been destroyed');
      if (!hasExited(entry.child)) return;
      const result = await spawnOn(port);
      if (!result.ok) {
        if (result.conflict)
          result.error.message += `\nAnother process took port ${port} while Redis was stopped.`;
        throw result.error;
      }
    },
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
    freeze() {
      if (!hasExited(entry.child)) entry.child?.kill('SIGSTOP');
    },
    resume() {
      if (!hasExited(entry.child)) entry.child?.kill('SIGCONT');
    },
    destroy() {
      destroyed ??= (async () => {
        try {
          await signalAndWait('SIGKILL');
        } finally {
          live.delete(entry);
          await rm(dir, { recursive: true, force: true });
        }
      })();
      return destroyed;
    },
    recentLog: () => log.join('\n'),
  };
}
