import type { Safeguards } from '@db-safeguards/core';
import { isUnavailableType } from '@db-safeguards/core/advanced';
import { toSafeguardError } from '@db-safeguards/trpc';
import { WaitingError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { AppDatabase } from '../db/index.js';
import { connectRedis } from '../server/redis-connection.js';
import { applyDeferredDose, deferredDoseBreaker } from './apply-deferred-dose.js';
import { watchDatabaseRecovery } from './database-recovery.js';
import { bullPrefixOf, deferredDoseQueueName } from './deferred-dose-queue.js';
import type { DeferredDose, SettledDose } from './dose-recording.js';

export interface DeferredDoseWorkerOptions {
  redisUrl: string;
  /** The app's REDIS_KEY_PREFIX: the worker takes doses from the queue under it only (see `bullPrefixOf`). */
  keyPrefix: string;
  db: AppDatabase;
  safeguards: Safeguards;
  log: Logger;
  /**
   * Doses applied at once. Default 8: each waits for a slot of the budget at BATCH priority, so live
   * calls are granted first whatever this is; it only bounds how much of a free budget the backlog
   * after an outage may use (8 drained about 175 doses a second on the 2-core test machine, 4 about 65).
   */
  concurrency?: number;
}

/**
 * Longest time the worker holds off after the database refused a dose, unless the breaker closes
 * first (which resumes it at once). Bounds how long an open breaker with no live traffic goes unprobed.
 */
export const maxOutagePauseMs = 2000;
/** How long the worker holds off after a dose got no slot because of load (shed or queued past its deadline). */
export const loadPauseMs = 100;

/**
 * Applies the deferred doses (`applyDeferredDose`) as they come, at BATCH priority. When the database
 * is unavailable or busy, the dose goes back to the head of the queue (no attempt spent) and this
 * worker takes no dose until the database is back: after an outage, the moment the safeguards'
 * breaker closes (the database answered live calls again), or at the latest after the time the
 * breaker gave (up to 2 s; the next attempt is then its probe); under load, after a short pause. An
 * outage of any length costs no dose its attempts, no dose sits locked in a worker meanwhile (a
 * worker killed during an outage holds none), and the backlog starts draining right behind the first
 * live calls served, not at the end of a fixed pause. Other failures use the job's attempts with
 * backoff, and past the last the receipt says `could-not-apply`.
 *
 * `close()` (without force) stops taking doses and waits for the one being applied to finish.
 *
 * A worker killed while applying leaves its dose locked; BullMQ hands it to a worker again once the
 * lock lapses (a few seconds), and the idempotency key keeps the second application from doubling it.
 */
export function startDeferredDoseWorker(
  options: DeferredDoseWorkerOptions,
): Worker<DeferredDose, SettledDose> {
  const { log } = options;
  // A worker's connection waits for work: BullMQ needs every command retried for ever.
  const connection = connectRedis(options.redisUrl, log, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    // BullMQ names its connections itself.
    connectionName: undefined,
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
  });
  const recovery = watchDatabaseRecovery(options.safeguards, deferredDoseBreaker);
  const closing = new AbortController();
  let holdingOff = false;
  /**
   * Takes no dose for up to `ms`, or until the breaker closes (since `failedAt`, when the dose met
   * the failure); doses already running go on.
   */
  const holdOff = (ms: number, failedAt: number) => {
    if (holdingOff || closing.signal.aborted) return;
    holdingOff = true;
    void (async () => {
      try {
        await worker.pause(true);
        if ((await recovery.wait(ms, closing.signal, failedAt)) !== 'aborted') await worker.resume();
      } catch (error) {
        log.warn({ err: error }, 'deferred doses: could not pause or resume the worker');
      } finally {
        holdingOff = false;
      }
    })();
  };
  const worker: Worker<DeferredDose, SettledDose> = new Worker<DeferredDose, SettledDose>(
    deferredDoseQueueName,
    async (job, token) => {
      try {
        return await applyDeferredDose(options, job.data);
      } catch (error) {
        const failedAt = Date.now();
        const failure = toSafeguardError(error);
        if (!isUnavailableType(failure.type)) {
          log.warn({ err: failure, receiptId: job.id }, 'deferred dose: attempt failed');
          throw failure;
        }
        // An outage: until the breaker closes, or as long as it says (within 0.1 to 2 s). Load (no
        // slot for BATCH work now): a short pause, since live calls finishing free slots within
        // milliseconds.
        const outage = failure.type === 'CONNECTION' || failure.type === 'CIRCUIT_BREAKER';
        holdOff(
          outage ? Math.min(Math.max(failure.retryAfterMs ?? 500, 100), maxOutagePauseMs) : loadPauseMs,
          failedAt,
        );
        await job.moveToWait(token);
        throw new WaitingError();
      }
    },
    {
      connection,
      prefix: bullPrefixOf(options.keyPrefix),
      concurrency: options.concurrency ?? 8,
      // A killed worker's dose is free again within seconds (and never failed for it).
      lockDuration: 5000,
      stalledInterval: 2000,
      maxStalledCount: 1_000_000,
    },
  );
  worker.on('closing', () => closing.abort());
  worker.on('closed', () => recovery.dispose());
  worker.on('error', (error) => log.warn({ err: error }, 'deferred doses: worker error'));
  worker.on('completed', (job, settled) => {
    if (settled.state === 'rejected')
      log.info({ receiptId: job.id, reason: settled.reason }, 'deferred dose rejected');
  });
  return worker;
}

/**
 * Closes the worker as a shutdown needs it: it takes no new dose at once (a dose waiting for the
 * database goes back to the queue) and the dose being applied finishes, for `timeoutMs` at most.
 * Past that it stops waiting: the dose still running is cut off when the database closes, its lock
 * lapses, and another instance applies it (once, by its idempotency key).
 */
export async function stopDeferredDoseWorker(
  worker: Worker<DeferredDose, SettledDose>,
  timeoutMs: number,
  log: Logger,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  const closing = worker.close().then(
    () => 'closed' as const,
    (error: unknown) => {
      log.warn({ err: error }, 'deferred doses: the worker failed to close');
      return 'closed' as const;
    },
  );
  try {
    if ((await Promise.race([closing, late])) === 'late')
      log.warn(
        { timeoutMs },
        'deferred doses: the dose being applied did not finish in time; another instance will apply it',
      );
  } finally {
    clearTimeout(timer);
  }
}
