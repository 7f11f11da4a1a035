import type { Safeguards } from '@db-safeguards/core';
import type { Logger } from 'pino';
import type { Database } from '../db/index.js';
import type { AppServer } from './app-server.js';

/** Work the app runs besides requests, such as the deferred doses' worker. */
export interface BackgroundWork {
  /**
   * Takes no new work and resolves once the work under way has finished, or after `timeoutMs` at the
   * latest (what is still running then is cut off when the database closes).
   */
  stop(timeoutMs: number): Promise<void>;
}

export interface ShutdownOptions {
  app: AppServer;
  safeguards: Safeguards;
  database: Database;
  log: Logger;
  /** How long in-flight requests, background work and queued database work may take to finish. */
  drainMs: number;
  /** Stopped alongside the requests' drain, before the database closes. */
  background?: readonly BackgroundWork[];
  exit?: (code: number) => void;
}

/**
 * Shuts the app down in order: stop accepting connections (readiness fails at once) and stop taking
 * background work, let in-flight requests and the background work under way (a deferred dose being
 * applied) finish for up to `drainMs`, let the safeguards drain queued work within what is left of
 * it, then close the pool. Returns the function that runs it, once; SIGTERM and SIGINT call it.
 * Unhandled rejections are logged and the process goes on; an uncaught exception is logged and shuts
 * the app down.
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
        await drainAll(options);
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

/**
 * Stops taking requests and background work at once, and waits for what is under way in both, each
 * within `drainMs`: only then may the database close.
 */
export async function drainAll(
  options: Pick<ShutdownOptions, 'app' | 'background' | 'drainMs'>,
): Promise<void> {
  await Promise.all([
    options.app.drain(options.drainMs),
    ...(options.background ?? []).map((work) => work.stop(options.drainMs)),
  ]);
}
