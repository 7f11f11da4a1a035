import { randomBytes } from 'node:crypto';
import { createSafeguards, type PeerWatch, peerApplicationName, type Safeguards } from '@db-safeguards/core';
import { defaultQueueOptions } from '@db-safeguards/core/advanced';
import type { Logger } from 'pino';
import { type CreateDatabaseOptions, createDatabase, type Database, seedDemoData } from './db/index.js';
import { DeferredDoseQueue } from './deferred/deferred-dose-queue.js';
import { startDeferredDoseWorker, stopDeferredDoseWorker } from './deferred/deferred-dose-worker.js';
import type { AppConfig } from './env.js';
import { type AppServer, startAppServer } from './server/app-server.js';
import { type BackendCounter, createBackendCounter } from './server/backend-counter.js';
import { checkDatabaseConnectionLimit } from './server/connection-limit-check.js';
import { type BackgroundWork, drainAll, installGracefulShutdown } from './server/graceful-shutdown.js';
import { createLogger, logSafeguardEvents } from './server/logger.js';
import { peerPrefix, watchPeers } from './server/peer-watch.js';
import { createServingLoadSampler } from './server/serving-load-sampler.js';
import { openSharedCapacity } from './server/shared-capacity.js';

export interface RunningVetmed {
  readonly url: string;
  readonly app: AppServer;
  readonly safeguards: Safeguards;
  readonly database: Database;
  readonly log: Logger;
  /** With REDIS_URL: the queue dose recordings wait in while the database is unavailable. */
  readonly deferredDoses: DeferredDoseQueue | undefined;
  /** Drains and stops the server, the safeguards and the database (what SIGTERM does). */
  stop(): Promise<void>;
}

export interface StartVetmedOptions {
  log?: Logger;
  /** Handle SIGTERM/SIGINT and process-level errors (the real process does; tests do not). */
  installProcessHandlers?: boolean;
  /** Extra options for the database (a Neon proxy in tests, a smaller pool...). */
  database?: Partial<Omit<CreateDatabaseOptions, 'safeguards'>>;
}

/** Idle timeout of the pool's connections when instances share the database's connections (5 s with PEER_SHARE=off and no Redis). */
const sharedPoolIdleTimeoutSeconds = 1;
/** How long after its idle timeout a pooled connection may take to be gone from the server. */
const idleCloseMarginMs = 500;

/**
 * Starts the app: one safeguards instance (the process's whole connection budget, with the database
 * probe for health checks), the database, migrations, demo data when configured, and the server.
 */
