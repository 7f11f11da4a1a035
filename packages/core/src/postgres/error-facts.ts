import { isSqlState } from './sqlstate.js';

/** The fields of one error in a cause chain that the classifier looks at. */
export interface ErrorNode {
  name: string;
  message: string;
  /** A SQLSTATE, when the node has one. */
  sqlState: string | undefined;
  /** Any other string code (`ECONNRESET`, `CONNECTION_CLOSED`, ...). */
  code: string | undefined;
  constraint: string | undefined;
  table: string | undefined;
  /**
   * The node carries a driver's or the network stack's marks: a driver's error name, a `code`, an
   * `errno` or a `syscall`. Only such errors are classified by the words of their message, so an
   * app's own "quota exceeded" or "network error" never reads as a database outage.
   */
  driverShaped: boolean;
  /** A DOM-style error event (`ErrorEvent`, or a bare `Event` in browsers) rather than an Error. */
  isEvent: boolean;
  /** The raw value, for shape checks such as ZodError's `issues`. */
  value: object;
}

const maxNodes = 12;

/**
 * Names of the drivers' error classes. pg-protocol's and PGlite's DatabaseError are named after the
 * protocol message ('error'), so that name counts only together with the message `length` they keep.
 */
const driverErrorNames = new Set(['PostgresError', 'DatabaseError', 'NeonDbError']);

/** Reads a property without letting a throwing getter or Proxy trap escape. */
function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function has(value: object, key: string): boolean {
  try {
    return key in value;
  } catch {
    return false;
  }
}

/** `instanceof` that a Proxy's getPrototypeOf trap cannot make throw. */
function isInstance(value: object, type: abstract new (...args: never[]) => object): boolean {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function constructorName(value: object): string | undefined {
  const maker = read(value, 'constructor');
  return typeof maker === 'function' ? asString(read(maker, 'name')) : undefined;
}

/** WebSocket failures arrive as events: `type: 'error'` on an object that is an Event, not an Error. */
function isErrorEvent(value: object): boolean {
  if (isInstance(value, Error) || read(value, 'type') !== 'error') return false;
  const EventClass = (globalThis as { Event?: abstract new (...args: never[]) => object }).Event;
  return (
    (EventClass !== undefined && isInstance(value, EventClass)) ||
    has(value, 'target') ||
    /Event$/.test(constructorName(value) ?? '')
  );
}

function toNode(value: object): ErrorNode {
  const rawCode = read(value, 'code');
  const code = typeof rawCode === 'number' ? String(rawCode) : asString(rawCode);
  const isEvent = isErrorEvent(value);
  const name = asString(read(value, 'name')) ?? (isEvent ? (constructorName(value) ?? 'ErrorEvent') : '');
  const driverShaped =
    driverErrorNames.has(name) ||
    (name === 'error' && typeof read(value, 'length') === 'number') ||
    (code !== undefined && code !== '') ||
    read(value, 'errno') !== undefined ||
    typeof read(value, 'syscall') === 'string';
  return {
    name,
    message: asString(read(value, 'message')) ?? '',
    sqlState: isSqlState(code) ? code : undefined,
    code: isSqlState(code) ? undefined : code,
    // pg, Neon's Pool and PGlite use `constraint`/`table`; postgres.js uses snake_case names.
    constraint: asString(read(value, 'constraint')) ?? asString(read(value, 'constraint_name')),
    table: asString(read(value, 'table')) ?? asString(read(value, 'table_name')),
    driverShaped,
    isEvent,
    value,
  };
}

/**
 * Flattens an error and everything it wraps, outermost first: the standard `cause` chain (drizzle's
 * DrizzleQueryError, fetch's TypeError), `sourceError` (what Neon's HTTP driver wraps when fetch
 * fails), `error` (a WebSocket ErrorEvent) and `errors` (AggregateError from Node's dual-stack
 * connect). Bounded and cycle-safe, so hostile input cannot hang or blow the stack.
 */
export function collectErrorNodes(root: unknown): ErrorNode[] {
  const nodes: ErrorNode[] = [];
  const seen = new Set<object>();
  const pending: unknown[] = [root];
  while (pending.length > 0 && nodes.length < maxNodes) {
    const current = pending.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    nodes.push(toNode(current));
    pending.push(read(current, 'cause'), read(current, 'sourceError'), read(current, 'error'));
    const errors = read(current, 'errors');
    if (Array.isArray(errors)) pending.push(...errors.slice(0, 3));
  }
  return nodes;
}
