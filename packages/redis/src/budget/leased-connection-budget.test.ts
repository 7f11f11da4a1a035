import { ManualClock } from '@db-safeguards/core/testing';
import { describe, expect, it } from 'vitest';
import type { SharedBudgetMode } from '../shared-connection-budget.js';
import { type AllocationRequest, allocate, emptyBudgetState } from './allocation.js';
import type { BudgetConnection } from './budget-connection.js';
import {
  type BudgetExchange,
  type LeasedBudgetOptions,
  LeasedConnectionBudget,
} from './leased-connection-budget.js';
import { type ReapRequest, reap } from './reaping.js';

/** Redis as a function of the manual clock: `allocate` after `latencyMs`, or a failure while `down`. */
function fakeRedis(clock: ManualClock, latencyMs = 1) {
  const state = emptyBudgetState();
  const calls: AllocationRequest[] = [];
  const redis = {
    state,
    calls,
    down: false,
    hang: false,
    exchange: ((request) =>
      new Promise((resolve, reject) => {
        calls.push(request);
        if (redis.hang) return;
        clock.setTimeout(() => {
          if (redis.down) reject(new Error('connect ECONNREFUSED'));
          else resolve(allocate(state, request, { now: clock.now(), runId: 'run', uptimeMs: 1e9 }));
        }, latencyMs);
      })) as BudgetExchange,
  };
  return redis;
}

function budget(clock: ManualClock, exchange: BudgetExchange, options: Partial<LeasedBudgetOptions> = {}) {
  return new LeasedConnectionBudget(
    { capacity: 8, clock, leaseMs: 5000, refreshMs: 500, ...options },
    exchange,
  );
}

