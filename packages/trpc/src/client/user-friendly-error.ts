import type { UserFriendlyErrorData } from '../user-friendly-data.js';

function isUserFriendly(value: unknown): value is UserFriendlyErrorData {
  const candidate = value as Partial<UserFriendlyErrorData> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.type === 'string' &&
    typeof candidate.message === 'string' &&
    typeof candidate.retryable === 'boolean' &&
    Array.isArray(candidate.suggestedActions)
  );
}

/**
 * The `userFriendly` data of an error from a tRPC client call (a `TRPCClientError`), or undefined when
 * the error did not come from a server using `safeguardsErrorFormatter` (a network failure, say).
 *
 * @example
 * try {
 *   await client.orders.create.mutate(order);
 * } catch (error) {
 *   const userFriendly = getUserFriendlyError(error);
 *   showToast(userFriendly?.message ?? 'No connection.', userFriendly?.suggestedActions);
 * }
 */
export function getUserFriendlyError(error: unknown): UserFriendlyErrorData | undefined {
  const holder = error as
    | { data?: { userFriendly?: unknown }; shape?: { data?: { userFriendly?: unknown } } }
    | null
    | undefined;
  const found = holder?.data?.userFriendly ?? holder?.shape?.data?.userFriendly;
  return isUserFriendly(found) ? found : undefined;
}
