// Overhead of the full `run` pipeline on a no-op operation, against a bare call and against the same
// policies built from cockatiel (retry + circuit breaker + bulkhead) and from p-queue, measured in one
// process, interleaved round by round so that machine noise hits every case alike.
//
//   pnpm bench            (from the repository root: builds the core first)
//   node --expose-gc bench/src/pipeline-overhead.mjs [--json out.json] [--rounds 7] [--quick]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { createSafeguards } from '@db-safeguards/core';
import {
  bulkhead,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  wrap,
} from 'cockatiel';
import PQueue from 'p-queue';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : fallback;
};
const quick = flag('--quick');
const rounds = Number(option('--rounds', quick ? 3 : 7));
const sequentialMs = quick ? 150 : 400;
const concurrentBatches = quick ? 20 : 60;
const CONCURRENCY = 1000;

const noop = async () => 1;

/** Each case: a name and a function that runs the no-op once under its policies. */
function makeCases() {
  const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 8, maxQueueSize: CONCURRENCY } });
  const limited = createSafeguards({
    queue: { maxConcurrentConnections: 8, maxQueueSize: CONCURRENCY },
    rateLimits: { policies: { bench: { limit: 1_000_000_000, windowMs: 60_000 } }, adaptive: false },
  });
  const cockatiel = wrap(
    retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
    bulkhead(8, CONCURRENCY),
  );
  const queue = new PQueue({ concurrency: 8 });
  return [
    { name: 'bare call', run: () => noop() },
    { name: 'db-safeguards run (read)', run: () => safeguards.run(noop, { operationType: 'read' }) },
    {
      name: 'db-safeguards run (read + rate limit)',
      run: () => limited.run(noop, { operationType: 'read', policy: 'bench', userId: 'u1' }),
    },
    { name: 'cockatiel retry+breaker+bulkhead', run: () => cockatiel.execute(noop) },
    { name: 'p-queue (concurrency 8)', run: () => queue.add(noop) },
  ];
}

async function sequential(run) {
  const deadline = performance.now() + sequentialMs;
  let operations = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) await run();
    operations += 1000;
  }
  return ((performance.now() - started) * 1e6) / operations;
}

async function concurrent(run) {
  const started = performance.now();
  for (let batch = 0; batch < concurrentBatches; batch++) {
    const pending = new Array(CONCURRENCY);
    for (let i = 0; i < CONCURRENCY; i++) pending[i] = run();
    await Promise.all(pending);
  }
  return ((performance.now() - started) * 1e6) / (concurrentBatches * CONCURRENCY);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const cases = makeCases();
const samples = new Map(cases.map((c) => [c.name, { sequential: [], concurrent: [] }]));
// Warm-up: let the JIT see every path.
for (const c of cases) {
  await sequential(c.run);
  await concurrent(c.run);
}
for (let round = 0; round < rounds; round++) {
  for (const c of round % 2 === 0 ? cases : [...cases].reverse()) {
    globalThis.gc?.();
    samples.get(c.name).sequential.push(await sequential(c.run));
    globalThis.gc?.();
    samples.get(c.name).concurrent.push(await concurrent(c.run));
  }
}

const results = cases.map((c) => ({
  name: c.name,
  sequentialNs: median(samples.get(c.name).sequential),
  concurrentNs: median(samples.get(c.name).concurrent),
}));
const bare = results[0];
const cockatielResult = results.find((r) => r.name.startsWith('cockatiel'));
const ours = results.find((r) => r.name === 'db-safeguards run (read)');

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${os.platform()} ${os.arch()}`;
console.log(`\nPipeline overhead on a no-op operation (median of ${rounds} rounds; ${machine})\n`);
const pad = (text, width) => String(text).padEnd(width);
const lpad = (text, width) => String(text).padStart(width);
console.log(
  `${pad('case', 40)}${lpad('sequential ns/op', 18)}${lpad('× bare', 9)}${lpad(`${CONCURRENCY} concurrent ns/op`, 24)}${lpad('× bare', 9)}`,
);
for (const r of results) {
  console.log(
    `${pad(r.name, 40)}${lpad(r.sequentialNs.toFixed(0), 18)}${lpad((r.sequentialNs / bare.sequentialNs).toFixed(2), 9)}${lpad(r.concurrentNs.toFixed(0), 24)}${lpad((r.concurrentNs / bare.concurrentNs).toFixed(2), 9)}`,
  );
}
const headline = {
  sequentialVsCockatiel: ours.sequentialNs / cockatielResult.sequentialNs,
  concurrentVsCockatiel: ours.concurrentNs / cockatielResult.concurrentNs,
};
// The one target here is relative: at most 0.75 of cockatiel's retry + breaker + bulkhead. An
// absolute nanosecond target is not kept: an HTTP request costs milliseconds of CPU, so a
// microsecond here is not what a user feels (see the refusal-cost benchmark for what is).
const cockatielTarget = 0.75;
console.log(
  `\ndb-safeguards / cockatiel: ${headline.sequentialVsCockatiel.toFixed(2)} sequential, ${headline.concurrentVsCockatiel.toFixed(2)} at ${CONCURRENCY} concurrent` +
    ` (target <= ${cockatielTarget}): ${headline.sequentialVsCockatiel <= cockatielTarget && headline.concurrentVsCockatiel <= cockatielTarget ? 'met' : 'MISSED'}`,
);
const jsonPath = option('--json', undefined);
if (jsonPath)
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ machine, rounds, concurrency: CONCURRENCY, results, headline, at: new Date().toISOString() }, null, 2)}\n`,
  );
