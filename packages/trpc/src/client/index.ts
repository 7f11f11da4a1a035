/**
 * @db-safeguards/trpc/client: typed `userFriendly` errors and safe retries for tRPC clients. Imports
 * nothing from the server side, so it is safe in browser bundles.
 */

export type { UserFriendlyErrorData } from '../user-friendly-data.js';
export type { ShouldRetryOptions } from './query-retry.js';
export { retryDelay, shouldRetry } from './query-retry.js';
export type { RetryDelayOptions } from './retry-delay.js';
export { computeRetryDelay } from './retry-delay.js';
export type { SafeguardsRetryLinkOptions } from './retry-link.js';
export { safeguardsRetryLink } from './retry-link.js';
export { getUserFriendlyError } from './user-friendly-error.js';