describe('LeasedConnectionBudget', () => {
  it('waits for its first grant with a limit of 0, then holds what it asked for', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const shared = budget(clock, redis.exchange);
    const changes: number[] = [];
    shared.onLimitChange(({ limit }) => changes.push(limit));
    expect(shared.mode).toBe('connecting');
    expect(shared.limit).toBe(0);
    shared.reportDemand({ inUse: 0, wanted: { HIGH: 3 } });
    await clock.advance(30);
    expect(shared.mode).toBe('shared');
    expect(shared.limit).toBe(3);
    expect(changes.at(-1)).toBe(3);
  });

  it('with releaseDelayMs, a slot it stopped using reaches another instance only after the delay (its pooled connection may still be open)', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const a = budget(clock, redis.exchange, { instanceId: 'a', releaseDelayMs: 2000 });
    const b = budget(clock, redis.exchange, { instanceId: 'b' });
    a.reportDemand({ inUse: 8, wanted: { NORMAL: 8 } });
    // An equal share (4) at once, all 8 once that has been held for growthHoldMs.
    await clock.advance(300);
    expect(a.limit).toBe(8);
    // a's work ends; b wants everything.
    a.reportDemand({ inUse: 0, wanted: {} });
    b.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(1200);
    // a's demand of the last 2 s still counts (its share, 4 of 8), and its 8 slots stay reserved.
    expect(a.limit).toBe(4);
    expect(b.limit).toBe(0);
    await clock.advance(1800);
    expect(a.limit).toBe(0);
    expect(b.limit).toBe(8);
  });

  it('with releaseDelayMs, reports the most it wanted within the delay: a moment of lower demand moves no slot', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const a = budget(clock, redis.exchange, { instanceId: 'a', releaseDelayMs: 1000 });
    a.reportDemand({ inUse: 4, wanted: { HIGH: 6, NORMAL: 2 } });
    await clock.advance(100);
    a.reportDemand({ inUse: 4, wanted: { HIGH: 1 } });
    await clock.advance(600);
    const sent = redis.calls.filter((call) => call.instanceId === 'a').at(-1)!;
    // [BATCH, LOW, NORMAL, HIGH, CRITICAL]: the peaks of the last second, not the latest report.
    expect(sent.wants).toEqual([0, 0, 2, 6, 0]);
    await clock.advance(1500);
    expect(redis.calls.filter((call) => call.instanceId === 'a').at(-1)!.wants).toEqual([0, 0, 0, 1, 0]);
  });

  it('without releaseDelayMs, the same slots reach the other instance within a few round trips', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const a = budget(clock, redis.exchange, { instanceId: 'a' });
    const b = budget(clock, redis.exchange, { instanceId: 'b' });
    a.reportDemand({ inUse: 8, wanted: { NORMAL: 8 } });
    await clock.advance(100);
    a.reportDemand({ inUse: 0, wanted: {} });
    b.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(1200);
    expect(a.limit).toBe(0);
    expect(b.limit).toBe(8);
  });

  it('asks again within minRefreshMs when demand grows past the grant, and renews every refreshMs when idle', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const shared = budget(clock, redis.exchange);
    await clock.advance(10);
    const before = redis.calls.length;
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 5 } });
    await clock.advance(25);
    expect(shared.limit).toBe(5);
    expect(redis.calls.length).toBe(before + 1);
    const steady = redis.calls.length;
    await clock.advance(5000);
    // One renewal per refreshMs, no more, while nothing changes.
    expect(redis.calls.length - steady).toBe(10);
    expect(shared.limit).toBe(5);
  });

  it('keeps its grant while the lease lasts when Redis fails, then falls back to its share and rejoins', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const a = budget(clock, redis.exchange, { instanceId: 'a' });
    const b = budget(clock, redis.exchange, { instanceId: 'b' });
    a.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    b.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(1000);
    expect(a.limit + b.limit).toBe(8);
    const modes: SharedBudgetMode[] = [];
    a.onModeChange(({ mode }) => modes.push(mode));
    const grant = a.limit;
    redis.down = true;
    await clock.advance(3000);
    expect(a.mode).toBe('shared');
    expect(a.limit).toBe(grant);
    expect(a.stats().consecutiveFailures).toBeGreaterThan(0);
    await clock.advance(2500);
    expect(a.mode).toBe('fallback');
    expect(a.isDegraded).toBe(true);
    // Two instances were live: each falls back to half the capacity, never to "no limit".
    expect(a.limit).toBe(4);
    expect(a.stats().lastError).toMatch(/ECONNREFUSED/);
    redis.down = false;
    await clock.advance(1000);
    expect(a.mode).not.toBe('fallback');
    expect(a.isDegraded).toBe(false);
    expect(modes).toEqual(['fallback', 'shared']);
  });

  it('starts on fallbackLimit (or 1) when Redis is down from the start', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    redis.down = true;
    const plain = budget(clock, redis.exchange);
    const configured = budget(clock, redis.exchange, { fallbackLimit: 3 });
    await clock.advance(10);
    await plain.ready();
    expect(plain.mode).toBe('fallback');
    expect(plain.limit).toBe(1);
    expect(configured.limit).toBe(3);
  });

  it('counts a call that hangs as failed after requestTimeoutMs, and ignores its late answer', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    redis.hang = true;
    const shared = budget(clock, redis.exchange, { requestTimeoutMs: 300 });
    await clock.advance(299);
    expect(shared.mode).toBe('connecting');
    await clock.advance(2);
    expect(shared.mode).toBe('fallback');
    expect(shared.stats().lastError).toMatch(/within 300 ms/);
  });

  it('a grant is never used past its lease: an answer slower than the lease is not applied', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock, 10);
    const shared = budget(clock, redis.exchange, {
      instanceId: 'frozen',
      leaseMs: 1000,
      refreshMs: 400,
      requestTimeoutMs: 999,
    });
    shared.reportDemand({ inUse: 0, wanted: { HIGH: 2 } });
    await clock.advance(50);
    expect(shared.limit).toBe(2);
    // Redis freezes: the lease (counted from the send, minus 1%) ends before Redis would reuse it.
    redis.hang = true;
    const redisExpiry = redis.state.leases.get('frozen')!.expiresAt;
    let leftSharedAt = Number.POSITIVE_INFINITY;
    shared.onModeChange(({ previous }) => {
      if (previous === 'shared') leftSharedAt = clock.now();
    });
    await clock.advance(3000);
    expect(shared.mode).toBe('fallback');
    expect(leftSharedAt).toBeLessThan(redisExpiry);
  });

  it('gives its lease back on close', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const shared = budget(clock, redis.exchange, { instanceId: 'leaver' });
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(50);
    expect(redis.state.leases.has('leaver')).toBe(true);
    const closing = shared.close();
    await clock.advance(10);
    await closing;
    expect(shared.mode).toBe('closed');
    expect(shared.limit).toBe(0);
    expect(redis.state.leases.has('leaver')).toBe(false);
  });

  it('hands a newcomer slots within about one renewal, by shrinking the instance that holds them all', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const holder = budget(clock, redis.exchange, { instanceId: 'holder' });
    holder.reportDemand({ inUse: 0, wanted: { NORMAL: 20 } });
    await clock.advance(50);
    expect(holder.limit).toBe(8);
    holder.reportDemand({ inUse: 8, wanted: { NORMAL: 20 } });
    // The holder releases operations as they finish, and starts new ones only below its limit.
    let inUse = 8;
    const work = () => {
      inUse = Math.min(inUse, holder.limit);
      holder.reportDemand({ inUse, wanted: { NORMAL: 20 } });
    };
    holder.onLimitChange(work);
    const newcomer = budget(clock, redis.exchange, { instanceId: 'newcomer' });
    newcomer.reportDemand({ inUse: 0, wanted: { HIGH: 2 } });
    const startedAt = clock.now();
    let firstSlotAt: number | undefined;
    newcomer.onLimitChange(({ limit }) => {
      if (limit > 0 && firstSlotAt === undefined) firstSlotAt = clock.now();
    });
    await clock.advance(2000);
    expect(newcomer.limit).toBe(2);
    expect(holder.limit).toBe(6);
    expect(firstSlotAt! - startedAt).toBeLessThanOrEqual(500 + 100);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    const clock = new ManualClock();
    const { exchange } = fakeRedis(clock);
    expect(() => budget(clock, exchange, { capacity: 0 })).toThrow(/capacity/);
    expect(() => budget(clock, exchange, { refreshMs: 4000 })).toThrow(/refreshMs/);
    expect(() => budget(clock, exchange, { fallbackLimit: 9 })).toThrow(/fallbackLimit/);
    expect(() => budget(clock, exchange, { instanceId: 'has space' })).toThrow(/instanceId/);
    // staleMs lies between refreshMs and leaseMs - 1.
    expect(() => budget(clock, exchange, { staleMs: 5000 })).toThrow(TypeError);
    expect(() => budget(clock, exchange, { staleMs: 5000 })).toThrow(
      /staleMs to be an integer between 500 and 4999/,
    );
    expect(() => budget(clock, exchange, { staleMs: 499 })).toThrow(/staleMs/);
    expect(() => budget(clock, exchange, { staleMs: 1.5 })).toThrow(/staleMs/);
    expect(budget(clock, exchange, { leaseMs: 1000, refreshMs: 500 }).stats().mode).toBe('connecting');
  });
});

