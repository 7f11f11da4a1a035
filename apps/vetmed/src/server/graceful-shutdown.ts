import type { Safeguards } from '@db-safeguards/core';
import type { Logger } from 'pino';
import type { Database } from '../db/index.js';
import type { AppServer } from './app-server.js';

export interface ShutdownOptions {
  app: AppServer;
  safeguards: Safeguards;
  database: Database;
  log: Logger;
  /** How long in-flight requests (and queued database work) may take to finish. */
  drainMs: number;
  exit?: (code: number) => void;
}

/**
 * Shuts the app down in order: stop accepting connections (readiness fails at once), let in-flight
 * requests finish for up to `drainMs`, let the safeguards drain queued work, then close the pool.
 * Returns the function that runs it, once; SIGTERM and SIGINT call it. Unhandled rejections are
 * logged and the process goes on; an uncaught exception is logged and shuts the app down.
 */
export function installGracefulShutdown(
  options: ShutdownOptions,
): (reason: string, code?: number) => Promise<void> {
  const { app, safeguards, database, log } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shutting: Promise<void> | undefined;

  const shutdown = (reason: string, code = 0): Promise<void> => {
    shutting ??= (async () => {
      const started = Date.now();
      log.info({ reason, inFlight: app.inFlight }, 'shutting down: no longer accepting connections');
      const force = setTimeout(
        () => {
          log.error('shutdown took too long; exiting now');
          exit(code || 1);
        },
        options.drainMs * 2 + 5_000,
      );
      force.unref();
      try {
        await app.drain(options.drainMs);
        const left = Math.max(0, options.drainMs - (Date.now() - started));
        await safeguards.close({ drainTimeoutMs: left });
        await database.close();
        log.info({ ms: Date.now() - started }, 'shut down cleanly');
      } catch (error) {
        log.error({ err: error }, 'error during shutdown');
        code = code || 1;
      } finally {
        clearTimeout(force);
      }
      exit(code);
    })();
    return shutting;
  };

  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception');
    void shutdown('uncaughtException', 1);
  });
  return shutdown;
}
