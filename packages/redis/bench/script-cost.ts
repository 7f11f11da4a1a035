// Cost of the shared budget and the shared rate limits, measured on a throwaway redis-server:
//   pnpm --filter @db-safeguards/redis bench
// The budget's hot path (what a database operation pays) is a field read and reportDemand(); Redis is
// called only by the background lease renewal, whose round trip is measured with 1, 100 and 1,000
// leases stored. The rate limit costs one round trip per checked request.
import { startTestRedis } from '@db-safeguards/test-redis';
import {
  allocationArguments,
  allocationLua,
  budgetKeys,
  parseAllocationReply,
} from '../src/budget/allocation-script.js';
import { LeasedConnectionBudget } from '../src/budget/leased-connection-budget.js';
import { RedisRateLimitStore } from '../src/index.js';
import { RedisScript } from '../src/internal/redis-script.js';

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${(at(0.5) * 1000).toFixed(0)} µs · p99 ${(at(0.99) * 1000).toFixed(0)} µs (n=${sorted.length})`;
}

async function timed(count: number, run: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return samples;
}

const redis = await startTestRedis({ externalUrl: false });
try {
  const client = await redis.connect();
  const script = new RedisScript(allocationLua);
  console.log(
    `redis-server ${(await client.info('server')).match(/redis_version:(\S+)/)?.[1]} on 127.0.0.1, Node ${process.version}`,
  );

  // 1. The hot path: what one database operation pays.
  const budget = new LeasedConnectionBudget({ capacity: 8 }, () => new Promise(() => {}));
  const rounds = 2_000_000;
  let sink = 0;
  let start = performance.now();
  for (let i = 0; i < rounds; i++) sink += budget.limit;
  const readNs = ((performance.now() - start) * 1e6) / rounds;
  start = performance.now();
  for (let i = 0; i < rounds; i++)
    budget.reportDemand({ inUse: i & 7, wanted: { HIGH: i & 3, NORMAL: i & 7 } });
  const reportNs = ((performance.now() - start) * 1e6) / rounds;
  console.log(
    `hot path per operation: limit read ${readNs.toFixed(1)} ns, reportDemand ${reportNs.toFixed(0)} ns, 0 Redis calls (${sink > -1 ? 'ok' : ''})`,
  );
  await budget.close().catch(() => undefined);

  // 2. One lease renewal (EVALSHA of the allocation script, INFO and TIME included) by leases stored.
  for (const leases of [1, 100, 1000]) {
    const key = `${redis.keyPrefix}cost:${leases}`;
    const keys = budgetKeys(key);
    const request = (id: number, seq: number) => ({
      instanceId: `i${id}`,
      seq,
      enforcing: 0,
      inUse: 0,
      wants: [0, 1, 2, 1, 0],
      leaving: false,
      capacity: 100,
      leaseMs: 60_000,
      // As a standalone ioredis client sends them: a client id, and an offer to check suspects (looked
      // for at most every staleMs / 4, so this includes that look's cost at its production rate).
      clientId: id + 1,
      staleMs: 1500,
      checksSuspects: true,
    });
    for (let id = 0; id < leases; id++) await script.run(client, keys, allocationArguments(request(id, 1)));
    let seq = 2;
    const samples = await timed(3000, async () =>
      parseAllocationReply(await script.run(client, keys, allocationArguments(request(seq % leases, seq++)))),
    );
    // Throughput with 32 renewals in flight (many instances at once).
    const clients = await Promise.all(Array.from({ length: 4 }, () => redis.connect()));
    const total = 20_000;
    let next = 0;
    start = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async (_, lane) => {
        while (next < total) {
          const n = next++;
          await script.run(clients[lane % 4]!, keys, allocationArguments(request(n % leases, seq + n)));
        }
      }),
    );
    const perSecond = total / ((performance.now() - start) / 1000);
    seq += total;
    console.log(
      `lease renewal with ${String(leases).padStart(4)} leases stored: ${summary(samples)}; ${perSecond.toFixed(0)} renewals/s with 32 in flight`,
    );
  }

  // 3. A rate-limit check (one EVALSHA of the sliding-window script).
  const store = new RedisRateLimitStore({ client, prefix: `${redis.keyPrefix}rl:`, fallback: false });
  let n = 0;
  const allowedSamples = await timed(3000, () => store.hit(`user:${n++ % 100}`, 1_000_000, 60_000, 0));
  console.log(`rate-limit hit (allowed, up to 30 hits in the window): ${summary(allowedSamples)}`);
  for (let i = 0; i < 100; i++) await store.hit('full', 100, 60_000, 0);
  const deniedSamples = await timed(3000, () => store.hit('full', 100, 60_000, 0));
  console.log(`rate-limit hit (denied, 100 hits in the window):   ${summary(deniedSamples)}`);
} finally {
  await redis.stop();
}
