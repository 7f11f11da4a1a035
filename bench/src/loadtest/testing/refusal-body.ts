/**
 * The body the sample app answers a call refused QUEUE_FULL with (a tRPC error through superjson,
 * with `userFriendly` data), for stand-in servers in the load tool's tests.
 */
export function queueFullRefusalBody(reason: string): string {
  return JSON.stringify({
    error: {
      json: {
        message: 'busy',
        code: -32603,
        data: {
          code: 'SERVICE_UNAVAILABLE',
          httpStatus: 503,
          userFriendly: {
            type: 'QUEUE_FULL',
            reason,
            message: 'Busy',
            suggestedActions: [],
            retryable: true,
            retryAfterMs: 100,
            errorId: 'err_1',
            degraded: false,
          },
        },
      },
    },
  });
}
