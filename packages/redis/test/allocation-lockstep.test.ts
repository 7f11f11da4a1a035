import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AllocationRequest,
  allocate,
  type RedisEnvironment,
  type Suspect,
} from '../src/budget/allocation.js';
import {
  allocationArguments,
  allocationLua,
  budgetKeys,
  decodeBudgetState,
  parseAllocationReply,
} from '../src/budget/allocation-script.js';
import { reap } from '../src/budget/reaping.js';
import { parseReapReply, reapArguments, reapLua } from '../src/budget/reaping-script.js';
import { RedisScript } from '../src/internal/redis-script.js';

let redis: TestRedis;
let client: Redis;
const script = new RedisScript(allocationLua);

beforeAll(async () => {
  redis = await startTestRedis();
  client = await redis.connect();
});
afterAll(() => redis.stop());

async function storedState(key: string) {
  const [leasesKey, expiryKey, metaKey] = budgetKeys(key);
  const [leases, meta, expiry] = await Promise.all([
    client.hgetall(leasesKey),
    client.hgetall(metaKey),
    client.zrange(expiryKey, 0, -1, 'WITHSCORES'),
  ]);
  const expiresAt = new Map<string, number>();
  for (let i = 0; i < expiry.length; i += 2) expiresAt.set(expiry[i]!, Number(expiry[i + 1]));
  return { state: decodeBudgetState(leases, meta), expiresAt };
}

/** Time between two steps: random, or exactly the staleness or the pace of suspect looks (boundaries). */
const elapsed = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 2500 }), weight: 6 },
  { arbitrary: fc.constantFrom('staleMs' as const, 'pace' as const, 'before pace' as const), weight: 1 },
);

function boundaries(staleMs: number) {
  const pace = Math.ceil(staleMs / 4);
  return { staleMs, pace, 'before pace': pace - 1 };
}

const allocationStep = fc.record({
  kind: fc.constant('allocate' as const),
  who: fc.nat(3),
  seqStep: fc.integer({ min: -1, max: 3 }),
  enforcing: fc.nat(12),
  inUse: fc.nat(12),
  wants: fc.array(fc.nat(14), { minLength: 5, maxLength: 5 }),
  leaving: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  // 0: not known; otherwise one of a few connections per instance (a change is a reconnect).
  connection: fc.nat(3),
  checksSuspects: fc.boolean(),
  dt: elapsed,
  restart: fc.integer({ min: 0, max: 29 }),
});

/** Which leases a reap names: the last suspects handed out, leases as stored (maybe altered), or made up. */
const reapStep = fc.record({
  kind: fc.constant('reap' as const),
  from: fc.constantFrom('suspects', 'stored', 'made-up'),
  who: fc.array(fc.nat(3), { minLength: 1, maxLength: 4 }),
  alter: fc.constantFrom('none', 'none', 'seq', 'client'),
  dt: elapsed,
});

const step = fc.oneof({ arbitrary: allocationStep, weight: 4 }, { arbitrary: reapStep, weight: 1 });

const clientIdOf = (who: number, connection: number) => (connection === 0 ? 0 : 100 + who * 10 + connection);

/**
 * Leases as an older version of the script wrote them (nine fields, then ten), under a meta hash
 * without the fields added since: the script must go on reading them.
 */
const oldLeases = fc.array(
  fc.record({
    who: fc.nat(3),
    fields: fc.constantFrom(9, 10),
    seq: fc.integer({ min: 1, max: 5 }),
    grant: fc.nat(6),
    wants: fc.array(fc.nat(6), { minLength: 5, maxLength: 5 }),
    expiresIn: fc.integer({ min: 1, max: 6000 }),
    starving: fc.nat(2),
  }),
  { maxLength: 4 },
);

async function writeOldState(
  key: string,
  leases: Array<{
    who: number;
    fields: number;
    seq: number;
    grant: number;
    wants: number[];
    expiresIn: number;
    starving: number;
  }>,
  now: number,
  runId: string,
): Promise<void> {
  const [leasesKey, expiryKey, metaKey] = budgetKeys(key);
  const totals = { reserved: 0, wants: [0, 0, 0, 0, 0], wanting: [0, 0, 0, 0, 0], instances: 0, starving: 0 };
  const seen = new Set<number>();
  for (const lease of leases) {
    if (seen.has(lease.who)) continue;
    seen.add(lease.who);
    const starving = lease.fields === 10 ? lease.starving : 0;
    const fields = [lease.seq, lease.grant, lease.grant, ...lease.wants, now + lease.expiresIn];
    if (lease.fields === 10) fields.push(starving);
    await client.hset(leasesKey, `i${lease.who}`, fields.join(' '));
    await client.zadd(expiryKey, now + lease.expiresIn, `i${lease.who}`);
    totals.reserved += lease.grant;
    lease.wants.forEach((n, band) => {
      totals.wants[band]! += n;
      if (n > 0) totals.wanting[band]! += 1;
    });
    totals.instances += 1;
    totals.starving += starving;
  }
  await client.hset(metaKey, {
    runId,
    learningUntil: 0,
    reserved: totals.reserved,
    ...Object.fromEntries(totals.wants.map((n, band) => [`w${band}`, n])),
    ...Object.fromEntries(totals.wanting.map((n, band) => [`n${band}`, n])),
    instances: totals.instances,
    starving: totals.starving,
  });
}