export async function startVetmed(
  config: AppConfig,
  options: StartVetmedOptions = {},
): Promise<RunningVetmed> {
  const log = options.log ?? createLogger(config.logLevel);
  let database: Database | undefined;
  let backends: BackendCounter | undefined;
  const budget =
    config.safeguards.queue?.maxConcurrentConnections ?? defaultQueueOptions.maxConcurrentConnections;
  // REDIS_URL: one budget and one set of rate limits for every instance; without it, as before.
  const shared = config.redis
    ? await openSharedCapacity(config.redis, budget, log, {
        // A slot stays counted while its connection may still sit idle in the pool (see below).
        releaseDelayMs: sharedPoolIdleTimeoutSeconds * 1000 + idleCloseMarginMs,
      })
    : undefined;
  // Load shedding reads the event loop and memory only once the server listens (see the sampler).
  const loadSampler = config.loadShedding
    ? createServingLoadSampler({
        resolutionMs: config.loadProbeResolutionMs,
        // The probe slows down after this long without a reading for admission: several intervals.
        pauseAfterMs: Math.max(5000, 3 * (config.safeguards.load?.sampleIntervalMs ?? 0)),
      })
    : undefined;
  let deferredDoses: DeferredDoseQueue | undefined;
  let worker: ReturnType<typeof startDeferredDoseWorker> | undefined;
  let peers: PeerWatch | undefined;
  const applicationName =
    options.database?.applicationName ??
    peerApplicationName(peerPrefix, `${process.pid}-${randomBytes(3).toString('hex')}`);
  const safeguards = createSafeguards({
    ...config.safeguards,
    ...(loadSampler === undefined ? {} : { load: { ...config.safeguards.load, sampler: loadSampler } }),
    ...(shared && {
      shared: shared.budget,
      rateLimits: { ...config.safeguards.rateLimits, store: shared.store },
    }),
    // The probe counts the app role's backends on the way, for the operator dashboard.
    health: { probe: (scope) => backends!.probe(scope.signal) },
  });
  const unsubscribe = logSafeguardEvents(safeguards, log);
  let app: AppServer;
  // A start that fails part way (no database, a failed migration, a server that refuses these
  // safeguards or cannot listen) closes what it had opened.
  try {
    database = await createDatabase({
      // With a shared budget, idle connections hold slots another instance may be granted: they close
      // after 1 s instead of 5, and the budget gives a slot back only after that (releaseDelayMs).
      // The same without Redis when instances split the role's connections among themselves: a
      // share that fell frees its slots for the others once the idle connections have closed.
      // Both pools reuse their most recently used connection first (pg-pool does; postgres.js 3.4.9
      // does with patches/postgres@3.4.9.patch), so a pool whose share fell lets the others go idle.
      // postgres.js offers no safe way to close them at once: \`sql.close()\` during a database
      // outage left queries hanging.
      ...((shared || config.peerShare) && { idleTimeoutSeconds: sharedPoolIdleTimeoutSeconds }),
      // Each instance names its connections, so that the others can count it (see watchPeers).
      applicationName,
      ...options.database,
      config: config.database,
      safeguards,
    });
    backends = createBackendCounter(database);
    await database.migrate();
    const reading = await checkDatabaseConnectionLimit(
      database,
      // With a shared budget, what all the instances together may open.
      shared?.capacity ?? safeguards.queue.options.maxConcurrentConnections,
      config.connectionLimitCheck,
      log,
    );
    peers = watchPeers(database, safeguards, config, shared === undefined, reading, applicationName, log);
    if (config.seedDemo) {
      const seeded = await seedDemoData(database.db);
      log.info({ createdUser: seeded.createdUser }, 'demo data ready');
    }
    if (config.redis) {
      // Redis is not waited for: the app serves without it, and defers nothing while it is away.
      deferredDoses = new DeferredDoseQueue(config.redis.url, config.redis.keyPrefix, log);
      worker = startDeferredDoseWorker({
        redisUrl: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        db: database.db,
        safeguards,
        log,
      });
    }
    app = await startAppServer({
      deferredDoses,
      database,
      safeguards,
      log,
      port: config.server.port,
      host: config.server.host,
      adminToken: config.server.adminToken,
      metricsToken: config.server.metricsToken,
      requestTimeoutMs: config.server.requestTimeoutMs,
      bodyLimitBytes: config.server.bodyLimitBytes,
      trustProxy: config.server.trustProxy,
      healthCacheMs: config.server.healthCacheMs,
      staleReadMaxAgeMs: config.server.staleReadMaxAgeMs,
      refusalLinesPerSecond: config.server.refusalLinesPerSecond,
      backends: backends.latest,
      ...(backends.note === undefined ? {} : { backendsNote: backends.note }),
    });
  } catch (error) {
    peers?.stop();
    await worker?.close();
    await deferredDoses?.close();
    await database?.close();
    await safeguards.close();
    await shared?.close();
    unsubscribe();
    throw error;
  }
  loadSampler?.startServing();
  const open = database;
  const started = worker;
  const background: BackgroundWork[] =
    started === undefined ? [] : [{ stop: (timeoutMs) => stopDeferredDoseWorker(started, timeoutMs, log) }];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // The dose being applied finishes before the database closes (or, past the drain time, is
      // cut off: its lock lapses and another instance applies it, once, by its idempotency key).
      await drainAll({ app, background, drainMs: config.server.shutdownDrainMs });
      peers?.stop();
      await safeguards.close({ drainTimeoutMs: config.server.shutdownDrainMs });
      await open.close();
      await deferredDoses?.close();
      await shared?.close();
      unsubscribe();
    })();
    return stopping;
  };
  if (options.installProcessHandlers) {
    installGracefulShutdown({
      app,
      safeguards,
      database: open,
      log,
      drainMs: config.server.shutdownDrainMs,
      background,
    });
  }
  log.info(
    {
      url: app.url,
      driver: open.driver,
      budget: safeguards.queue.options.maxConcurrentConnections,
      loadShedding: config.loadShedding,
    },
    'listening',
  );
  return { url: app.url, app, safeguards, database: open, log, deferredDoses, stop };
}
