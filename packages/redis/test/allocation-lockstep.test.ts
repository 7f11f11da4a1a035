import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AllocationRequest,
  allocate,
  emptyBudgetState,
  type RedisEnvironment,
} from '../src/budget/allocation.js';
import {
  allocationArguments,
  allocationLua,
  budgetKeys,
  decodeBudgetState,
  parseAllocationReply,
} from '../src/budget/allocation-script.js';
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

const step = fc.record({
  who: fc.nat(3),
  seqStep: fc.integer({ min: -1, max: 3 }),
  enforcing: fc.nat(12),
  inUse: fc.nat(12),
  wants: fc.array(fc.nat(14), { minLength: 5, maxLength: 5 }),
  leaving: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  dt: fc.integer({ min: 0, max: 2500 }),
  restart: fc.integer({ min: 0, max: 29 }),
});

describe('the Lua script is a faithful port of allocate()', () => {
  it('gives the same answers and leaves the same state, call after call (property, real Redis)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 500, max: 5000 }),
        fc.integer({ min: 0, max: 8000 }),
        fc.array(step, { minLength: 20, maxLength: 80 }),
        async (capacity, leaseMs, startUptime, steps) => {
          const key = `${redis.keyPrefix}lockstep:${run++}`;
          const model = emptyBudgetState();
          const seqs = [0, 0, 0, 0];
          let now = 1_800_000_000_000;
          let runId = 'a'.repeat(40);
          let startedAt = now - startUptime;
          for (const s of steps) {
            now += s.dt;
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
            const stored = await storedState(key);
            expect(stored.state.meta).toEqual(model.meta);
            expect(new Map([...stored.state.leases].sort())).toEqual(new Map([...model.leases].sort()));
            for (const [id, lease] of model.leases) expect(stored.expiresAt.get(id)).toBe(lease.expiresAt);
            expect(stored.expiresAt.size).toBe(model.leases.size);
          }
          await client.del(...budgetKeys(key));
        },
      ),
      { numRuns: 60 },
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
