// A separate process holding part of a shared budget, for the tests that SIGKILL it:
//   node --conditions=@db-safeguards/source --import tsx lease-holder.ts '<json options>'
// It wants `slots` slots, holds what it is granted, and prints one JSON line per change of its limit
// (and every 100 ms) with its limit and mode.
import { Redis } from 'ioredis';
import { createRedisBudget } from '../../src/index.js';

const options = JSON.parse(process.argv[2]!) as {
  url: string;
  key: string;
  capacity: number;
  leaseMs: number;
  refreshMs: number;
  slots: number;
};
// Default ioredis options, as an app would have them.
const client = new Redis(options.url);
client.on('error', () => {});
const budget = createRedisBudget({
  client,
  key: options.key,
  capacity: options.capacity,
  leaseMs: options.leaseMs,
  refreshMs: options.refreshMs,
  instanceId: `holder-${process.pid}`,
});
const report = () =>
  console.log(JSON.stringify({ pid: process.pid, limit: budget.limit, mode: budget.mode }));
budget.onLimitChange(({ limit }) => {
  // Holds every slot it is granted, up to what it wants.
  budget.reportDemand({ inUse: Math.min(limit, options.slots), wanted: { NORMAL: options.slots } });
  report();
});
budget.reportDemand({ inUse: 0, wanted: { NORMAL: options.slots } });
await budget.ready();
report();
setInterval(report, 100);
