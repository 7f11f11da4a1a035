/**
 * Entry of a side process (see side-process.ts): runs the one task it is sent over IPC and sends back
 * its result. Started by the parent with `node --import tsx`, never by hand.
 */
import { probeHealth } from '../health-prober.js';
import { runOpenLoop } from '../open-loop.js';
import { createClient, runScenario, type VirtualUser } from '../scenarios.js';
import type { FromSide, HealthTask, OpenLoopTask, SideTask, ToSide } from './side-task.js';

function send(message: FromSide): void {
  process.send?.(message);
}

/** Resolves on the parent's next message of `type` (messages arrive in order; none is missed). */
const arrived: ToSide['type'][] = [];
const waiters = new Map<ToSide['type'], () => void>();
function when(type: ToSide['type']): Promise<void> {
  const index = arrived.indexOf(type);
  if (index >= 0) {
    arrived.splice(index, 1);
    return Promise.resolve();
  }
  return new Promise((resolve) => waiters.set(type, resolve));
}

async function openLoop(task: OpenLoopTask): Promise<void> {
  const users: VirtualUser[] = task.users.map((user) => ({
    ...user,
    client: createClient(task.baseUrl, user.headers),
  }));
  // A fresh process compiles its HTTP client and opens a connection on its first calls: done before
  // the measured run, as a browser that has been on the page a while has.
  for (let i = 0; i < task.warmUpCalls; i++)
    await runScenario('list', users[i % users.length]!).catch(() => undefined);
  send({ type: 'ready' });
  await when('go');
  const result = await runOpenLoop({
    users,
    ratePerSecond: task.ratePerSecond,
    durationMs: task.durationMs,
    mix: task.mix,
    maxInFlight: 100_000,
    drainMs: task.drainMs,
  });
  send({ type: 'result', result: result.records });
}

async function health(task: HealthTask): Promise<void> {
  // The first fetch of a fresh process loads its HTTP client and opens a connection: not a check's
  // latency, so done before the measured run.
  for (let i = 0; i < 2; i++)
    await fetch(`${task.url}/api/health`, { signal: AbortSignal.timeout(task.timeoutMs) })
      .then((response) => response.arrayBuffer())
      .catch(() => undefined);
  send({ type: 'ready' });
  await when('go');
  const prober = probeHealth(task.url, task.intervalMs, task.timeoutMs);
  await when('stop');
  send({ type: 'result', result: await prober.stop() });
}

function run(task: SideTask): Promise<void> {
  return task.kind === 'open-loop' ? openLoop(task) : health(task);
}

process.on('message', (message: ToSide) => {
  if (message.type === 'start') {
    run(message.task).then(
      () => process.disconnect(),
      (error: unknown) => {
        send({
          type: 'failed',
          message: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        process.disconnect();
      },
    );
    return;
  }
  const waiter = waiters.get(message.type);
  if (waiter) {
    waiters.delete(message.type);
    waiter();
  } else arrived.push(message.type);
});
