import { type Classification, rejected, transient } from '../postgres/classification.js';
import { classifyErrorCode } from '../postgres/error-codes.js';
import { collectErrorNodes, type ErrorNode } from '../postgres/error-facts.js';
import {
  classifyConnectionMessage,
  classifyNeonProxyMessage,
  classifyPgBouncerMessage,
  classifyPgClientMessage,
  websocketFailed,
} from '../postgres/message-rules.js';
import {
  classifySqlState,
  internalDatabaseError,
  isSqlState,
  protocolViolation,
  tooManyConnections,
} from '../postgres/sqlstate.js';
import { isSafeguardError, SafeguardError, type ValidationIssue } from './safeguard-error.js';

/** Neon's HTTP driver, for any answer but 400: the status, then the body as text (JSON, HTML, ...). */
const neonHttpError = /^Server error \(HTTP status (\d{3})\):\s*([\s\S]*)$/;
/** A socket error code quoted in a message, as in an ErrorEvent's "connect ECONNREFUSED 1.2.3.4:443". */
const quotedErrorCode = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/;
const maxIssues = 20;
const maxInternalMessage = 500;

/**
 * drizzle's wrapper repeats the SQL and its parameters in its message: never read or log it. (Its
 * `name` is 'DrizzleQueryError' in some versions and plain 'Error' in 0.45, hence the prefix check.)
 */
function carriesSql(node: ErrorNode): boolean {
  return node.name === 'DrizzleQueryError' || node.message.startsWith('Failed query:');
}

/**
 * A SQLSTATE, with the message where the code alone does not decide: XX000 is every Neon proxy error,
 * 08P01 is transient only with PgBouncer's messages, 57014 is a timeout or a cancel.
 */
function fromSqlState(sqlState: string, message: string): Classification {
  if (sqlState === 'XX000') return classifyNeonProxyMessage(message) ?? internalDatabaseError;
  if (sqlState === '08P01') return classifyPgBouncerMessage(message) ?? protocolViolation;
  return classifySqlState(sqlState, message) ?? internalDatabaseError;
}

