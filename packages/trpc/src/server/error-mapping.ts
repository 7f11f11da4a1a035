import {
  classifyError,
  type ErrorReason,
  type ErrorType,
  isSafeguardError,
  SafeguardError,
} from '@db-safeguards/core';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';

type TRPCCode = TRPCError['code'];

/** The one table from error type to tRPC code (and so HTTP status). Documented in the README. */
export const trpcCodeByErrorType: Readonly<Record<ErrorType, TRPCCode>> = {
  VALIDATION: 'BAD_REQUEST',
  RATE_LIMIT: 'TOO_MANY_REQUESTS',
  CONNECTION: 'SERVICE_UNAVAILABLE',
  CIRCUIT_BREAKER: 'SERVICE_UNAVAILABLE',
  QUEUE_FULL: 'SERVICE_UNAVAILABLE',
  TIMEOUT: 'GATEWAY_TIMEOUT',
  DATABASE: 'INTERNAL_SERVER_ERROR',
  AUTHENTICATION: 'UNAUTHORIZED',
  AUTHORIZATION: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/** An error type and one of its reasons. */
type Meaning = { [T in ErrorType]: { type: T; reason: ErrorReason<T> } }[ErrorType];

/**
 * How an error a procedure throws on purpose (`new TRPCError({ code })`) reads as an error type, with
 * the code in kebab case as its reason. Codes that say nothing of the kind are INTERNAL.
 */
const meaningOfTRPCCode: Readonly<Record<TRPCCode, Meaning>> = {
  PARSE_ERROR: { type: 'VALIDATION', reason: 'parse-error' },
  BAD_REQUEST: { type: 'VALIDATION', reason: 'bad-request' },
  UNPROCESSABLE_CONTENT: { type: 'VALIDATION', reason: 'unprocessable-content' },
  PAYLOAD_TOO_LARGE: { type: 'VALIDATION', reason: 'payload-too-large' },
  METHOD_NOT_SUPPORTED: { type: 'VALIDATION', reason: 'method-not-supported' },
  UNSUPPORTED_MEDIA_TYPE: { type: 'VALIDATION', reason: 'unsupported-media-type' },
  UNAUTHORIZED: { type: 'AUTHENTICATION', reason: 'unauthorized' },
  FORBIDDEN: { type: 'AUTHORIZATION', reason: 'forbidden' },
  NOT_FOUND: { type: 'NOT_FOUND', reason: 'not-found' },
  CONFLICT: { type: 'CONFLICT', reason: 'conflict' },
  PRECONDITION_FAILED: { type: 'CONFLICT', reason: 'precondition-failed' },
  TOO_MANY_REQUESTS: { type: 'RATE_LIMIT', reason: 'too-many-requests' },
  TIMEOUT: { type: 'TIMEOUT', reason: 'timeout' },
  GATEWAY_TIMEOUT: { type: 'TIMEOUT', reason: 'gateway-timeout' },
  CLIENT_CLOSED_REQUEST: { type: 'TIMEOUT', reason: 'client-closed-request' },
  SERVICE_UNAVAILABLE: { type: 'CONNECTION', reason: 'service-unavailable' },
  BAD_GATEWAY: { type: 'CONNECTION', reason: 'bad-gateway' },
  INTERNAL_SERVER_ERROR: { type: 'INTERNAL', reason: 'internal-server-error' },
  NOT_IMPLEMENTED: { type: 'INTERNAL', reason: 'not-implemented' },
  PAYMENT_REQUIRED: { type: 'INTERNAL', reason: 'payment-required' },
  PRECONDITION_REQUIRED: { type: 'INTERNAL', reason: 'precondition-required' },
};

/** The tRPC code for a classified error. A caller that went away gets 499, not 504. */
export function trpcCodeFor(error: SafeguardError): TRPCCode {
  if (error.type === 'TIMEOUT' && error.reason === 'aborted') return 'CLIENT_CLOSED_REQUEST';
  return trpcCodeByErrorType[error.type];
}

function isTRPCError(value: unknown): value is TRPCError {
  return (
    value instanceof TRPCError ||
    (value instanceof Error && value.name === 'TRPCError' && typeof (value as TRPCError).code === 'string')
  );
}

/**
 * The message the developer gave a TRPCError, if any. tRPC fills a missing message with the cause's
 * message (a driver error, a connection string) or with the code itself ("UNAUTHORIZED"): neither was
 * written for users.
 */
function developerMessage(error: TRPCError): string | undefined {
  const message = error.message;
  if (!message || message === error.code) return undefined;
  const cause = error.cause as { message?: unknown } | undefined;
  if (cause !== undefined && message === cause.message) return undefined;
  return message;
}

/**
 * A TRPCError thrown on purpose with a 4xx code (bad input, not signed in, not found, conflict, rate
 * limited) means the procedure refused the call, so a write did not happen. A 5xx or a timeout
 * (408, 499) says nothing of the kind: the write may have been applied before it was thrown.
 */
function refusedBeforeWriting(error: TRPCError): boolean {
  if (error.code === 'TIMEOUT' || error.code === 'CLIENT_CLOSED_REQUEST') return false;
  const status = getHTTPStatusCodeFromError(error);
  return status >= 400 && status < 500;
}

/**
 * SafeguardErrors made from a TRPCError a procedure threw on purpose with a 4xx code: the procedure as
 * a whole refused the call, so none of its writes happened (unlike an error of one database operation
 * inside it, which says nothing of the writes before it).
 */
const procedureRefusals = new WeakSet<SafeguardError>();

/** Was this error a refusal of the whole procedure (see {@link toSafeguardError})? */
export function isProcedureRefusal(error: SafeguardError): boolean {
  return procedureRefusals.has(error);
}

// The same thrown value always maps to the same SafeguardError, so the error ID a client sees is the
// one in the server's log, however many times the error is looked at (onError, formatter, headers).
const classified = new WeakMap<object, SafeguardError>();

/**
 * Classifies anything a procedure can end with. Database and driver errors, ours or wrapped by tRPC
 * (`INTERNAL_SERVER_ERROR` with a `cause`), go through the core's `classifyError`. A `TRPCError` a
 * procedure threw on purpose keeps its meaning, and its message when its author wrote one (else the
 * default message of its type); an `INTERNAL_SERVER_ERROR` never shows its message, which is whatever
 * the original error said.
 */
export function toSafeguardError(error: unknown): SafeguardError {
  if (isSafeguardError(error)) return error;
  if (typeof error !== 'object' || error === null) return classifyError(error);
  const known = classified.get(error);
  if (known) return known;
  let result: SafeguardError;
  if (isTRPCError(error)) {
    const fromCause = error.cause === undefined ? undefined : classifyError(error.cause);
    if (fromCause && (fromCause.type !== 'INTERNAL' || isSafeguardError(error.cause))) {
      result = fromCause;
    } else {
      // A code tRPC adds later than this table is INTERNAL, as an unknown error is.
      const meaning = meaningOfTRPCCode[error.code] ?? meaningOfTRPCCode.INTERNAL_SERVER_ERROR;
      const deliberate = error.code !== 'INTERNAL_SERVER_ERROR';
      const written = deliberate ? developerMessage(error) : undefined;
      result = new SafeguardError<ErrorType>({
        ...meaning,
        ...(written === undefined ? {} : { userMessage: written.slice(0, 500) }),
        notApplied: deliberate && refusedBeforeWriting(error),
        internalMessage: `TRPCError ${error.code}${fromCause ? `: ${fromCause.internalMessage}` : ''}`,
        cause: error,
      });
      if (result.notApplied) procedureRefusals.add(result);
    }
  } else {
    result = classifyError(error);
  }
  classified.set(error, result);
  return result;
}

/**
 * The TRPCError a client gets for `error`: the code from the table, the user-facing message, and the
 * SafeguardError as `cause` for the error formatter. A TRPCError thrown on purpose (any code but
 * INTERNAL_SERVER_ERROR), or one already translated, is returned as it is.
 */
export function toTRPCError(error: unknown): TRPCError {
  if (isTRPCError(error)) {
    const translated = isSafeguardError(error.cause) && error.code === trpcCodeFor(error.cause);
    if (translated || error.code !== 'INTERNAL_SERVER_ERROR') return error;
  }
  const safeguardError = toSafeguardError(error);
  return new TRPCError({
    code: trpcCodeFor(safeguardError),
    message: safeguardError.userMessage,
    cause: safeguardError,
  });
}
