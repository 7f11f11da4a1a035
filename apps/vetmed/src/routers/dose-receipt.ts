import { SafeguardError } from '@db-safeguards/core';
import { toTRPCError } from '@db-safeguards/trpc';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { receiptNotFound } from '../deferred/deferred-dose-queue.js';
import type { ReceiptState } from '../deferred/dose-recording.js';
import { authenticatedProcedure } from '../trpc/init.js';

/**
 * The state of a dose accepted for later: pending, applied (with the administration), or rejected
 * with a typed reason (the regimen ended meanwhile...). Answered from Redis alone, so it works while
 * the database is down: no safeguards middleware (it would refuse while the breaker is open), but the
 * caller's `api` rate limit all the same. Only the user who sent the dose sees its receipt.
 */
export const doseReceipt = authenticatedProcedure
  .input(z.object({ receiptId: z.string().regex(/^dose-[A-Za-z0-9_-]{22}$/) }))
  .query(async ({ ctx, input }): Promise<ReceiptState> => {
    const charge = await ctx.safeguards.rateLimiter.check('api', { userId: ctx.user.id, ip: ctx.ip });
    if (!charge.allowed)
      throw new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: "You're doing that too often.",
        cause: new SafeguardError({
          type: 'RATE_LIMIT',
          reason: 'rate-limit',
          retryAfterMs: charge.retryAfterMs,
          notApplied: true,
        }),
      });
    const receipt = await ctx.deferredDoses?.receipt(input.receiptId, ctx.user.id);
    // No safeguards middleware here to translate it: the typed 404 is made here.
    if (!receipt) throw toTRPCError(receiptNotFound());
    return receipt;
  });