function parseJsonBody(text: string): { code?: unknown; message?: unknown } | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null ? body : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Neon's HTTP driver reports every answer but 400 as `Server error (HTTP status N): <body>` with no
 * code. A JSON body from Neon says what happened (a SQLSTATE, a proxy message); any other body (a
 * gateway's HTML page, plain text) is classified by the status alone: 429 too many connections, 5xx
 * a transient CONNECTION failure, any other a DATABASE error.
 */
function fromNeonHttp(message: string): { classification: Classification; sqlState?: string } | undefined {
  const match = neonHttpError.exec(message);
  if (!match) return undefined;
  const status = Number(match[1]);
  const body = parseJsonBody(match[2]!.trim());
  const bodyMessage = typeof body?.message === 'string' ? body.message : '';
  if (isSqlState(body?.code))
    return { classification: fromSqlState(body.code, bodyMessage), sqlState: body.code };
  // 429 asks for backoff whatever the body's words ("rate limit exceeded" is no plan quota).
  if (status === 429) return { classification: tooManyConnections };
  const byMessage = classifyNeonProxyMessage(bodyMessage) ?? classifyConnectionMessage(bodyMessage);
  if (byMessage) return { classification: byMessage };
  if (status >= 500) return { classification: transient('CONNECTION', 'database-http-error', false, 500) };
  return { classification: rejected('DATABASE', 'database-http-error') };
}

function zodIssues(node: ErrorNode): ValidationIssue[] | undefined {
  if (node.name !== 'ZodError') return undefined;
  const issues = (node.value as { issues?: unknown }).issues;
  if (!Array.isArray(issues)) return undefined;
  return issues.slice(0, maxIssues).map((issue) => {
    const path = Array.isArray(issue?.path) ? issue.path.map(String).join('.') : '';
    const message = typeof issue?.message === 'string' ? issue.message.slice(0, 200) : 'Invalid value';
    return { path, message };
  });
}

/** Connection strings carry passwords: never let one into a log line. */
const connectionString = /\b(?:postgres(?:ql)?|wss?|https?):\/\/[^\s'"]+/gi;

function summarise(node: ErrorNode | undefined): string {
  if (!node) return 'non-error value thrown';
  const message = carriesSql(node)
    ? '(query text hidden)'
    : node.message.replace(connectionString, '[connection string]');
  const text = `${node.name || 'Error'}${node.sqlState ? ` [${node.sqlState}]` : node.code ? ` [${node.code}]` : ''}: ${message}`;
  return text.length > maxInternalMessage ? `${text.slice(0, maxInternalMessage)}…` : text;
}

interface Decision {
  classification: Classification;
  node: ErrorNode | undefined;
  sqlState?: string;
  issues?: ValidationIssue[];
}

function decide(nodes: ErrorNode[]): Decision {
  const readable = nodes.filter((node) => !carriesSql(node));

  for (const node of nodes) {
    const issues = zodIssues(node);
    if (issues) return { classification: rejected('VALIDATION', 'invalid-input'), node, issues };
  }
  // The most specific evidence first: a SQLSTATE anywhere in the chain.
  for (const node of nodes) {
    if (node.sqlState)
      return { classification: fromSqlState(node.sqlState, node.message), node, sqlState: node.sqlState };
  }
  for (const node of readable) {
    const neon = fromNeonHttp(node.message);
    if (neon)
      return {
        classification: neon.classification,
        node,
        ...(neon.sqlState ? { sqlState: neon.sqlState } : {}),
      };
  }
  for (const node of readable) {
    const proxy = node.name === 'NeonDbError' ? classifyNeonProxyMessage(node.message) : undefined;
    if (proxy) return { classification: proxy, node };
  }
  for (const node of nodes) {
    const byCode = node.code ? classifyErrorCode(node.code) : undefined;
    if (byCode) return { classification: byCode, node };
  }
  for (const node of readable) {
    if (node.name === 'TimeoutError')
      return {
        classification: rejected('TIMEOUT', 'deadline', { retryable: true, notApplied: false }),
        node,
      };
    if (node.name === 'AbortError')
      return { classification: rejected('TIMEOUT', 'aborted', { notApplied: false }), node };
  }
  // A WebSocket that failed: an event, not an Error. Its `error` (with a code) was looked at above;
  // without one, a code quoted in its message still says more than "the WebSocket failed".
  for (const node of readable) {
    if (!node.isEvent) continue;
    const quoted = quotedErrorCode.exec(node.message)?.[1];
    return { classification: (quoted && classifyErrorCode(quoted)) || websocketFailed, node };
  }
  for (const node of readable) {
    const byMessage =
      classifyPgClientMessage(node.message) ??
      (node.driverShaped ? classifyConnectionMessage(node.message) : undefined);
    if (byMessage) return { classification: byMessage, node };
  }
  return {
    classification: rejected('INTERNAL', 'unexpected', { notApplied: false }),
    node: readable[0] ?? nodes[0],
  };
}

/**
 * Maps anything that was thrown to a {@link SafeguardError}: errors of postgres.js, pg and Neon's Pool
 * (SQLSTATE `code`), Neon's HTTP driver (`Server error (HTTP status N): <body>`, `Error connecting to
 * database: ...`), PGlite, drizzle's DrizzleQueryError (the chain of `cause` is walked), WebSocket
 * ErrorEvents, Node socket errors, AggregateError and ZodError. Messages are read only where they are
 * a driver's: an app's own error that merely mentions a quota or a network stays INTERNAL. A
 * SafeguardError found anywhere in the chain is returned as it is. Never throws; the original value is
 * kept as `cause`.
 *
 * @example
 * try {
 *   await sql`insert into users (email) values (${email})`;
 * } catch (error) {
 *   const classified = classifyError(error); // CONFLICT, reason 'unique-violation', constraint, table
 *   logger.warn(classified.toLogObject());
 * }
 */
export function classifyError(error: unknown): SafeguardError {
  try {
    if (isSafeguardError(error)) return error;
    const nodes = collectErrorNodes(error);
    for (const node of nodes) if (isSafeguardError(node.value)) return node.value;
    const { classification, node, sqlState, issues } = decide(nodes);
    return new SafeguardError({
      type: classification.type,
      reason: classification.reason,
      retryable: classification.retryable,
      notApplied: classification.notApplied,
      ...(classification.retryAfterMs === undefined ? {} : { retryAfterMs: classification.retryAfterMs }),
      ...(classification.severity ? { severity: classification.severity } : {}),
      ...(classification.userMessage ? { userMessage: classification.userMessage } : {}),
      ...(classification.suggestedActions ? { suggestedActions: classification.suggestedActions } : {}),
      internalMessage: summarise(node),
      ...(sqlState ? { sqlState } : {}),
      ...(node?.constraint ? { constraint: node.constraint } : {}),
      ...(node?.table ? { table: node.table } : {}),
      ...(issues ? { issues } : {}),
      cause: error,
    });
  } catch (classifierFailure) {
    return new SafeguardError({
      type: 'INTERNAL',
      reason: 'unclassifiable',
      cause: error,
      internalMessage: String(classifierFailure),
    });
  }
}
