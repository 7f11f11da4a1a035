import type { Safeguards } from '@db-safeguards/core';
import { isUnavailableType } from '@db-safeguards/core/advanced';
import { toSafeguardError } from '@db-safeguards/trpc';
import { type Queue, RateLimitError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { AppDatabase } from '../db/index.js';
import { applyDeferredDose } from './apply-deferred-dose.js';
import { deferredDoseQueueName } from './deferred-dose-queue.js';
import type { DeferredDose, SettledDose } from './dose-recording.js';
import { createRedisConnection } from './redis-connection.js';

export interface DeferredDoseWorkerOptions {
  redisUrl: string;
  /** The producer's queue: the worker pauses it (a rate limit) while the database cannot take doses. */
  queue: Queue<DeferredDose, SettledDose>;
  db: AppDatabase;
  safeguards: Safeguards;
  log: Logger;
  /** Doses applied at once. Default 2: a BATCH share of the budget, below live traffic. */
  concurrency?: number;
}

/** Longest wait before the queue tries again after the database refused (its breaker says how long). */
export const maxOutagePauseMs = 2000;

/**
 * Applies the deferred doses (`applyDeferredDose`) as they come, at BATCH priority. When the database
 * is unavailable or busy, the whole queue waits a moment (a BullMQ rate limit, no attempt spent) and
 * the dose goes back in line: an outage of any length costs no dose its attempts. Other failures use
 * the job's attempts with backoff, and past the last the receipt says `could-not-apply`.
 *
 * A worker killed while applying leaves its dose locked; BullMQ hands it to a worker again once the
 * lock lapses (a few seconds), and the idempotency key keeps the second application from doubling it.
 */
export function startDeferredDoseWorker(
  options: DeferredDoseWorkerOptions,
): Worker<DeferredDose, SettledDose> {
  const { queue, log } = options;
  const connection = createRedisConnection(options.redisUrl, 'blocking');
  connection.on('error', (error) =>
    log.warn({ err: error }, 'deferred doses: worker redis connection error'),
  );
  const worker = new Worker<DeferredDose, SettledDose>(
    deferredDoseQueueName,
    async (job) => {
      try {
        return await applyDeferredDose(options, job.data);
      } catch (error) {
        const failure = toSafeguardError(error);
        if (!isUnavailableType(failure.type)) {
          log.warn({ err: failure, receiptId: job.id }, 'deferred dose: attempt failed');
          throw failure;
        }
        const pauseMs = Math.min(Math.max(failure.retryAfterMs ?? 500, 100), maxOutagePauseMs);
        await queue.rateLimit(pauseMs);
        throw new RateLimitError();
      }
    },
    {
      connection,
      concurrency: options.concurrency ?? 2,
      // The rate limit above needs a limiter; this one never binds.
      limiter: { max: 10_000, duration: 1000 },
      // A killed worker's dose is free again within seconds (and never failed for it).
      lockDuration: 5000,
      stalledInterval: 2000,
      maxStalledCount: 1_000_000,
    },
  );
  worker.on('error', (error) => log.warn({ err: error }, 'deferred doses: worker error'));
  worker.on('completed', (job, settled) => {
    if (settled.state === 'rejected')
      log.info({ receiptId: job.id, reason: settled.reason }, 'deferred dose rejected');
  });
  return worker;
}
