import { type Clock, systemClock, type TimerHandle } from '../internal/clock.js';
import { assertFunction, assertInteger } from '../internal/validate.js';

/**
 * Instances of one app sharing a database's connections without a shared budget (no Redis) can still
 * see each other: through the database. Each instance names its connections `<prefix><instance id>`
 * (`application_name`), and a look at `pg_stat_activity` every few seconds lists the instances that
 * hold connections of the role. Each then holds at most its share of the role's connections.
 *
 * Why it is needed: the adaptive limit alone (`capacity.adaptive`) lowers the limit of an instance
 * whose new connection the database refuses, but an instance that already holds every connection never
 * opens a new one, so it is never refused and never gives any back: the others wait at one slot each.
 * The database is the only place where they all show up.
 *
 * Core runs no SQL of its own: the app runs {@link peerInstancesQuery} through its driver (every
 * driver on a direct connection can; behind PgBouncer the server's backends belong to the pooler and
 * say nothing about instances, and PGlite has one in-process connection).
 */

/** The `application_name` of each client backend of the connected role; any role may read its own. */
export const peerInstancesQuery = `select application_name as name from pg_stat_activity
where usename = current_user and backend_type = 'client backend'`;

/** `application_name` holds at most 63 bytes (NAMEDATALEN − 1); PostgreSQL truncates longer ones. */
const applicationNameBytes = 63;

/**
 * The `application_name` of this instance's connections: `<prefix><instanceId>`, which must fit in
 * 63 characters (a longer name would be cut by PostgreSQL and no longer match). Throws a TypeError naming
 * the problem otherwise.
 */
export function peerApplicationName(prefix: string, instanceId: string): string {
  const printable = /^[\x21-\x7e]+$/;
  if (typeof prefix !== 'string' || !printable.test(prefix))
    throw new TypeError(
      `Expected prefix to be printable ASCII without spaces, got ${JSON.stringify(prefix)}`,
    );
  if (typeof instanceId !== 'string' || !printable.test(instanceId))
    throw new TypeError(
      `Expected instanceId to be printable ASCII without spaces, got ${JSON.stringify(instanceId)}`,
    );
  const name = `${prefix}${instanceId}`;
  if (name.length > applicationNameBytes)
    throw new TypeError(
      `Expected prefix + instanceId to fit in ${applicationNameBytes} characters (application_name), got ${name.length}: "${name}"`,
    );
  return name;
}

/**
 * This instance's share of `capacity` among `instances` (its own name among them or not): the
 * capacity split evenly, the remainder going one each to the first names in sorted order, so that the
 * shares of instances that see the same names add up to the capacity exactly. At least 1.
 */
export function peerShare(capacity: number, self: string, instances: Iterable<string>): number {
  const names = [...new Set([...instances, self])].sort();
  const base = Math.floor(capacity / names.length);
  const extra = capacity % names.length;
  return Math.max(1, base + (names.indexOf(self) < extra ? 1 : 0));
}

/** Options of {@link watchPeerInstances}. */
export interface PeerWatchOptions {
  /** Connections all instances share: the role's (or the server's) limit for the app. */
  capacity: number;
  /**
   * Slots left out of the split. An instance the others squeeze out holds no connection, so nobody
   * can see it; with one slot always free it gets a connection, shows up, and is counted at the next
   * look. 0 lets the instances seen use every slot, at the risk of never seeing a newcomer while they
   * keep them all busy. Default 1 (0 when the capacity is 1).
   */
  headroom?: number;
  /** This instance's `application_name` (see {@link peerApplicationName}). */
  self: string;
  /** Names that belong to instances of this app start with this (the other backends are ignored). */
  prefix: string;
  /** Runs {@link peerInstancesQuery} and returns the `name` column (nulls may be left in). */
  listApplicationNames: () => Promise<ReadonlyArray<string | null>>;
  /**
   * Looks only while this returns true (checked before each look; default: always). An idle instance
   * needs no share, and a look every few seconds would keep a connection open, which keeps a
   * serverless database (Neon) from suspending. The last share stays meanwhile.
   */
  isBusy?: () => boolean;
  /** Called after a look that changed the number of instances counted or the share (e.g. to log it). */
  onChange?: (stats: PeerWatchStats) => void;
  /** How often to look. Default 1 000 ms. */
  intervalMs?: number;
  /**
   * How long an instance seen once still counts after it no longer shows up. An instance the others
   * have squeezed out holds no connection and shows up only now and then; forgetting it at once would
   * give its share straight back to them. Default 10 000 ms.
   */
  rememberMs?: number;
  clock?: Clock;
}

