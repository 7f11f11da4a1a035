/**
 * The start-up check: does the configured budget fit in what the database allows this role? Core
 * runs no SQL of its own: the app runs {@link connectionLimitQuery} through its driver and hands the
 * row to {@link checkConnectionLimit}, a pure function (every driver that speaks SQL can; PGlite has
 * one in-process connection and nothing to check).
 */

/**
 * One row: the role's `CONNECTION LIMIT` (-1: none), `max_connections`, the slots reserved for
 * superusers, those reserved for roles granted `pg_use_reserved_connections` (PostgreSQL 16+; 0
 * before), and whether the role may use them. Readable by any role (pg_roles, current_setting).
 */
export const connectionLimitQuery = `select r.rolconnlimit as role_limit,
  current_setting('max_connections')::int as max_connections,
  current_setting('superuser_reserved_connections')::int as superuser_reserved,
  coalesce(current_setting('reserved_connections', true), '0')::int as reserved,
  r.rolsuper as is_superuser,
  exists (select 1 from pg_roles p where p.rolname = 'pg_use_reserved_connections'
    and pg_has_role(current_user, p.oid, 'member')) as uses_reserved
from pg_roles r where r.rolname = current_user`;

/** What the database allows the connected role. */
export interface ConnectionLimitReading {
  /** The role's `CONNECTION LIMIT`; undefined when it has none (-1) or is a superuser (not enforced). */
  roleLimit: number | undefined;
  maxConnections: number;
  /** Slots of `max_connections` the role cannot use (reserved for superusers or privileged roles). */
  reservedForOthers: number;
  /** Connections this role may open: the smaller of its own limit and the server's slots left to it. */
  limit: number;
  /** Which of the two sets `limit`. */
  limitedBy: 'role' | 'server';
}

/** The budget is larger than what the database allows: calls beyond it would be refused with 53300. */
export interface ConnectionLimitWarning {
  readonly code: 'budget-exceeds-connection-limit';
  /** The budget checked: this process's, or the capacity a shared budget hands out to every instance. */
  readonly budget: number;
  readonly reading: ConnectionLimitReading;
  readonly message: string;
}

/** {@link checkConnectionLimit} with `exceeded: 'error'`: the budget does not fit, start-up should stop. */
export class ConnectionLimitExceededError extends Error {
  override readonly name = 'ConnectionLimitExceededError';
  readonly code = 'budget-exceeds-connection-limit';

  constructor(readonly warning: ConnectionLimitWarning) {
    super(warning.message);
  }
}

/** Options of {@link checkConnectionLimit}. */
export interface ConnectionLimitCheckOptions {
  /** `warn` (default): return the warning and pass it to `onWarning`; `error`: throw instead. */
  exceeded?: 'warn' | 'error';
  /** Where the warning goes. Default `console.warn` of its message. */
  onWarning?: (warning: ConnectionLimitWarning) => void;
}

const integer = (value: unknown, column: string): number => {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    throw new TypeError(
      `Expected column ${column} of connectionLimitQuery to be an integer, got ${String(value)}`,
    );
  }
  return number;
};

/** Reads one row of {@link connectionLimitQuery} (column values as the driver returns them). */
export function readConnectionLimit(row: Readonly<Record<string, unknown>>): ConnectionLimitReading {
  const roleLimit = integer(row.role_limit, 'role_limit');
  const maxConnections = integer(row.max_connections, 'max_connections');
  const superuser = row.is_superuser === true || row.is_superuser === 't';
  const usesReserved = row.uses_reserved === true || row.uses_reserved === 't';
  const reservedForOthers = superuser
    ? 0
    : integer(row.superuser_reserved, 'superuser_reserved') +
      (usesReserved ? 0 : integer(row.reserved, 'reserved'));
  const server = Math.max(0, maxConnections - reservedForOthers);
  // PostgreSQL does not enforce a role's CONNECTION LIMIT on superusers.
  const role = roleLimit >= 0 && !superuser ? roleLimit : undefined;
  const limitedBy = role !== undefined && role <= server ? 'role' : 'server';
  return {
    roleLimit: role,
    maxConnections,
    reservedForOthers,
    limit: limitedBy === 'role' ? role! : server,
    limitedBy,
  };
}

/**
 * Compares `budget` with what the database allows (one row of {@link connectionLimitQuery}). Returns
 * the warning when the budget is larger (after passing it to `onWarning`), undefined when it fits;
 * with `exceeded: 'error'` throws a {@link ConnectionLimitExceededError} instead. Other clients of the
 * same role or server are not counted: a budget that fits can still meet 53300, which the adaptive
 * limit then absorbs.
 *
 * @example
 * const [row] = await sql.unsafe(connectionLimitQuery);
 * checkConnectionLimit(safeguards.queue.options.maxConcurrentConnections, row, { exceeded: 'error' });
 */
export function checkConnectionLimit(
  budget: number,
  row: Readonly<Record<string, unknown>>,
  options: ConnectionLimitCheckOptions = {},
): ConnectionLimitWarning | undefined {
  const reading = readConnectionLimit(row);
  if (budget <= reading.limit) return undefined;
  const source =
    reading.limitedBy === 'role'
      ? `the role's CONNECTION LIMIT is ${reading.limit}`
      : `the server leaves this role ${reading.limit} of max_connections ${reading.maxConnections} (${reading.reservedForOthers} reserved)`;
  const warning: ConnectionLimitWarning = {
    code: 'budget-exceeds-connection-limit',
    budget,
    reading,
    message: `The connection budget of ${budget} is larger than the database allows: ${source}. Calls beyond ${reading.limit} will be refused with 53300 (too many connections); lower the budget (QUEUE_MAX_CONNECTIONS) or raise the limit.`,
  };
  if (options.exceeded === 'error') throw new ConnectionLimitExceededError(warning);
  (options.onWarning ?? ((w: ConnectionLimitWarning) => console.warn(`[db-safeguards] ${w.message}`)))(
    warning,
  );
  return warning;
}
