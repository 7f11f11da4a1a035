import { UnsupportedDriverError } from '../errors/unsupported-driver-error.js';

/** The node-postgres versions this package is tested with. */
export const nodePostgresRange = '>=8.11.0 <9';

/** The fields of a pg `Client` this package relies on (`activeQuery` is what `Client#cancel` compares). */
export interface PgClientLike {
  query(...args: unknown[]): unknown;
  connect(...args: unknown[]): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  activeQuery?: unknown;
  connectionParameters: Record<string, unknown>;
  release?: (error?: Error | boolean) => void;
}

/** The fields of a pg `Pool` this package relies on. */
export interface PgPoolLike {
  query(...args: unknown[]): unknown;
  connect(...args: unknown[]): unknown;
  options: Record<string, unknown>;
  totalCount: number;
}

/** What kind of pg-compatible client `client` is (pg's or Neon's), or throws naming the range. */
export function pgClientKind(client: unknown, driver: string, range: string): 'pool' | 'client' {
  const candidate = client as Partial<PgPoolLike & PgClientLike> | null;
  if (candidate !== null && typeof candidate === 'object' && typeof candidate.query === 'function') {
    if (typeof candidate.options === 'object' && typeof candidate.totalCount === 'number') return 'pool';
    if (typeof candidate.connectionParameters === 'object') return 'client';
  }
  throw new UnsupportedDriverError(driver, range, 'the client is neither a Pool nor a Client of that driver');
}

/**
 * Asks the server to cancel what `client` is running, as pg does: a CancelRequest on a new short
 * connection (not a backend: it does not count against a connection limit), made by a client of the same
 * class and settings, so it goes where `client` went (through Neon's WebSocket proxy too). The running
 * statement fails with 57014 and the connection stays usable.
 */
export function cancelRunningQuery(client: PgClientLike): void {
  const active = client.activeQuery;
  if (!active) return;
  const Client = (client as unknown as { constructor: new (config: object) => unknown }).constructor;
  const canceller = new Client(client.connectionParameters) as {
    connection: { on(event: string, listener: () => void): void; end?: () => void };
    cancel(client: unknown, query: unknown): void;
  };
  canceller.connection.on('error', () => {}); // the server closes this connection after reading it
  canceller.cancel(client, active);
  const timer = setTimeout(() => canceller.connection.end?.(), 1000);
  (timer as { unref?: () => void }).unref?.();
}

/** SQLSTATEs after which the connection itself is still good (anything else: drop it from the pool). */
export function leavesConnectionUsable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(?:08|57P0)/.test(code);
}

/** The SQL text of a pg `query()` call's first argument (a string or a query config). */
export function queryTextOf(argument: unknown): string {
  if (typeof argument === 'string') return argument;
  const text = (argument as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : '';
}