/** What {@link watchPeerInstances} has seen. */
export interface PeerWatchStats {
  /** Instances counted (this one included). */
  instances: number;
  /** This instance's share: the `peers` input of its effective limit. */
  share: number;
  /** Looks that failed (the query is skipped, not retried; the last share stays). */
  failures: number;
  lastError: string | undefined;
}

/** A running {@link watchPeerInstances}. */
export interface PeerWatch {
  stats(): PeerWatchStats;
  /** Stops looking and removes the `peers` input (the limit is no longer bounded by it). */
  stop(): void;
}

/** The part of `Safeguards` the watch needs: its effective limit's named inputs. */
export interface PeerLimitTarget {
  readonly limit: { set(name: string, limit: number): void; delete(name: string): void };
}

/**
 * Looks at the role's backends every `intervalMs` and sets this instance's `peers` limit input to its
 * share of `capacity - headroom` (see {@link peerShare}). The adaptive limit keeps working beneath
 * it: the share is a ceiling, and a "too many connections" answer still lowers the limit below it. A
 * failed look changes nothing.
 *
 * @example
 * ```ts
 * const self = peerApplicationName('myapp:', `${process.pid}`); // also the pool's application_name
 * const watch = watchPeerInstances(safeguards, {
 *   capacity: 8, self, prefix: 'myapp:',
 *   listApplicationNames: async () => (await sql.unsafe(peerInstancesQuery)).map((row) => row.name),
 * });
 * ```
 */
export function watchPeerInstances(target: PeerLimitTarget, options: PeerWatchOptions): PeerWatch {
  const intervalMs = options.intervalMs ?? 1000;
  const headroom = options.headroom ?? (options.capacity > 1 ? 1 : 0);
  const rememberMs = options.rememberMs ?? 10_000;
  const clock = options.clock ?? systemClock;
  assertInteger('capacity', options.capacity, 1);
  assertInteger('intervalMs', intervalMs, 10);
  assertInteger('rememberMs', rememberMs, 0);
  assertInteger('headroom', headroom, 0, options.capacity - 1);
  if (!options.self.startsWith(options.prefix))
    throw new TypeError(`Expected self ("${options.self}") to start with prefix ("${options.prefix}")`);
  assertFunction('listApplicationNames', options.listApplicationNames);

  const lastSeen = new Map<string, number>();
  let share = options.capacity - headroom;
  let instances = 1;
  let failures = 0;
  let lastError: string | undefined;
  let stopped = false;
  let timer: TimerHandle | undefined;

  const count = () => {
    const now = clock.now();
    for (const [name, at] of lastSeen) if (now - at > rememberMs) lastSeen.delete(name);
    return new Set([...lastSeen.keys(), options.self]);
  };

  const look = async () => {
    try {
      if (options.isBusy !== undefined && !options.isBusy()) return;
      const names = await options.listApplicationNames();
      if (stopped) return;
      const now = clock.now();
      for (const name of names)
        if (typeof name === 'string' && name.startsWith(options.prefix)) lastSeen.set(name, now);
      const counted = count();
      const next = peerShare(options.capacity - headroom, options.self, counted);
      target.limit.set('peers', next);
      lastError = undefined;
      if (next !== share || counted.size !== instances) {
        share = next;
        instances = counted.size;
        options.onChange?.(stats());
      }
    } catch (error) {
      failures++;
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      if (!stopped) timer = clock.setTimeout(() => void look(), intervalMs);
    }
  };
  const stats = (): PeerWatchStats => ({ instances: count().size, share, failures, lastError });
  void look();

  return {
    stats,
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      target.limit.delete('peers');
    },
  };
}
