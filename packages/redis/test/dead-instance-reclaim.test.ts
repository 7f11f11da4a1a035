import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Clock } from '@db-safeguards/core';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetConnection } from '../src/budget/budget-connection.js';
import { redisBudgetExchange } from '../src/budget/create-redis-budget.js';
import { isConnectionAwareClient, RedisBudgetConnection } from '../src/budget/redis-budget-connection.js';
import { budgetKeys } from '../src/budget/stored-budget.js';
import { createRedisBudget, LeasedConnectionBudget, type RedisBudgetOptions } from '../src/index.js';

/**
 * Returning a dead instance's slots once its Redis connection is gone, on a real Redis: a SIGKILLed
 * process, a live instance whose connection is killed, and a frozen instance that keeps its connection.
 */

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const holderFile = resolve(packageDir, 'test/support/lease-holder.ts');

let redis: TestRedis;
let admin: Redis;
let keys = 0;
const budgets: LeasedConnectionBudget[] = [];

beforeAll(async () => {
  redis = await startTestRedis({ externalUrl: false });
  admin = await redis.connect();
  // A Redis up for less than a lease starts the budget learning (nothing reaped meanwhile): wait that out.
  await sleep(2000);
});
afterAll(async () => {
  await Promise.all(budgets.map((budget) => budget.close()));
  await redis.stop();
});

function track<T extends LeasedConnectionBudget>(budget: T): T {
  budgets.push(budget);
  return budget;
}

function budgetOn(client: Redis, key: string, options: Partial<RedisBudgetOptions> = {}) {
  return track(createRedisBudget({ client, key, capacity: 8, leaseMs: 5000, refreshMs: 500, ...options }));
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
  return Date.now() - start;
}

/** The stored lease of `instanceId` (see stored-budget.ts), or undefined. */
async function storedLease(key: string, instanceId: string) {
  const text = await admin.hget(budgetKeys(key)[0], instanceId);
  if (text === null) return undefined;
  const f = text.split(' ').map(Number);
  return { seq: f[0]!, grant: f[1]!, clientId: f[10]!, renewedAt: f[11]! };
}

function startHolder(options: Record<string, unknown>) {
  // Runs the package's sources (no build needed), as the test process does.
  const child = spawn(
    process.execPath,
    ['--conditions=@db-safeguards/source', '--import', 'tsx', holderFile, JSON.stringify(options)],
    {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: Array<{ limit: number; mode: string }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line)));
  return { child, lines, limit: () => lines.at(-1)?.limit ?? 0 };
}

/** A clock whose timers wait while it is paused: the budget's process frozen (a GC pause, a frozen function). */
class PausableClock implements Clock {
  paused = false;

  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = { timer: undefined as ReturnType<typeof setTimeout> | undefined };
    const fire = () => {
      if (this.paused) handle.timer = setTimeout(fire, 10);
      else callback();
    };
    handle.timer = setTimeout(fire, ms);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    clearTimeout((handle as { timer: ReturnType<typeof setTimeout> }).timer);
  }
}

