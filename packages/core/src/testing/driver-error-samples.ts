import type { ErrorType } from '../errors/error-type.js';

/** An error shaped like one a real driver throws, and what `classifyError` must make of it. */
export interface DriverErrorSample {
  name: string;
  create: () => unknown;
  expected: { type: ErrorType; reason: string; retryable: boolean };
}

/** postgres.js: `PostgresError` with a string `code` and snake_case fields. */
function postgresJsError(code: string, message: string, fields: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), {
    name: 'PostgresError',
    code,
    severity: 'ERROR',
    severity_local: 'ERROR',
    ...fields,
  });
}

/** pg and Neon's WebSocket Pool: pg-protocol's `DatabaseError`, whose `name` is the message type 'error'. */
function pgError(code: string, message: string, fields: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), {
    name: 'error',
    code,
    severity: 'ERROR',
    length: 100,
    ...fields,
  });
}

/** Node's socket errors: `code`, `errno`, `syscall`. */
function socketError(code: string, syscall = 'connect'): Error {
  return Object.assign(new Error(`${syscall} ${code} 127.0.0.1:5432`), {
    code,
    errno: -1,
    syscall,
    address: '127.0.0.1',
    port: 5432,
  });
}

/** drizzle-orm >= 0.44 wraps driver errors; its message repeats the SQL and parameters. */
function drizzleWrapped(cause: unknown): Error {
  const error = new Error(
    'Failed query: insert into "users" ("email") values ($1)\nparams: secret@example.com',
    { cause },
  );
  error.name = 'DrizzleQueryError';
  return error;
}

/** Neon's HTTP driver: `NeonDbError`; non-400 answers have no code, only this message. */
function neonHttpError(status: number, body: object | string): Error {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const error = new Error(`Server error (HTTP status ${status}): ${text}`);
  error.name = 'NeonDbError';
  return error;
}

/**
 * Neon's HTTP driver when fetch itself throws: the runtime's error, stringified into the message and
 * kept on `sourceError` (not `cause`).
 */
function neonFetchFailed(sourceError: Error): Error {
  return Object.assign(new Error(`Error connecting to database: ${String(sourceError)}`), {
    name: 'NeonDbError',
    sourceError,
  });
}

/** A WebSocket error as the runtime dispatches it: an Event (not an Error), here without `error`. */
function errorEvent(message: string): unknown {
  const EventClass = (globalThis as { Event?: new (type: string) => object }).Event;
  const event = EventClass ? new EventClass('error') : { type: 'error', target: null };
  return Object.assign(event, { message });
}

/**
 * Samples of every error shape `classifyError` understands. The core's integration tests produce the
 * real errors from the real drivers and check they have these shapes.
 */