describe('the Lua scripts are faithful ports of allocate() and reap()', () => {
  it('give the same answers and leave the same state, call after call (property, real Redis)', async () => {
    let run = 0;
    const reapScript = new RedisScript(reapLua);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 500, max: 5000 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        fc.integer({ min: 0, max: 8000 }),
        oldLeases,
        fc.array(step, { minLength: 20, maxLength: 80 }),
        async (capacity, leaseMs, staleShare, startUptime, old, steps) => {
          const key = `${redis.keyPrefix}lockstep:${run++}`;
          const staleMs = Math.max(1, Math.floor(leaseMs * staleShare));
          const seqs = [0, 0, 0, 0];
          let now = 1_800_000_000_000;
          let runId = 'a'.repeat(40);
          let startedAt = now - startUptime;
          await writeOldState(key, old, now, runId);
          const written = await storedState(key);
          const model = written.state;
          for (const lease of old) seqs[lease.who] = Math.max(seqs[lease.who]!, lease.seq);
          let lastSuspects: Suspect[] = [];
          for (const s of steps) {
            now += typeof s.dt === 'number' ? s.dt : boundaries(staleMs)[s.dt];
            if (s.kind === 'reap') {
              const picked: Suspect[] =
                s.from === 'suspects'
                  ? lastSuspects
                  : s.who.map((who) => {
                      const lease = model.leases.get(`i${who}`);
                      return s.from === 'stored' && lease
                        ? { instanceId: `i${who}`, clientId: lease.clientId, seq: lease.seq }
                        : { instanceId: `i${who}`, clientId: clientIdOf(who, 1), seq: seqs[who]! };
                    });
              const leases = picked.map((suspect) =>
                s.alter === 'seq'
                  ? { ...suspect, seq: suspect.seq + 1 }
                  : s.alter === 'client'
                    ? { ...suspect, clientId: suspect.clientId + 1 }
                    : suspect,
              );
              const env = { now, runId };
              const expected = reap(model, { leases, staleMs }, env);
              const actual = parseReapReply(
                await reapScript.run(client, budgetKeys(key), reapArguments({ leases, staleMs }, env)),
              );
              expect(actual).toEqual(expected);
            } else {
              if (s.restart === 0) {
                // Redis restarted (a new run id) with its data, as with an append-only file.
                runId = runId === 'a'.repeat(40) ? 'b'.repeat(40) : 'a'.repeat(40);
                startedAt = now;
              }
              seqs[s.who] = Math.max(0, seqs[s.who]! + s.seqStep);
              const request: AllocationRequest = {
                instanceId: `i${s.who}`,
                seq: seqs[s.who]!,
                enforcing: s.enforcing,
                inUse: s.inUse,
                wants: s.wants,
                leaving: s.leaving,
                capacity,
                leaseMs,
                clientId: clientIdOf(s.who, s.connection),
                staleMs,
                checksSuspects: s.checksSuspects,
              };
              // Uptime as Redis reports it: whole seconds.
              const env: RedisEnvironment = {
                now,
                runId,
                uptimeMs: Math.floor((now - startedAt) / 1000) * 1000,
              };
              const expected = allocate(model, request, env);
              const actual = parseAllocationReply(
                await script.run(client, budgetKeys(key), allocationArguments(request, env)),
              );
              expect(actual).toEqual(expected);
              if (expected.suspects.length > 0) lastSuspects = expected.suspects;
            }
            const stored = await storedState(key);
            expect(stored.state.meta).toEqual(model.meta);
            expect(new Map([...stored.state.leases].sort())).toEqual(new Map([...model.leases].sort()));
            for (const [id, lease] of model.leases) expect(stored.expiresAt.get(id)).toBe(lease.expiresAt);
            expect(stored.expiresAt.size).toBe(model.leases.size);
          }
          await client.del(...budgetKeys(key));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reads Redis’s own clock and run id when no override is given', async () => {
    const key = `${redis.keyPrefix}own-clock`;
    const request: AllocationRequest = {
      instanceId: 'x',
      seq: 1,
      enforcing: 0,
      inUse: 0,
      wants: [0, 0, 1, 0, 0],
      leaving: false,
      capacity: 8,
      leaseMs: 1000,
      clientId: 0,
      staleMs: 500,
      checksSuspects: false,
    };
    const [seconds, micros] = await client.time();
    const before = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const reply = parseAllocationReply(
      await script.run(client, budgetKeys(key), allocationArguments(request)),
    );
    expect(reply.now).toBeGreaterThanOrEqual(before);
    expect(reply.now - before).toBeLessThan(1000);
    expect(reply.expiresAt).toBe(reply.now + 1000);
    const runId = /run_id:(\w+)/.exec(await client.info('server'))![1];
    expect(await client.hget(budgetKeys(key)[2], 'runId')).toBe(runId);
  });
});
