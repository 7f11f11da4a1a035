// A two-second tour of @db-safeguards/core with a simulated database: the one connection budget under
// a burst, a circuit breaker opening and failing fast, and a driver error turned into a typed,
// user-friendly error. Run it with `pnpm demo` from the repository root.
import {
  classifyError,
  createSafeguards,
  Priority,
  priorityName,
  toUserFriendlyError,
} from '@db-safeguards/core';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 8 }, retry: { maxAttempts: 1 } });

// 1. The budget: 40 queries at once, mixed priorities, never more than 8 "connections" busy.
console.log('1. Connection budget: 40 concurrent queries on a budget of 8');
let busy = 0;
let peak = 0;
const finished = [];
const query = (priority) => async () => {
  busy++;
  peak = Math.max(peak, busy);
  await sleep(20);
  busy--;
  finished.push(priority);
};
const burst = [];
for (let i = 0; i < 40; i++) {
  const priority = [Priority.BATCH, Priority.LOW, Priority.NORMAL, Priority.HIGH][i % 4];
  burst.push(safeguards.run(query(priority), { priority, operationType: 'read' }));
}
await Promise.all(burst);
const stats = safeguards.queue.stats();
console.log(
  `   peak busy connections: ${peak} (budget ${stats.maxConcurrentConnections}; 1 slot kept for CRITICAL)`,
);
console.log(
  `   completion order of the queued work: ${finished
    .slice(7)
    .map((p) => priorityName(p)[0])
    .join('')}`,
);
console.log(
  `   (H=HIGH first, then N, L, B) wait p95 ${stats.waitMs.p95} ms, processed ${stats.processed}\n`,
);

// 2. A breaker: five connection failures open `primary`; the next call fails fast without queueing.
console.log('2. Circuit breaker: the database starts refusing connections');
const refused = () =>
  Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' }));
for (let i = 1; i <= 5; i++) {
  const error = await safeguards.run(refused, { operationType: 'read' }).catch((e) => e);
  console.log(
    `   attempt ${i}: ${error.type} (${error.reason}), breaker ${safeguards.breakers.get('primary').state}`,
  );
}
const started = performance.now();
const fast = await safeguards.run(async () => 'never runs', { operationType: 'read' }).catch((e) => e);
console.log(
  `   next call: ${fast.type} in ${(performance.now() - started).toFixed(2)} ms, retry after ${Math.round(fast.retryAfterMs / 1000)} s, nothing queued\n`,
);

// 3. A typed error: what postgres.js throws when the role's connection limit is hit, as the user sees it.
console.log('3. Typed errors: "too many connections for role" from postgres.js');
const driverError = Object.assign(new Error('too many connections for role "app"'), {
  name: 'PostgresError',
  code: '53300',
});
const classified = classifyError(driverError);
console.log(
  `   classified: type=${classified.type} reason=${classified.reason} severity=${classified.severity} HTTP ${classified.httpStatus}`,
);
console.log(
  '   what the client gets:',
  JSON.stringify(toUserFriendlyError(driverError), null, 2).replaceAll('\n', '\n   '),
);

const health = await safeguards.health();
console.log(
  `\nHealth now: ${health.status} (HTTP ${health.httpStatus}); alerts: ${health.alerts.map((a) => a.component).join(', ')}`,
);