describe('a dead instance’s slots come back once its Redis connection is gone', () => {
  it('a SIGKILLed process’s slots reach another instance well within the lease', async () => {
    const key = `${redis.keyPrefix}budget:${keys++}`;
    const holder = startHolder({ url: redis.url, key, capacity: 8, leaseMs: 5000, refreshMs: 500, slots: 6 });
    let child: ChildProcess | undefined = holder.child;
    try {
      await waitFor(() => holder.limit() === 6, 10_000, 'the holder to hold 6 slots');
      const survivor = budgetOn(await redis.connect(), key);
      survivor.reportDemand({ inUse: 0, wanted: { NORMAL: 2 } });
      await waitFor(() => survivor.limit === 2, 2000, 'the survivor to hold the other 2');
      const lease = await storedLease(key, `holder-${holder.child.pid}`);
      expect(lease?.clientId).toBeGreaterThan(0);

      // The survivor now wants everything; the holder dies without a word.
      survivor.reportDemand({ inUse: 2, wanted: { NORMAL: 8 } });
      holder.child.kill('SIGKILL');
      const killedAt = Date.now();
      await new Promise((done) => holder.child.once('exit', done));
      child = undefined;
      const reclaimed = await waitFor(() => survivor.limit === 8, 5000, 'the survivor to get all 8 slots');
      console.log(
        `SIGKILLed holder's 6 slots reached the survivor ${reclaimed} ms after the kill (lease 5000 ms, staleMs 1500 ms)`,
      );
      // staleMs (1500) after its last renewal, plus at most staleMs / 4 until suspects are looked for,
      // plus a check, a reap and a call: well under the lease.
      expect(reclaimed).toBeLessThan(3000);
      expect(survivor.reaped).toBe(1);
      expect(Date.now() - killedAt).toBeLessThan(5000);
    } finally {
      child?.kill('SIGKILL');
    }
  });

  it('a live instance whose connection is killed stops using its grant before Redis may reap it, and rejoins after reconnecting', async () => {
    const key = `${redis.keyPrefix}budget:${keys++}`;
    // Its client reconnects only after 2.5 s: longer than staleMs, so its lease does get reaped.
    const victimClient = await redis.connect({ retryStrategy: () => 2500 });
    const victim = budgetOn(victimClient, key, { instanceId: 'victim' });
    victim.reportDemand({ inUse: 0, wanted: { NORMAL: 4 } });
    await waitFor(() => victim.limit === 4, 2000, 'the victim to hold 4');
    const other = budgetOn(await redis.connect(), key, { instanceId: 'other' });
    other.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await waitFor(() => other.limit === 4, 2000, 'the other to hold the other 4');

    const granted = (budget: LeasedConnectionBudget) =>
      budget.mode === 'shared' || budget.mode === 'learning' ? budget.limit : 0;
    let maxGranted = 0;
    let victimLeftSharedAt: number | undefined;
    victim.onModeChange(({ previous }) => {
      if (previous === 'shared' && victimLeftSharedAt === undefined) victimLeftSharedAt = Date.now();
    });
    // The last moment the victim was seen able to admit a call on its shared grant.
    let victimLastUsableAt = 0;
    const oldId = Number(await victimClient.client('ID'));
    await sleep(200);
    await admin.client('KILL', 'ID', oldId);
    const killedAt = Date.now();
    // Watch the lease in Redis and the grants in use until the lease is gone.
    let lastRenewedAt = 0;
    let leaseGoneAt: number | undefined;
    await waitFor(
      async () => {
        maxGranted = Math.max(maxGranted, granted(victim) + granted(other));
        if (granted(victim) > 0) victimLastUsableAt = Date.now();
        const lease = await storedLease(key, 'victim');
        if (lease === undefined) {
          leaseGoneAt = Date.now();
          return true;
        }
        lastRenewedAt = lease.renewedAt;
        return false;
      },
      4000,
      'the victim’s lease to be reaped',
    );
    expect(victimLeftSharedAt).toBeDefined();
    // Redis could reap it from lastRenewedAt + staleMs on (Redis's clock, the same machine's): the
    // victim could no longer admit a call on its grant before that, and so before the lease was
    // actually gone. (Its mode changes when its lease timer runs, which a loaded machine runs late:
    // the limit reads the clock, so the timer's delay admits nothing.)
    expect(victimLastUsableAt).toBeGreaterThan(0);
    expect(victimLastUsableAt).toBeLessThan(lastRenewedAt + 1500);
    expect(victimLastUsableAt).toBeLessThanOrEqual(leaseGoneAt!);
    console.log(
      `connection killed: the victim left its grant after ${victimLeftSharedAt! - killedAt} ms (mode ${victim.mode}), its lease was reaped after ${leaseGoneAt! - killedAt} ms`,
    );
    await waitFor(() => other.limit === 8, 2000, 'the other to get all 8');
    maxGranted = Math.max(maxGranted, granted(victim) + granted(other));
    expect(maxGranted).toBeLessThanOrEqual(8);

    // ioredis reconnects; the victim renews over the new connection, with its new client id.
    await waitFor(() => victim.mode === 'shared', 5000, 'the victim to share again');
    const newId = Number(await victimClient.client('ID'));
    expect(newId).not.toBe(oldId);
    await waitFor(
      async () => (await storedLease(key, 'victim'))?.clientId === newId,
      2000,
      'the victim’s lease to carry its new client id',
    );
    expect(granted(victim) + granted(other)).toBeLessThanOrEqual(8);
  });

  it('a frozen instance that keeps its connection is not reaped: its slots return only when its lease runs out', async () => {
    const key = `${redis.keyPrefix}budget:${keys++}`;
    const timing = { leaseMs: 3000, refreshMs: 250 }; // staleMs 750
    const clock = new PausableClock();
    const frozenClient = await redis.connect();
    const frozen = track(
      new LeasedConnectionBudget(
        { capacity: 8, instanceId: 'frozen', clock, ...timing },
        redisBudgetExchange(frozenClient, key),
        new RedisBudgetConnection(
          frozenClient as unknown as ConstructorParameters<typeof RedisBudgetConnection>[0],
          key,
        ),
      ),
    );
    frozen.reportDemand({ inUse: 0, wanted: { NORMAL: 4 } });
    await waitFor(() => frozen.limit === 4, 2000, 'the frozen-to-be instance to hold 4');
    // The checker counts its checks, to show it did look at the frozen instance.
    const checkerClient = await redis.connect();
    const real = new RedisBudgetConnection(
      checkerClient as unknown as ConstructorParameters<typeof RedisBudgetConnection>[0],
      key,
    );
    const found: number[][] = [];
    const counting: BudgetConnection = {
      get clientId() {
        return real.clientId;
      },
      onClose: (listener) => real.onClose(listener),
      findGone: async (ids) => {
        const gone = await real.findGone(ids);
        found.push([...ids]);
        return gone;
      },
      reap: (request) => real.reap(request),
    };
    const checker = track(
      new LeasedConnectionBudget(
        { capacity: 8, instanceId: 'checker', ...timing },
        redisBudgetExchange(checkerClient, key),
        counting,
      ),
    );
    checker.reportDemand({ inUse: 0, wanted: { NORMAL: 8 } });
    await waitFor(() => checker.limit === 4, 2000, 'the checker to hold the other 4');

    clock.paused = true;
    await sleep(50);
    const lease = (await storedLease(key, 'frozen'))!;
    const expiresAt = lease.renewedAt + timing.leaseMs;
    // Until shortly before its expiry, the lease stays and the checker gets none of its slots.
    while (Date.now() < expiresAt - 150) {
      expect(checker.limit).toBeLessThanOrEqual(4);
      expect(await storedLease(key, 'frozen')).toBeDefined();
      await sleep(25);
    }
    expect(found.some((ids) => ids.includes(lease.clientId))).toBe(true);
    expect(checker.reaped).toBe(0);
    // Then it runs out, and the checker takes everything.
    const after = await waitFor(() => checker.limit === 8, 2000, 'the checker to get all 8');
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    console.log(
      `frozen instance: its slots went to the checker ${Date.now() - expiresAt} ms after its lease ran out (${after} ms of waiting at the end)`,
    );
    clock.paused = false;
  });

  it('keeps to lease expiry without a watchable connection, and rejects a bad staleMs', async () => {
    const client = await redis.connect();
    expect(isConnectionAwareClient(client)).toBe(true);
    expect(isConnectionAwareClient(Object.assign(Object.create(client), { isCluster: true }))).toBe(false);
    const key = `${redis.keyPrefix}budget:${keys++}`;
    const plain = budgetOn(client, key, { instanceId: 'plain', reclaimOnDisconnect: false });
    plain.reportDemand({ inUse: 0, wanted: { NORMAL: 1 } });
    await waitFor(() => plain.limit === 1, 2000, 'a grant');
    expect((await storedLease(key, 'plain'))?.clientId).toBe(0);
    expect(() => createRedisBudget({ client, capacity: 8, leaseMs: 5000, staleMs: 5000 })).toThrow(
      /Expected staleMs to be an integer between 500 and 4999, got 5000/,
    );
    expect(() => createRedisBudget({ client, capacity: 8, refreshMs: 500, staleMs: 400 })).toThrow(TypeError);
  });
});
