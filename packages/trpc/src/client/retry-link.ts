import type { Operation, TRPCClientError, TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { computeRetryDelay, type RetryDelayOptions } from './retry-delay.js';
import { getUserFriendlyError } from './user-friendly-error.js';

export interface SafeguardsRetryLinkOptions extends RetryDelayOptions {
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  /**
   * Time budget of a call, retries and waits included: no retry is started that would end past it.
   * Default 15 000 ms. A call can set its own with `context: { timeoutMs }` or `context: { deadline }`.
   */
  maxTotalMs?: number;
  /**
   * Mutations that may be retried (idempotent on the server, e.g. a write carrying an idempotency
   * key). A mutation can also mark itself with `context: { idempotent: true }`. Others never are.
   */
  idempotentMutations?: readonly string[] | ((op: Operation) => boolean);
  /** Called before each retry (logging, metrics). */
  onRetry?: (info: { op: Operation; attempt: number; delayMs: number; error: unknown }) => void;
}

function isIdempotent(op: Operation, option: SafeguardsRetryLinkOptions['idempotentMutations']): boolean {
  if (op.type === 'query') return true;
  if (op.type === 'subscription') return false;
  if ((op.context as { idempotent?: unknown }).idempotent === true) return true;
  if (typeof option === 'function') return option(op);
  return option?.includes(op.path) ?? false;
}

/** setTimeout fires at once for longer delays (they overflow a 32-bit int). */
const maxTimerMs = 2 ** 31 - 1;

function deadlineOf(op: Operation, startedAt: number, maxTotalMs: number): number {
  const context = op.context as { deadline?: unknown; timeoutMs?: unknown };
  if (typeof context.deadline === 'number') return context.deadline;
  if (typeof context.timeoutMs === 'number') return startedAt + context.timeoutMs;
  return startedAt + maxTotalMs;
}

/**
 * A tRPC link that retries calls the server marked retryable (`userFriendly.retryable`), waiting the
 * server's `retryAfterMs` (with jitter); when the server asks for a longer wait than `maxDelayMs` it
 * gives up at once and surfaces the error, since an earlier retry is certain to fail. It honours the
 * call's AbortSignal, bounds the whole call by its deadline (an attempt in flight is aborted when it
 * passes), and never retries a mutation that is not marked idempotent. Put it before the terminating
 * link.
 *
 * @example
 * const client = createTRPCClient<AppRouter>({
 *   links: [
 *     safeguardsRetryLink({ idempotentMutations: ['orders.create'] }),
 *     httpBatchLink({ url: '/trpc', transformer: superjson }),
 *   ],
 * });
 */
export function safeguardsRetryLink<TRouter extends AnyTRPCRouter>(
  options: SafeguardsRetryLinkOptions = {},
): TRPCLink<TRouter> {
  const maxAttempts = options.maxAttempts ?? 3;
  const maxTotalMs = options.maxTotalMs ?? 15_000;
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const startedAt = Date.now();
        const deadline = deadlineOf(op, startedAt, maxTotalMs);
        // Every attempt runs with this signal: it aborts with the caller's signal or at the deadline, so
        // an attempt already in flight is bounded by the deadline too, not only the waits between them.
        const attempts = new AbortController();
        const attemptOp: Operation = { ...op, signal: attempts.signal };
        let attempt = 0;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
        let lastError: TRPCClientError<TRouter> | undefined;
        let subscription: { unsubscribe(): void } | undefined;
        let finished = false;

        const cleanUp = () => {
          finished = true;
          if (timer !== undefined) clearTimeout(timer);
          if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
          op.signal?.removeEventListener('abort', onAbort);
        };
        const finish = (error?: TRPCClientError<TRouter>) => {
          if (finished) return;
          cleanUp();
          if (error) observer.error(error);
          else observer.complete();
        };
        // Aborting while waiting to retry ends the call at once with the last error.
        const onAbort = () => {
          attempts.abort(op.signal?.reason);
          if (timer !== undefined && lastError) finish(lastError);
        };
        if (op.signal?.aborted) attempts.abort(op.signal.reason);
        else op.signal?.addEventListener('abort', onAbort, { once: true });
        const budgetMs = deadline - startedAt;
        if (budgetMs <= maxTimerMs) {
          deadlineTimer = setTimeout(
            () => attempts.abort(new DOMException("The call's deadline passed", 'TimeoutError')),
            Math.max(0, budgetMs),
          );
          // Housekeeping: the request in flight, not this timer, is what keeps a process busy.
          (deadlineTimer as { unref?: () => void }).unref?.();
        }

        const attemptOnce = () => {
          attempt++;
          subscription = next(attemptOp).subscribe({
            next: (envelope) => observer.next(envelope),
            error: (error) => {
              lastError = error;
              const userFriendly = getUserFriendlyError(error);
              const delayMs = computeRetryDelay(attempt, userFriendly, options);
              const retry =
                delayMs !== undefined &&
                userFriendly?.retryable === true &&
                attempt < maxAttempts &&
                isIdempotent(op, options.idempotentMutations) &&
                !attempts.signal.aborted &&
                Date.now() + delayMs < deadline;
              if (!retry) {
                finish(error);
                return;
              }
              options.onRetry?.({ op, attempt, delayMs, error });
              timer = setTimeout(() => {
                timer = undefined;
                attemptOnce();
              }, delayMs);
            },
            complete: () => finish(),
          });
        };
        attemptOnce();
        return () => {
          cleanUp();
          subscription?.unsubscribe();
        };
      });
}
