// A separate Node process holding part of a shared budget: `node budget-worker.mjs '<json options>'`.
// It runs closed loops of work through the budget and prints one JSON line per second with its limit.
import { createRedisBudget } from '@db-safeguards/redis';
import { Redis } from 'ioredis';
import { BudgetGate, runClosedLoops } from './budget-gate.mjs';

const options = JSON.parse(process.argv[2]);
const client = new Redis(options.url, {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  lazyConnect: true,
});
client.on('error', () => {});
await client.connect();
const budget = createRedisBudget({
  client,
  key: options.key,
  capacity: options.capacity,
  leaseMs: options.leaseMs,
  refreshMs: options.refreshMs,
  instanceId: `worker-${process.pid}`,
});
await budget.ready();
const gate = new BudgetGate(budget);
let done = 0;
const report = () =>
  console.log(JSON.stringify({ pid: process.pid, limit: budget.limit, mode: budget.mode, done }));
budget.onLimitChange(report);
setInterval(report, 200).unref();
report();
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
await runClosedLoops({
  gate,
  client,
  counterKey: options.counterKey,
  clients: options.clients,
  priority: options.priority,
  minMs: options.minMs,
  maxMs: options.maxMs,
  signal: controller.signal,
  onDone: () => done++,
});
await budget.close();
client.disconnect();
