import { applyOrDefer, type SafeguardError } from '@db-safeguards/core';
import { type SafeguardsMeta, toSafeguardError, toTRPCError } from '@db-safeguards/trpc';
import type { TRPCMiddlewareFunction } from '@trpc/server';
import type { DeferredDose, DoseRecording } from '../deferred/dose-recording.js';
import type { RequestContext } from './context.js';

type Result = Awaited<
  ReturnType<TRPCMiddlewareFunction<RequestContext, SafeguardsMeta, object, object, unknown>>
>;

/**
 * The deferral middleware of `administrations.record`, between its validated input and the
 * safeguards middleware (so it sees the safeguards' own refusals, an open breaker first of all). With
 * a queue configured (`ctx.deferredDoses`, REDIS_URL) it runs the recording through the core's
 * `applyOrDefer`: a recording that fails because the database is unavailable AND whose failure proves
 * nothing was written (`notApplied`) is put on the queue, and the client is answered
 * `accepted-for-later` with a receipt, instead of the error. "Unavailable" is the core's taxonomy:
 * the connection failed, the breaker is open, or the call got no slot (a full queue, its deadline
 * while waiting): under overload too, then, a recording that could not start is kept and applied at
 * BATCH priority once there is room, rather than bounced back to a client that would retry into the
 * same load. A write whose outcome is unknown (the
 * connection lost mid-commit) is never deferred: it reaches the client as the error it was, to be
 * sent again with its key. When Redis cannot take the dose either, the client gets the original error.
 */
export function deferWhenUnavailable<TInput>(
  toDose: (input: TInput, userId: string, acceptedAt: Date) => DeferredDose,
): TRPCMiddlewareFunction<RequestContext, SafeguardsMeta, object, object, TInput> {
  return async ({ ctx, input, next }) => {
    const queue = ctx.deferredDoses;
    if (!queue || !ctx.user) return next();
    const acceptedAt = new Date();
    const dose = toDose(input, ctx.user.id, acceptedAt);
    let passed: Result | undefined;
    let failed: Result | undefined;
    let refusedByQueue: SafeguardError | undefined;
    try {
      const outcome = await applyOrDefer(
        async () => {
          const result = await next();
          if (!result.ok) {
            failed = result;
            throw toSafeguardError(result.error);
          }
          passed = result;
        },
        dose,
        async (payload, error) => {
          try {
            return await queue.defer(payload);
          } catch (deferError) {
            // The same key for a different dose is the client's mistake: say so, as a live recording would.
            const refusal = toSafeguardError(deferError);
            if (refusal.type === 'CONFLICT') refusedByQueue = refusal;
            ctx.log.warn({ err: deferError }, 'a dose could not be deferred');
            throw error;
          }
        },
      );
      if (outcome.status === 'applied') return passed!;
      const accepted: DoseRecording = {
        status: 'accepted-for-later',
        degraded: true,
        receiptId: outcome.receiptId,
        acceptedAt,
        recordedAt: new Date(dose.recordedAt ?? dose.acceptedAt),
      };
      ctx.log.info({ receiptId: outcome.receiptId, reason: outcome.error.reason }, 'dose accepted for later');
      return { marker: failed!.marker, ok: true, data: accepted };
    } catch (error) {
      if (refusedByQueue) throw toTRPCError(refusedByQueue);
      if (failed) return failed;
      throw error;
    }
  };
}