/**
 * A connection as `RedisBudgetConnection` presents one, over the fake Redis: its client id, a close
 * that the test triggers, and which client ids are gone.
 */
function fakeConnection(clock: ManualClock, redis: ReturnType<typeof fakeRedis>, clientId: number) {
  const listeners = new Set<() => void>();
  const connection = {
    clientId,
    gone: new Set<number>(),
    unsupported: false,
    checks: 0,
    onClose(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** The connection closes; the client id is unknown until `reconnect`. */
    close() {
      connection.clientId = 0;
      for (const listener of listeners) listener();
    },
    reconnect(id: number) {
      connection.clientId = id;
    },
    async findGone(ids: readonly number[]): Promise<number[] | 'unsupported'> {
      connection.checks += 1;
      if (connection.unsupported) return 'unsupported';
      return ids.filter((id) => connection.gone.has(id));
    },
    async reap(request: ReapRequest) {
      return reap(redis.state, request, { now: clock.now(), runId: 'run' });
    },
  } satisfies BudgetConnection & Record<string, unknown>;
  return connection;
}

/** Records when each call was sent, on the manual clock. */
function timed(clock: ManualClock, exchange: BudgetExchange) {
  const sentAt: number[] = [];
  const wrapped: BudgetExchange = (request) => {
    sentAt.push(clock.now());
    return exchange(request);
  };
  return { sentAt, exchange: wrapped };
}

/** A budget of 8 (a 5 s lease renewed every 500 ms) calling `exchange`, over a Redis `connection`. */
function connectedBudget(
  clock: ManualClock,
  exchange: BudgetExchange,
  connection: BudgetConnection,
  instanceId = 'a',
): LeasedConnectionBudget {
  return new LeasedConnectionBudget(
    { capacity: 8, clock, leaseMs: 5000, refreshMs: 500, instanceId },
    exchange,
    connection,
  );
}

describe('LeasedConnectionBudget with a connection (dead instances reaped early)', () => {
  it('once its connection closes, uses its grant only until staleMs after its last renewal was sent, before Redis may reap it', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const connection = fakeConnection(clock, redis, 5);
    const calls = timed(clock, redis.exchange);
    const shared = connectedBudget(clock, calls.exchange, connection);
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 4 } });
    await clock.advance(1200);
    expect(shared.limit).toBe(4);
    expect(redis.state.leases.get('a')?.clientId).toBe(5);
    let leftSharedAt = Number.POSITIVE_INFINITY;
    shared.onModeChange(({ previous, mode }) => {
      if (previous === 'shared') leftSharedAt = clock.now();
      if (mode === 'shared') leftSharedAt = Number.POSITIVE_INFINITY;
    });
    // The connection drops and Redis cannot be reached again for a while.
    redis.down = true;
    const lastRenewalSent = calls.sentAt.at(-1)!;
    const renewedAt = redis.state.leases.get('a')!.renewedAt;
    connection.close();
    await clock.advance(3000);
    expect(shared.mode).toBe('fallback');
    // Redis may reap the lease from renewedAt + staleMs: the instance stopped using it before.
    expect(leftSharedAt).toBeLessThanOrEqual(lastRenewalSent + 1500 - 150);
    expect(leftSharedAt).toBeLessThan(renewedAt + 1500);
    // Reconnected: the next renewal carries the new connection's id and the full lease holds again.
    connection.reconnect(6);
    redis.down = false;
    await clock.advance(600);
    expect(shared.mode).toBe('shared');
    expect(redis.state.leases.get('a')?.clientId).toBe(6);
    expect(shared.stats().leaseRemainingMs).toBeGreaterThan(4000);
  });

  it('admits nothing on a grant past its validity even while its timer has not run yet (a busy event loop)', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const connection = fakeConnection(clock, redis, 5);
    const shared = connectedBudget(clock, redis.exchange, connection);
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 4 } });
    await clock.advance(1200);
    expect(shared.limit).toBe(4);
    redis.down = true;
    connection.close();
    const validForMs = shared.stats().leaseRemainingMs;
    expect(validForMs).toBeLessThan(1500);
    // Time passes without the timers running, as when the loop is busy: the mode still says shared,
    // but the grant admits nothing once its validity is over.
    clock.set(clock.now() + validForMs - 1);
    expect(shared.limit).toBe(4);
    clock.set(clock.now() + 1);
    expect(shared.mode).toBe('shared');
    expect(shared.limit).toBe(0);
    await clock.advance(0);
    expect(shared.mode).not.toBe('shared');
  });

  it('a grant from a call sent before a close is capped too (it may have gone out on the closed connection)', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock, 50);
    const connection = fakeConnection(clock, redis, 5);
    const shared = connectedBudget(clock, redis.exchange, connection);
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 4 } });
    await clock.advance(10);
    // The first call is on its way (answered after 50 ms); the connection closes meanwhile.
    connection.close();
    await clock.advance(45);
    expect(shared.mode).toBe('shared');
    expect(shared.stats().leaseRemainingMs).toBeLessThanOrEqual(1500 - 150 - 55);
    // The next call goes out without a client id (not known yet on the new connection): not reapable,
    // so its answer brings the full lease back.
    await clock.advance(100);
    expect(redis.calls.at(-1)!.clientId).toBe(0);
    expect(shared.stats().leaseRemainingMs).toBeGreaterThan(4000);
  });

  it('a lease sent without a client id is never reaped, so a close does not shorten it', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    const connection = fakeConnection(clock, redis, 0);
    const shared = new LeasedConnectionBudget(
      { capacity: 8, clock, leaseMs: 5000, refreshMs: 500 },
      redis.exchange,
      connection,
    );
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 4 } });
    await clock.advance(30);
    redis.down = true;
    connection.close();
    await clock.advance(4000);
    expect(shared.mode).toBe('shared');
    expect(shared.limit).toBe(4);
  });

  it('checks the suspects Redis hands it and reaps the dead: their slots come back well before their lease ends', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    // A dead instance holds every slot on connection 7, which is gone.
    allocate(
      redis.state,
      { ...deadHolder, wants: [0, 0, 8, 0, 0] },
      { now: clock.now(), runId: 'run', uptimeMs: 1e9 },
    );
    const connection = fakeConnection(clock, redis, 5);
    connection.gone.add(7);
    const shared = connectedBudget(clock, redis.exchange, connection, 'live');
    const start = clock.now();
    let fullAt: number | undefined;
    shared.onLimitChange(({ limit }) => {
      if (limit === 8 && fullAt === undefined) fullAt = clock.now() - start;
    });
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(5000);
    expect(shared.reaped).toBe(1);
    // staleMs (1500), then at most a quarter of it until suspects are looked for, then one call.
    expect(fullAt).toBeLessThanOrEqual(1500 + 375 + 50);
  });

  it('keeps a suspect whose connection is still there (a frozen instance), and checks at most once per refreshMs', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    allocate(
      redis.state,
      { ...deadHolder, wants: [0, 0, 8, 0, 0] },
      { now: clock.now(), runId: 'run', uptimeMs: 1e9 },
    );
    const connection = fakeConnection(clock, redis, 5);
    const shared = connectedBudget(clock, redis.exchange, connection, 'live');
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(4990);
    expect(shared.limit).toBe(0);
    expect(shared.reaped).toBe(0);
    // Suspect from 1500 ms on: at most one check per 500 ms, though it asks every few tens of ms.
    expect(connection.checks).toBeGreaterThanOrEqual(6);
    expect(connection.checks).toBeLessThanOrEqual(8);
    await clock.advance(100);
    expect(shared.limit).toBe(8);
  });

  it('stops checking when Redis cannot say which connections are gone, and keeps to lease expiry', async () => {
    const clock = new ManualClock();
    const redis = fakeRedis(clock);
    allocate(
      redis.state,
      { ...deadHolder, wants: [0, 0, 8, 0, 0] },
      { now: clock.now(), runId: 'run', uptimeMs: 1e9 },
    );
    const connection = fakeConnection(clock, redis, 5);
    connection.unsupported = true;
    connection.gone.add(7);
    const shared = connectedBudget(clock, redis.exchange, connection, 'live');
    shared.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await clock.advance(4990);
    expect(connection.checks).toBe(1);
    expect(redis.calls.filter((call) => call.checksSuspects).length).toBeGreaterThan(0);
    expect(redis.calls.at(-1)!.checksSuspects).toBe(false);
    // It still sends its client id: others that can check may reap its lease.
    expect(redis.calls.at(-1)!.clientId).toBe(5);
    expect(shared.limit).toBe(0);
    await clock.advance(100);
    expect(shared.limit).toBe(8);
  });
});

const deadHolder: AllocationRequest = {
  instanceId: 'dead',
  seq: 1,
  enforcing: 0,
  inUse: 0,
  wants: [0, 0, 0, 0, 0],
  leaving: false,
  capacity: 8,
  leaseMs: 5000,
  clientId: 7,
  staleMs: 1500,
  checksSuspects: false,
};
