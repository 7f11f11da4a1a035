import { setTimeout as sleep } from 'node:timers/promises';
/**
 * Runs in its own process (spawned by postgres-js-killed-backend.test.ts): kills the backend under a
 * postgres.js transaction and under a burst of pipelined queries, then prints what the caller saw as one
 * JSON line. A driver fault that throws outside any promise ends this process before it prints, which is
 * the failure the test exists to catch.
 */
import postgres from 'postgres';

const appUrl = process.env.PROBE_APP_URL;
const adminUrl = process.env.PROBE_ADMIN_URL;
const rounds = Number(process.env.PROBE_ROUNDS ?? 5);
if (!appUrl || !adminUrl) throw new Error('PROBE_APP_URL and PROBE_ADMIN_URL are required');

const sql = postgres(appUrl, { max: 2, onnotice: () => {} });
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
const seen: Record<string, number> = {};
const count = (what: string) => {
  seen[what] = (seen[what] ?? 0) + 1;
};
const codeOf = (error: unknown) => String((error as { code?: unknown }).code ?? (error as Error).message);

/** Resolves with the outcome, or 'HANG' when the driver never settles the promise. */
function settle(promise: Promise<unknown>, ms = 5_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => 'ok',
      (error: unknown) => codeOf(error),
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('HANG'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function killWhenBusy(pid: number): Promise<void> {
  // Wait until the backend is actually running the statement, so the kill lands mid-query.
  for (let i = 0; i < 100; i++) {
    const [row] = await admin<
      [{ state: string | null }]
    >`select state from pg_stat_activity where pid = ${pid}`;
    if (row?.state === 'active') break;
    await sleep(10);
  }
  await admin`select pg_terminate_backend(${pid})`;
}

for (let round = 0; round < rounds; round++) {
  // A transaction whose backend dies mid-statement: postgres.js then writes ROLLBACK to the dead socket.
  let transactionPid = 0;
  const transaction = sql.begin(async (tx) => {
    const [row] = await tx<[{ pid: number }]>`select pg_backend_pid() as pid`;
    transactionPid = row.pid;
    await tx`select pg_sleep(2)`;
  });
  while (transactionPid === 0) await sleep(5);
  const [transactionOutcome] = await Promise.all([settle(transaction), killWhenBusy(transactionPid)]);
  count(`transaction:${transactionOutcome}`);

  // Pipelined pooled queries on one connection whose backend dies. Right after a kill the driver may
  // fail a query or two with the previous connection's error; that is a retryable failure, not a fault.
  let pid = 0;
  for (let attempt = 1; attempt <= 5 && pid === 0; attempt++) {
    const [row] = await sql<[{ pid: number }]>`select pg_backend_pid() as pid`.catch(() => [{ pid: 0 }]);
    pid = row?.pid ?? 0;
  }
  if (pid === 0) throw new Error('no connection after five attempts');
  const burst = Array.from({ length: 10 }, () => settle(sql`select pg_sleep(0.2)`));
  await killWhenBusy(pid);
  for (const outcome of await Promise.all(burst))
    count(`burst:${outcome === 'ok' || outcome === 'HANG' ? outcome : 'failed'}`);

  // The pool must recover: a fresh query succeeds within a few attempts.
  let recovered = 'never';
  for (let attempt = 1; attempt <= 5 && recovered === 'never'; attempt++) {
    if ((await settle(sql`select 1`)) === 'ok') recovered = `attempt ${attempt}`;
  }
  count(`recovered:${recovered}`);
}

await sql.end({ timeout: 1 });
await admin.end({ timeout: 1 });
console.log(JSON.stringify({ rounds, seen }));
