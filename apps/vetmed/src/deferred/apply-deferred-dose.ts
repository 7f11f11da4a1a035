import { Priority, SafeguardError, type Safeguards } from '@db-safeguards/core';
import { toSafeguardError } from '@db-safeguards/trpc';
import type {} from '../app-error-reasons.js';
import { type AppDatabase, recordDose } from '../db/index.js';
import { beforeRegimenStart } from '../routers/inputs.js';
import { can, requireRegimenAccess } from '../trpc/access.js';
import type { DeferredDose, RejectionReason, SettledDose } from './dose-recording.js';

/** Deadline of one attempt to apply a deferred dose (its wait for a slot included). */
export const applyTimeoutMs = 10_000;

/**
 * The breaker the deferred doses go through: the live recordings' one, not `batch`. These are the
 * same recordings, late, on the same database, and `batch` distrusts it for a minute after an outage
 * (bulk jobs can wait; a caregiver's dose should be in the history soon after the database is back).
 * Its closing is also what wakes the worker after an outage (see deferred-dose-worker.ts).
 */
export const deferredDoseBreaker = 'primary';

/**
 * Applies a deferred dose as the live request would have: the caller's access to the regimen, the
 * live recording's checks against it (a dose dated before the regimen's start is refused:
 * `before-regimen-start`), then `recordDose` with its idempotency key, so a dose the client also sent again meanwhile, or that a
 * crashed worker had already applied, is recorded once. It runs through the safeguards at BATCH
 * priority (below every live request) under the caller's identity. The dose is recorded at the time
 * the request gave, else at the time the server accepted it: the regimen's end is judged by that time.
 *
 * Resolves with how the dose settled (applied, or rejected for a reason that sending it again would
 * not change). Rejects with the SafeguardError of a failure worth another attempt later: the database
 * unavailable or busy, or a failure whose outcome is unknown (the key makes the next attempt safe).
 */
export async function applyDeferredDose(
  deps: { db: AppDatabase; safeguards: Safeguards },
  dose: DeferredDose,
): Promise<SettledDose> {
  const { db, safeguards } = deps;
  const record = (recordedAt: Date | undefined) =>
    safeguards.withContext(
      {
        priority: Priority.BATCH,
        breaker: deferredDoseBreaker,
        operationType: 'write',
        label: 'administrations.record:deferred',
        timeoutMs: applyTimeoutMs,
        userId: dose.userId,
      },
      async () => {
        const regimen = await requireRegimenAccess(db, dose.userId, dose.regimenId, can.care);
        // The live recording's checks with the regimen (routers/administrations.ts), as of now.
        const early = beforeRegimenStart(
          dose.recordedAt === undefined ? undefined : new Date(dose.recordedAt),
          regimen.startsAt,
        );
        if (early) throw doseBeforeRegimenStart(early.message);
        return recordDose(
          db,
          {
            regimenId: dose.regimenId,
            idempotencyKey: dose.idempotencyKey,
            recordedBy: dose.userId,
            doseAmount: dose.doseAmount,
            doseUnit: dose.doseUnit,
            notes: dose.notes,
            recordedAt,
          },
          regimen,
        );
      },
    );
  const at = () => new Date().toISOString();
  try {
    let result: Awaited<ReturnType<typeof record>>;
    try {
      result = await record(new Date(dose.recordedAt ?? dose.acceptedAt));
    } catch (error) {
      // A request without a time is a retry of the same dose whatever time it was stored with: the
      // client may have sent it again live once the database was back (stored at that moment).
      if (dose.recordedAt !== undefined || toSafeguardError(error).reason !== 'idempotency-key-reused')
        throw error;
      result = await record(undefined);
    }
    return {
      state: 'applied',
      administrationId: result.administration.id,
      created: result.created,
      at: at(),
    };
  } catch (error) {
    const failure = toSafeguardError(error);
    const reason = rejectionReasonOf(failure);
    if (reason === undefined) throw failure;
    return { state: 'rejected', reason, message: failure.userMessage, at: at() };
  }
}

/** The final reason a failure gives, or undefined when another attempt may succeed. */
export function rejectionReasonOf(error: SafeguardError): RejectionReason | undefined {
  switch (error.type) {
    case 'CONFLICT':
      return error.reason === 'regimen-ended' ||
        error.reason === 'regimen-inactive' ||
        error.reason === 'idempotency-key-reused'
        ? error.reason
        : undefined;
    case 'NOT_FOUND':
      return 'regimen-not-found';
    case 'AUTHORIZATION':
    case 'AUTHENTICATION':
      return 'no-access';
    case 'VALIDATION':
      return error.reason === 'dose-before-regimen-start' ? 'before-regimen-start' : 'invalid-dose';
    default:
      return undefined;
  }
}

/** A deferred dose dated before its regimen's start: refused as the live recording refuses it. */
function doseBeforeRegimenStart(message: string): SafeguardError {
  return new SafeguardError({
    type: 'VALIDATION',
    reason: 'dose-before-regimen-start',
    userMessage: message,
    notApplied: true,
  });
}
