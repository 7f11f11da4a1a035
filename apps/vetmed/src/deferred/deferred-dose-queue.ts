import { createHash } from 'node:crypto';
import { SafeguardError } from '@db-safeguards/core';
import { Job, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type {} from '../app-error-reasons.js';
import { idempotencyKeyReused } from '../db/index.js';
import { connectRedis } from '../server/redis-connection.js';
import type { DeferredDose, ReceiptState, SettledDose } from './dose-recording.js';

/** The BullMQ queue the deferred doses wait in. */
export const deferredDoseQueueName = 'vetmed-deferred-doses';

/**
 * BullMQ's key prefix for the app's REDIS_KEY_PREFIX (default `vetmed:`): the queue's keys are
 * `vetmed:bull:vetmed-deferred-doses:*`, beside the app's other keys, instead of BullMQ's default
 * `bull:`. Two apps on one Redis with different prefixes never take or answer for each other's doses;
 * every Queue and Worker of the deferred doses must use it.
 */
export function bullPrefixOf(keyPrefix: string): string {
  return `${keyPrefix}bull`;
}

/** How long a settled receipt can still be asked about. */
export const receiptRetentionMs = 7 * 24 * 3600 * 1000;

/** Attempts a dose gets for failures other than the database being unavailable or busy (which wait instead). */
export const maxApplyAttempts = 8;

/**
 * The producer side of the deferred doses: puts a dose on the queue (durably: Redis acknowledges the
 * write before the client is told "accepted") and answers its receipt's state. The receipt id is
 * derived from the caller, the regimen and the idempotency key, so a client sending the same dose
 * again during the outage gets the same receipt and the queue holds it once.
 */
export class DeferredDoseQueue {
  readonly queue: Queue<DeferredDose, SettledDose>;
  private readonly connection;

  /** `keyPrefix`: the app's REDIS_KEY_PREFIX (see {@link bullPrefixOf}). */
  constructor(redisUrl: string, keyPrefix: string, log: Logger) {
    // The app's defaults: no offline queue, one try, so a dose Redis cannot take fails the request at once.
    this.connection = connectRedis(redisUrl, log, {
      lazyConnect: true,
      connectionName: undefined,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    });
    this.queue = new Queue<DeferredDose, SettledDose>(deferredDoseQueueName, {
      connection: this.connection,
      prefix: bullPrefixOf(keyPrefix),
      defaultJobOptions: {
        attempts: maxApplyAttempts,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: receiptRetentionMs / 1000, count: 100_000 },
        removeOnFail: { age: receiptRetentionMs / 1000, count: 100_000 },
      },
    });
    this.queue.on('error', (error) => log.warn({ err: error }, 'deferred doses: queue error'));
  }

  /**
   * Puts the dose on the queue and resolves with its receipt id once Redis has it. The same dose sent
   * again gets the same receipt; the same key with a different dose is a CONFLICT, as when recorded live.
   *
   * @throws whatever Redis answers when it cannot take the dose (the caller then answers the original failure).
   */
  async defer(dose: DeferredDose): Promise<string> {
    const receiptId = receiptIdOf(dose);
    await this.queue.add('record-dose', dose, { jobId: receiptId });
    const stored = await Job.fromId<DeferredDose, SettledDose>(this.queue, receiptId);
    if (stored && !isSameRequest(stored.data, dose)) throw idempotencyKeyReused([dose.idempotencyKey]);
    return receiptId;
  }

  /** The receipt's state, or undefined when there is none for this user (unknown, expired, or another's). */
  async receipt(receiptId: string, userId: string): Promise<ReceiptState | undefined> {
    const job = await Job.fromId<DeferredDose, SettledDose>(this.queue, receiptId);
    if (!job || job.data.userId !== userId) return undefined;
    const state = await job.getState();
    if (state === 'completed' && job.returnvalue) {
      const settled = job.returnvalue;
      return settled.state === 'applied'
        ? {
            receiptId,
            state: 'applied',
            administrationId: settled.administrationId,
            created: settled.created,
            appliedAt: new Date(settled.at),
          }
        : {
            receiptId,
            state: 'rejected',
            reason: settled.reason,
            message: settled.message,
            settledAt: new Date(settled.at),
          };
    }
    if (state === 'failed')
      return {
        receiptId,
        state: 'rejected',
        reason: 'could-not-apply',
        message: 'This dose could not be recorded. Please record it again.',
        settledAt: new Date(job.finishedOn ?? Date.now()),
      };
    return {
      receiptId,
      state: 'pending',
      acceptedAt: new Date(job.data.acceptedAt),
      recordedAt: new Date(job.data.recordedAt ?? job.data.acceptedAt),
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}

/** `dose-` and 22 URL-safe characters: a hash, so the id reveals neither the user nor the key. */
export function receiptIdOf(dose: Pick<DeferredDose, 'userId' | 'regimenId' | 'idempotencyKey'>): string {
  const digest = createHash('sha256')
    .update(`${dose.userId}\u0000${dose.regimenId}\u0000${dose.idempotencyKey}`)
    .digest('base64url');
  return `dose-${digest.slice(0, 22)}`;
}

/** The same dose as far as the request said (when it was accepted does not matter). */
function isSameRequest(a: DeferredDose, b: DeferredDose): boolean {
  return (
    a.doseAmount === b.doseAmount &&
    a.doseUnit === b.doseUnit &&
    (a.notes ?? null) === (b.notes ?? null) &&
    a.recordedAt === b.recordedAt
  );
}

/** For the receipt of a deferred dose nobody can see: NOT_FOUND. */
export function receiptNotFound(): SafeguardError {
  return new SafeguardError({
    type: 'NOT_FOUND',
    reason: 'receipt-not-found',
    userMessage: 'That receipt does not exist, or is too old to look up.',
    notApplied: true,
  });
}
