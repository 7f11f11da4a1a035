/**
 * Runs in its own process (spawned by postgres-js-killed-backend.test.ts): kills the backend under a
 * safeguarded drizzle transaction and under a burst of pipelined queries, with the postgres.js line named
 * by PROBE_MODULE, then prints what the caller saw as one JSON line. A driver fault that throws outside
 * any promise ends this process before it prints, which is the failure the test exists to catch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createSafeguards, isSafeguardError } from '@db-safeguards/core';
import { sql as q } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { drizzle } from '../../src/postgres-js/index.js';

const { PROBE_MODULE: moduleName, PROBE_APP_URL: appUrl, PROBE_ADMIN_URL: adminUrl } = process.env;
const rounds = Number(process.env.PROBE_ROUNDS ?? 5);
if (!moduleName || !appUrl || !adminUrl)
  throw new Error('PROBE_MODULE, PROBE_APP_URL and PROBE_ADMIN_URL are required');
const postgres = (await import(moduleName)).default as (url: string, options: object) => Sql;

const safeguards = createSafeguards({
  queue: { maxConcurrentConnections: 2, reservedForCritical: 0 },
  retry: { maxAttempts: 1 },
});
const client = postgres(appUrl, { max: 2, onnotice: () => {} });
const db = drizzle({ client, safeguards });
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
const seen: Record<string, number> = {};
const count = (what: string) => {
  seen[what] = (seen[what] ?? 0) + 1;
};
const outcomeOf = (error: unknown) =>
  isSafeguardError(error)
    ? `typed:${error.type}`
    : `untyped:${String((error as { code?: unknown }).code ?? error)}`;

/** Resolves with the outcome, or 'HANG' when the promise does not settle in time. */
function settle(promise: Promise<unknown>, ms = 8_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => 'ok', outcomeOf),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('HANG'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function killWhenBusy(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [row] = await admin<
      [{ state: string | null }]
    >`select state from pg_stat_activity where pid = ${pid}`;
    if (row?.state === 'active') break;
    await sleep(10);
  }
  await admin`select pg_terminate_backend(${pid})`;
}

const pidOf = (rows: unknown) => Number((rows as Array<{ pid: number }>)[0]?.pid ?? 0);

for (let round = 0; round < rounds; round++) {
  let transactionPid = 0;
  const transaction = db.transaction(async (tx) => {
    transactionPid = pidOf(await tx.execute(q`select pg_backend_pid() as pid`));
    await tx.execute(q`select pg_sleep(2)`);
  });
  while (transactionPid === 0) await sleep(5);
  const [transactionOutcome] = await Promise.all([settle(transaction), killWhenBusy(transactionPid)]);
  count(`transaction:${transactionOutcome}`);

  let pid = 0;
  for (let attempt = 1; attempt <= 5 && pid === 0; attempt++)
    pid = pidOf(await db.execute(q`select pg_backend_pid() as pid`).catch(() => []));
  if (pid === 0) throw new Error('no connection after five attempts');
  const burst = Array.from({ length: 10 }, () => settle(db.execute(q`select pg_sleep(0.2)`)));
  await killWhenBusy(pid);
  for (const outcome of await Promise.all(burst))
    count(
      `burst:${outcome === 'ok' || outcome === 'HANG' || outcome.startsWith('untyped') ? outcome : 'typed'}`,
    );

  let recovered = 'never';
  for (let attempt = 1; attempt <= 5 && recovered === 'never'; attempt++)
    if ((await settle(db.execute(q`select 1`))) === 'ok') recovered = `attempt ${attempt}`;
  count(`recovered:${recovered}`);
}

await client.end({ timeout: 1 });
await admin.end({ timeout: 1 });
await safeguards.close();
console.log(JSON.stringify({ rounds, seen }));
