import { type SafeguardsMeta, toSafeguardError } from '@db-safeguards/trpc';
import type { TRPCMiddlewareFunction } from '@trpc/server';
import type { MaybeStale } from '../degradation/stale-reads.js';
import type { RequestContext } from './context.js';

type Middleware = TRPCMiddlewareFunction<RequestContext, SafeguardsMeta, object, object, unknown>;
type Result = Awaited<ReturnType<Middleware>>;

/**
 * The middleware of `staleReadProcedure` (trpc/init.ts): it runs after the caller is known and before
 * the safeguards middleware, so it sees the refusals the safeguards make before the body runs (an open
 * breaker, a shed call) as well as the failures inside it. A procedure under it returns
 * `fresh(value)`; its value is kept per user, procedure and input (`ctx.staleReads`), and when a later
 * call fails because the database is unavailable the kept value is answered instead, marked
 * `degraded: true` with the time it is from. Any other failure, or one with nothing kept (or kept too
 * long), reaches the client as it was.
 */
export const staleWhileUnavailable: Middleware = async ({ ctx, path, getRawInput, next }) => {
  if (!ctx.user) return next();
  let passed: Result | undefined;
  let failed: Result | undefined;
  try {
    const answer = await ctx.staleReads.read(
      { userId: ctx.user.id, procedure: path, input: await getRawInput() },
      async () => {
        const result = await next();
        if (!result.ok) {
          failed = result;
          throw toSafeguardError(result.error);
        }
        passed = result;
        return (result.data as MaybeStale<unknown>).value;
      },
    );
    if (!answer.degraded) return passed!;
    return { marker: failed!.marker, ok: true, data: answer };
  } catch (error) {
    if (failed) return failed;
    throw error;
  }
};
