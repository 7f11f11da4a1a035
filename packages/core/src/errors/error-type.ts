/** The closed set of failure kinds every error is mapped to. */
export const ErrorType = {
  VALIDATION: 'VALIDATION',
  RATE_LIMIT: 'RATE_LIMIT',
  CONNECTION: 'CONNECTION',
  CIRCUIT_BREAKER: 'CIRCUIT_BREAKER',
  QUEUE_FULL: 'QUEUE_FULL',
  TIMEOUT: 'TIMEOUT',
  DATABASE: 'DATABASE',
  AUTHENTICATION: 'AUTHENTICATION',
  AUTHORIZATION: 'AUTHORIZATION',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** How bad an error is for the service (not for the user who saw it). */
export const Severity = {
  LOW: 'low',
  MEDIUM: 'medium',
  HIGH: 'high',
  CRITICAL: 'critical',
} as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

/** What every error of a type gets unless its classification says otherwise. */
export interface ErrorTypeDefaults {
  httpStatus: number;
  severity: Severity;
  retryable: boolean;
  userMessage: string;
  suggestedActions: readonly string[];
}

/** Defaults per type. Messages are written for the person using the app, never for the developer. */
export const errorTypeDefaults: Readonly<Record<ErrorType, ErrorTypeDefaults>> = {
  VALIDATION: {
    httpStatus: 400,
    severity: 'low',
    retryable: false,
    userMessage: "Some of the information provided isn't valid.",
    suggestedActions: ['Check the highlighted fields and try again.'],
  },
  RATE_LIMIT: {
    httpStatus: 429,
    severity: 'low',
    retryable: true,
    userMessage: "You're doing that too often.",
    suggestedActions: ['Wait a moment, then try again.'],
  },
  CONNECTION: {
    httpStatus: 503,
    severity: 'high',
    retryable: true,
    userMessage: "We're having trouble reaching our database right now.",
    suggestedActions: ['Try again in a few moments.', 'If this keeps happening, check our status page.'],
  },
  CIRCUIT_BREAKER: {
    httpStatus: 503,
    severity: 'high',
    retryable: true,
    userMessage: 'This part of the app is briefly unavailable while we recover from a problem.',
    suggestedActions: ['Try again shortly; your data is safe.'],
  },
  QUEUE_FULL: {
    httpStatus: 503,
    severity: 'high',
    retryable: true,
    userMessage: "We're handling a lot of requests right now.",
    suggestedActions: ['Try again in a few seconds.'],
  },
  TIMEOUT: {
    httpStatus: 504,
    severity: 'high',
    retryable: true,
    userMessage: 'That took longer than expected.',
    suggestedActions: ['Try again.', 'If you were saving something, refresh to check whether it was saved.'],
  },
  DATABASE: {
    httpStatus: 500,
    severity: 'medium',
    retryable: false,
    userMessage: 'Something went wrong while loading or saving your data.',
    suggestedActions: ['Try again.', 'If the problem persists, contact support with the error ID.'],
  },
  AUTHENTICATION: {
    httpStatus: 401,
    severity: 'medium',
    retryable: false,
    userMessage: 'Please sign in to continue.',
    suggestedActions: ['Sign in again.'],
  },
  AUTHORIZATION: {
    httpStatus: 403,
    severity: 'medium',
    retryable: false,
    userMessage: "You don't have permission to do that.",
    suggestedActions: ['Ask whoever manages access to it for permission.'],
  },
  NOT_FOUND: {
    httpStatus: 404,
    severity: 'low',
    retryable: false,
    userMessage: "We couldn't find what you were looking for.",
    suggestedActions: ['Check that it still exists, then refresh.'],
  },
  CONFLICT: {
    httpStatus: 409,
    severity: 'low',
    retryable: false,
    userMessage: 'This conflicts with data that already exists or was changed by someone else.',
    suggestedActions: ['Refresh to see the latest data, then try again.'],
  },
  INTERNAL: {
    httpStatus: 500,
    severity: 'high',
    retryable: false,
    userMessage: 'Something unexpected went wrong.',
    suggestedActions: ['Try again.', 'If the problem persists, contact support with the error ID.'],
  },
};

/** True for the kinds that mean "the database is unavailable right now", as opposed to "this request is wrong". */
export function isUnavailableType(type: ErrorType): boolean {
  return (
    type === ErrorType.CONNECTION ||
    type === ErrorType.CIRCUIT_BREAKER ||
    type === ErrorType.QUEUE_FULL ||
    type === ErrorType.TIMEOUT
  );
}
