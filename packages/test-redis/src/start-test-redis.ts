import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { launchRedisProcess, type RedisProcess } from './internal/redis-process.js';
import { RedisServerControlUnsupportedError } from './server-control-unsupported-error.js';

/** Options of {@link startTestRedis}; every one is optional. */
export interface StartTestRedisOptions {
  /**
   * Durability for tests that restart Redis and expect its data back: `--appendonly yes --appendfsync
   * always`, so every acknowledged write is on disk before the reply. Default false: `--save ''
   * --appendonly no`, nothing is written to disk and a restart starts empty.
   */
  appendOnly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '16mb']`. Default none. */
  serverArgs?: readonly string[];
  /**
   * URL of a Redis to use instead of starting one. Default `process.env.TEST_REDIS_URL`; `false` always
   * starts an own server. On an external server the handle cannot stop or start it, and keeps to the
   * keys under its own `keyPrefix`, which `stop()` deletes.
   */
  externalUrl?: string | false;
}

/** A throwaway Redis. Tear it down with `stop()` (idempotent) or `await using`. */
export interface TestRedis extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>` (own server) or the external URL. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /**
   * A random prefix (`test:<hex>:`) for every key a test writes, so handles sharing an external server
   * never see each other's keys. On an own server it is still used, so tests read the same either way.
   */
  readonly keyPrefix: string;
  /** False on an external server: the server-control methods then throw. */
  readonly canControlServer: boolean;
  /** Whether the server process runs (always true on an external server). */
  readonly isServerRunning: boolean;
  /** The server's pid (own server, while it runs). */
  readonly pid: number | undefined;
  /**
   * A new ioredis client for this server, connected, closed by `stop()`. Defaults suit fault tests: no
   * offline queue (a command sent while Redis is down fails at once), one retry per request, a
   * reconnect every 50 ms.
   */
  connect(options?: RedisOptions): Promise<Redis>;
  /** Clean shutdown (SIGTERM): with `appendOnly` every acknowledged write survives. */
  stopServer(): Promise<void>;
  /** Starts the stopped server again: same port, same directory. */
  startServer(): Promise<void>;
  /** `stopServer()` then `startServer()`. */
  restartServer(): Promise<void>;
  /** SIGKILL, as a crash: nothing is flushed beyond what `appendfsync always` already wrote. */
  killServer(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing is answered, as a frozen VM or a stalled network. */
  freezeServer(): void;
  /** SIGCONT after `freezeServer()`. */
  resumeServer(): void;
  /** The server's recent log lines (own server only), for failure messages. */
  serverLog(): string;
  /** Closes the clients from `connect()`, then kills the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const clientDefaults: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: () => 50,
};

/**
 * Starts a real `redis-server` (Debian's binary, installed with apt-get when missing and running as
 * root) on a free port in its own temporary directory, or uses `TEST_REDIS_URL`.
 *
 * @example
 * ```ts
 * const redis = await startTestRedis();
 * afterAll(() => redis.stop());
 * const client = redis.connect();
 * await client.set(`${redis.keyPrefix}greeting`, 'hello');
 * ```
 */
export async function startTestRedis(options: StartTestRedisOptions = {}): Promise<TestRedis> {
  const externalUrl = options.externalUrl ?? process.env.TEST_REDIS_URL ?? false;
  const isExternal = typeof externalUrl === 'string' && externalUrl !== '';
  const keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  let server: RedisProcess | undefined;
  let url: string;
  if (isExternal) {
    url = externalUrl;
  } else {
    const persistence = options.appendOnly
      ? ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']
      : ['--save', '', '--appendonly', 'no'];
    server = await launchRedisProcess({ args: [...persistence, ...(options.serverArgs ?? [])] });
    url = `redis://127.0.0.1:${server.port}`;
  }
  const { hostname, port } = new URL(url);
  const clients = new Set<Redis>();
  let stopped: Promise<void> | undefined;

  const requireControl = (operation: string): RedisProcess => {
    if (!server) throw new RedisServerControlUnsupportedError(operation);
    if (stopped) throw new Error('This TestRedis has been stopped');
    return server;
  };

  const stop = () => {
    stopped ??= (async () => {
      if (!server) {
        // Only this handle's keys go: the server is someone else's.
        const cleaner = new Redis(url, { ...clientDefaults, lazyConnect: true });
        try {
          await cleaner.connect();
          for (let cursor = '0'; ; ) {
            const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
            if (keys.length > 0) await cleaner.del(...keys);
            cursor = next;
            if (cursor === '0') break;
          }
        } finally {
          cleaner.disconnect();
        }
      }
      for (const client of clients) client.disconnect();
      clients.clear();
      await server?.destroy();
    })();
    return stopped;
  };

  return {
    url,
    host: hostname,
    port: Number(port || 6379),
    keyPrefix,
    canControlServer: server !== undefined,
    get isServerRunning() {
      return server ? server.isRunning : true;
    },
    get pid() {
      return server?.pid;
    },
    async connect(clientOptions = {}) {
      if (stopped) throw new Error('This TestRedis has been stopped');
      const client = new Redis(url, { ...clientDefaults, ...clientOptions, lazyConnect: true });
      // Tests stop and kill the server on purpose; the failed reconnects are expected noise.
      client.on('error', () => undefined);
      clients.add(client);
      client.once('end', () => clients.delete(client));
      await client.connect();
      return client;
    },
    stopServer: async () => requireControl('stopServer').stop(),
    startServer: async () => requireControl('startServer').start(),
    async restartServer() {
      const controlled = requireControl('restartServer');
      await controlled.stop();
      await controlled.start();
    },
    killServer: async () => requireControl('killServer').kill(),
    freezeServer: () => requireControl('freezeServer').freeze(),
    resumeServer: () => requireControl('resumeServer').resume(),
    serverLog: () => server?.recentLog() ?? '',
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
