import type { Administration } from '../db/index.js';

/**
 * What `administrations.record` answers: the dose applied now, or accepted to be applied once the
 * database is back (only with REDIS_URL set, only when the failure proves nothing was written). A
 * client tells them apart by `status`; `degraded` says the answer is not the usual one.
 */
export type DoseRecording =
  | {
      status: 'applied';
      degraded: false;
      administration: Administration;
      /** False when this idempotency key was already recorded: nothing was added or drawn from stock. */
      created: boolean;
    }
  | {
      status: 'accepted-for-later';
      degraded: true;
      /** Ask `administrations.receipt` for its state; the same dose sent again gets the same receipt. */
      receiptId: string;
      /** When the server took it. */
      acceptedAt: Date;
      /** When the dose was given, as it will be recorded (the request's `recordedAt`, else `acceptedAt`). */
      recordedAt: Date;
    };

/** Why a deferred dose was not recorded when its turn came: each is final (sending it again changes nothing). */
export const rejectionReasons = [
  /** The regimen had ended by the time of the dose. */
  'regimen-ended',
  /** The regimen was paused (meanwhile, or already). */
  'regimen-inactive',
  /** The regimen no longer exists. */
  'regimen-not-found',
  /** The caller is no longer a caregiver of the household. */
  'no-access',
  /** The idempotency key was used for a different dose of the regimen. */
  'idempotency-key-reused',
  /** The dose was dated before its regimen's start (refused live too; the start may also have moved meanwhile). */
  'before-regimen-start',
  /** The database refused the dose's values. */
  'invalid-dose',
  /** Applying kept failing for another reason, past every attempt: the dose was not recorded. */
  'could-not-apply',
] as const;
export type RejectionReason = (typeof rejectionReasons)[number];

/** The state of a receipt: what `administrations.receipt` answers. */
export type ReceiptState =
  | { receiptId: string; state: 'pending'; acceptedAt: Date; recordedAt: Date }
  | { receiptId: string; state: 'applied'; administrationId: string; created: boolean; appliedAt: Date }
  | { receiptId: string; state: 'rejected'; reason: RejectionReason; message: string; settledAt: Date };

/** A dose waiting in the queue: the request as validated, who sent it and when. JSON (it lives in Redis). */
export interface DeferredDose {
  userId: string;
  regimenId: string;
  idempotencyKey: string;
  doseAmount?: string;
  doseUnit?: string;
  notes?: string;
  /** The request's `recordedAt` (ISO), when it gave one. */
  recordedAt?: string;
  /** When the server accepted it (ISO): the time of the dose when the request gave none. */
  acceptedAt: string;
}

/** What the worker settles a deferred dose with: the job's return value, kept for the receipt. */
export type SettledDose =
  | { state: 'applied'; administrationId: string; created: boolean; at: string }
  | { state: 'rejected'; reason: RejectionReason; message: string; at: string };