export const driverErrorSamples: readonly DriverErrorSample[] = [
  {
    name: 'postgres.js unique violation wrapped by drizzle',
    create: () =>
      drizzleWrapped(
        postgresJsError('23505', 'duplicate key value violates unique constraint "users_email_key"', {
          constraint_name: 'users_email_key',
          table_name: 'users',
        }),
      ),
    expected: { type: 'CONFLICT', reason: 'unique-violation', retryable: false },
  },
  {
    name: 'postgres.js too many connections for role',
    create: () => postgresJsError('53300', 'too many connections for role "app"'),
    expected: { type: 'CONNECTION', reason: 'too-many-connections', retryable: true },
  },
  {
    name: 'postgres.js CONNECTION_CLOSED',
    create: () =>
      Object.assign(new Error('write CONNECTION_CLOSED 127.0.0.1:5432'), {
        code: 'CONNECTION_CLOSED',
        errno: 'CONNECTION_CLOSED',
      }),
    expected: { type: 'CONNECTION', reason: 'connection-lost', retryable: true },
  },
  {
    name: 'postgres.js CONNECTION_ENDED (we shut down)',
    create: () =>
      Object.assign(new Error('write CONNECTION_ENDED 127.0.0.1:5432'), {
        code: 'CONNECTION_ENDED',
        errno: 'CONNECTION_ENDED',
      }),
    expected: { type: 'CONNECTION', reason: 'client-closed', retryable: false },
  },
  {
    name: 'pg admin shutdown (Neon compute suspended)',
    create: () => pgError('57P01', 'terminating connection due to administrator command'),
    expected: { type: 'CONNECTION', reason: 'admin-shutdown', retryable: true },
  },
  {
    name: 'pg serialization failure',
    create: () => pgError('40001', 'could not serialize access due to concurrent update'),
    expected: { type: 'DATABASE', reason: 'serialization-failure', retryable: true },
  },
  {
    name: 'pg statement timeout',
    create: () => pgError('57014', 'canceling statement due to statement timeout'),
    expected: { type: 'TIMEOUT', reason: 'statement-timeout', retryable: false },
  },
  {
    name: 'pg foreign key violation',
    create: () =>
      pgError('23503', 'insert or update on table "orders" violates foreign key constraint', {
        constraint: 'orders_customer_id_fkey',
        table: 'orders',
      }),
    expected: { type: 'CONFLICT', reason: 'foreign-key-violation', retryable: false },
  },
  {
    name: 'pg not-null violation',
    create: () => pgError('23502', 'null value in column "name" violates not-null constraint'),
    expected: { type: 'VALIDATION', reason: 'not-null-violation', retryable: false },
  },
  {
    name: 'pg invalid text representation',
    create: () => pgError('22P02', 'invalid input syntax for type uuid: "abc"'),
    expected: { type: 'VALIDATION', reason: 'data-exception', retryable: false },
  },
  {
    name: 'pg insufficient privilege',
    create: () => pgError('42501', 'permission denied for table orders'),
    expected: { type: 'AUTHORIZATION', reason: 'insufficient-privilege', retryable: false },
  },
  {
    name: 'pg undefined table',
    create: () => pgError('42P01', 'relation "orderz" does not exist'),
    expected: { type: 'DATABASE', reason: 'invalid-statement', retryable: false },
  },
  {
    name: 'pg password authentication failed',
    create: () => pgError('28P01', 'password authentication failed for user "app"'),
    expected: { type: 'CONNECTION', reason: 'database-authentication-failed', retryable: false },
  },
  {
    name: 'pg Connection terminated unexpectedly',
    create: () => new Error('Connection terminated unexpectedly'),
    expected: { type: 'CONNECTION', reason: 'connection-lost', retryable: true },
  },
  {
    name: 'pg pool acquire timeout',
    create: () => new Error('timeout exceeded when trying to connect'),
    expected: { type: 'CONNECTION', reason: 'pool-wait-timeout', retryable: true },
  },
  {
    name: 'Neon proxy: compute unreachable (XX000)',
    create: () => pgError('XX000', "Couldn't connect to compute node"),
    expected: { type: 'CONNECTION', reason: 'neon-compute-unreachable', retryable: true },
  },
  {
    name: 'Neon proxy: too many connections to this endpoint (XX000)',
    create: () => pgError('XX000', 'Too many connections to this endpoint. Please try again later.'),
    expected: { type: 'CONNECTION', reason: 'too-many-connections', retryable: true },
  },
  {
    name: 'Neon proxy: failed to acquire permit (XX000)',
    create: () =>
      pgError(
        'XX000',
        'Failed to acquire permit to connect to the database. Too many database connection attempts are currently ongoing.',
      ),
    expected: { type: 'CONNECTION', reason: 'too-many-connections', retryable: true },
  },
  {
    name: 'Neon proxy: endpoint disabled (XX000)',
    create: () =>
      pgError(
        'XX000',
        'The endpoint has been disabled. Enable it using Neon API and retry. (endpoint is disabled)',
      ),
    expected: { type: 'CONNECTION', reason: 'neon-endpoint-disabled', retryable: false },
  },
  {
    name: 'Neon proxy: quota exceeded (XX000)',
    create: () =>
      pgError(
        'XX000',
        'Your account or project has exceeded the compute time quota. Upgrade your plan to increase limits.',
      ),
    expected: { type: 'CONNECTION', reason: 'neon-quota-exceeded', retryable: false },
  },
  {
    name: 'plain XX000 internal error',
    create: () => pgError('XX000', 'cache lookup failed for relation 12345'),
    expected: { type: 'DATABASE', reason: 'internal-error', retryable: false },
  },
  {
    name: 'PgBouncer query_wait_timeout (08P01)',
    create: () => pgError('08P01', 'query_wait_timeout'),
    expected: { type: 'CONNECTION', reason: 'pool-wait-timeout', retryable: true },
  },
  {
    name: 'Neon HTTP 500 with a SQLSTATE in the body',
    create: () => neonHttpError(500, { message: 'sorry, too many clients already', code: '53300' }),
    expected: { type: 'CONNECTION', reason: 'too-many-connections', retryable: true },
  },
  {
    name: 'Neon HTTP 500 with a proxy message',
    create: () => neonHttpError(500, { message: "Couldn't connect to compute node" }),
    expected: { type: 'CONNECTION', reason: 'neon-compute-unreachable', retryable: true },
  },
  {
    name: 'Neon HTTP 502 without a useful body',
    create: () => neonHttpError(502, { message: 'bad gateway' }),
    expected: { type: 'CONNECTION', reason: 'database-http-error', retryable: true },
  },
  {
    name: 'Neon HTTP 400 (code on the error)',
    create: () =>
      Object.assign(new Error('relation "orderz" does not exist'), {
        name: 'NeonDbError',
        code: '42P01',
        severity: 'ERROR',
      }),
    expected: { type: 'DATABASE', reason: 'invalid-statement', retryable: false },
  },
  {
    name: 'Neon WebSocket ErrorEvent (proxy unreachable)',
    create: () => ({
      type: 'error',
      message: 'connect ECONNREFUSED 127.0.0.1:443',
      error: socketError('ECONNREFUSED'),
    }),
    expected: { type: 'CONNECTION', reason: 'connection-refused', retryable: true },
  },
  {
    name: 'fetch failed wrapping ECONNRESET',
    create: () => new TypeError('fetch failed', { cause: socketError('ECONNRESET', 'read') }),
    expected: { type: 'CONNECTION', reason: 'connection-reset', retryable: true },
  },
  {
    name: 'Node ECONNREFUSED',
    create: () => socketError('ECONNREFUSED'),
    expected: { type: 'CONNECTION', reason: 'connection-refused', retryable: true },
  },
  {
    name: 'Node AggregateError from dual-stack connect',
    create: () =>
      Object.assign(new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], ''), {
        code: 'ECONNREFUSED',
      }),
    expected: { type: 'CONNECTION', reason: 'connection-refused', retryable: true },
  },
  {
    name: 'ZodError',
    create: () =>
      Object.assign(new Error('[]'), {
        name: 'ZodError',
        issues: [
          { code: 'too_small', path: ['item', 'amount'], message: 'Too small: expected number to be >0' },
        ],
      }),
    expected: { type: 'VALIDATION', reason: 'invalid-input', retryable: false },
  },
  {
    name: 'AbortSignal.timeout',
    create: () =>
      Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }),
    expected: { type: 'TIMEOUT', reason: 'deadline', retryable: true },
  },
  {
    name: 'postgres.js database does not exist (3D000)',
    create: () => postgresJsError('3D000', 'database "vetmed_typo" does not exist'),
    expected: { type: 'DATABASE', reason: 'undefined-database', retryable: false },
  },
  {
    name: 'pg schema does not exist (3F000)',
    create: () => pgError('3F000', 'schema "reporting" does not exist'),
    expected: { type: 'DATABASE', reason: 'undefined-schema', retryable: false },
  },
  {
    name: 'pg feature not supported (0A000)',
    create: () => pgError('0A000', 'FOR UPDATE is not allowed with aggregate functions'),
    expected: { type: 'DATABASE', reason: 'feature-not-supported', retryable: false },
  },
  {
    name: 'pg dependent objects still exist (2BP01)',
    create: () => pgError('2BP01', 'cannot drop table orders because other objects depend on it'),
    expected: { type: 'DATABASE', reason: 'dependent-objects-still-exist', retryable: false },
  },
  {
    name: 'pg disk full (53100)',
    create: () => pgError('53100', 'could not extend file "base/16384/16385": No space left on device'),
    expected: { type: 'DATABASE', reason: 'disk-full', retryable: false },
  },
  {
    name: 'pg lock not available (55P03)',
    create: () => pgError('55P03', 'could not obtain lock on row in relation "administrations"'),
    expected: { type: 'DATABASE', reason: 'lock-not-available', retryable: true },
  },
  {
    name: 'PgBouncer no more connections allowed (08P01)',
    create: () => pgError('08P01', 'no more connections allowed (max_client_conn)'),
    expected: { type: 'CONNECTION', reason: 'too-many-connections', retryable: true },
  },
  {
    name: 'pg statement cancelled on request (57014)',
    create: () => pgError('57014', 'canceling statement due to user request'),
    expected: { type: 'TIMEOUT', reason: 'query-cancelled', retryable: false },
  },
  {
    name: 'Neon HTTP 502 with an HTML body (a gateway page)',
    create: () => neonHttpError(502, '<html><head><title>502 Bad Gateway</title></head><body></body></html>'),
    expected: { type: 'CONNECTION', reason: 'database-http-error', retryable: true },
  },
  {
    name: 'Neon HTTP 503 with a plain-text body',
    create: () => neonHttpError(503, 'upstream connect error or disconnect/reset before headers'),
    expected: { type: 'CONNECTION', reason: 'database-http-error', retryable: true },
  },
  {
    name: 'Neon HTTP 429',
    create: () => neonHttpError(429, 'Too Many Requests'),
    expected: { type: 'CONNECTION', reason: 'too-many-connections', retryable: true },
  },
  {
    name: 'Neon HTTP 404 with a proxy message',
    create: () =>
      neonHttpError(404, {
        message: 'The requested endpoint could not be found, or you do not have access to it.',
      }),
    expected: { type: 'CONNECTION', reason: 'neon-endpoint-not-found', retryable: false },
  },
  {
    name: 'Neon HTTP fetch failed on Node (ECONNREFUSED on sourceError)',
    create: () => neonFetchFailed(new TypeError('fetch failed', { cause: socketError('ECONNREFUSED') })),
    expected: { type: 'CONNECTION', reason: 'connection-refused', retryable: true },
  },
  {
    name: 'Neon HTTP fetch failed in a browser',
    create: () => neonFetchFailed(new TypeError('Failed to fetch')),
    expected: { type: 'CONNECTION', reason: 'network-error', retryable: true },
  },
  {
    name: 'Neon HTTP fetch failed on Cloudflare Workers',
    create: () => neonFetchFailed(new Error('Network connection lost.')),
    expected: { type: 'CONNECTION', reason: 'network-error', retryable: true },
  },
  {
    name: 'Neon HTTP fetch failed on Deno',
    create: () =>
      neonFetchFailed(
        new TypeError('error sending request for url (https://ep-x.neon.tech/sql): connection closed'),
      ),
    expected: { type: 'CONNECTION', reason: 'network-error', retryable: true },
  },
  {
    name: 'WebSocket ErrorEvent without an error (native WebSocket)',
    create: () => errorEvent(''),
    expected: { type: 'CONNECTION', reason: 'websocket-failed', retryable: true },
  },
  {
    name: 'WebSocket ErrorEvent with only a message',
    create: () => errorEvent('connect ECONNREFUSED 127.0.0.1:443'),
    expected: { type: 'CONNECTION', reason: 'connection-refused', retryable: true },
  },
  {
    name: 'unknown error',
    create: () => new Error('something odd'),
    expected: { type: 'INTERNAL', reason: 'unexpected', retryable: false },
  },
];
