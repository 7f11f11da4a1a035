/**
 * What the budget costs one statement, in this process's CPU: the same Drizzle query on postgres.js,
 * plain and through `@db-safeguards/drizzle` (each statement one `safeguards.run`: admission, a slot of
 * the budget, a deadline, error classification), each call in a context of its own as a tRPC
 * middleware would set one (`safeguards.withContext`). One process, one throwaway PostgreSQL, two
 * pools of the same size; batches of each in turn, so what else the machine does weighs on both.
 *
 * It prices the core's own layer, which every user of the packages pays, apart from the HTTP server,
 * tRPC and the app that `pnpm bench:served-cost` measures together.
 *
 * Usage: pnpm bench:guard-cost [-- --rounds 6 --statements 2000 --concurrency 4 --rows 50]
 */
import { createSafeguards, Priority } from '@db-safeguards/core';
import { drizzle as guardedDrizzle } from '@db-safeguards/drizzle/postgres-js';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { desc, eq } from 'drizzle-orm';
import { integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { drizzle as plainDrizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { countOption } from '../cli-options.js';
import { machineDescription } from '../machine.js';
import { runPairedBatches } from './paired-batches.js';

const rounds = countOption('rounds', 6);
const statements = countOption('statements', 2000);
const concurrency = countOption('concurrency', 4);
const rows = countOption('rows', 50);

/** A table shaped like a page of dose history: the app's busiest read. */
const events = pgTable('guard_cost_events', {
  id: uuid('id').primaryKey().defaultRandom(),
  subjectId: integer('subject_id').notNull(),
  amount: integer('amount').notNull(),
  note: text('note'),
  recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
});
const subjects = 16;

type Reader = (subject: number) => Promise<unknown>;

/** CPU µs of this process (user + system) for `statements` reads, `concurrency` at a time. */
async function timeBatch(read: Reader): Promise<number> {
  let next = 0;
  const started = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < statements) {
        const subject = next++ % subjects;
        await read(subject);
      }
    }),
  );
  const spent = process.cpuUsage(started);
  return spent.user + spent.system;
}

async function main(): Promise<void> {
  let server: TestPostgres | undefined;
  try {
    server = await startTestPostgres({ appRoleConnectionLimit: 2 * concurrency + 2 });
    const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create table guard_cost_events (
      id uuid primary key default gen_random_uuid(), subject_id integer not null, amount integer not null,
      note text, recorded_at timestamptz not null default now())`);
    await admin.unsafe('create index on guard_cost_events (subject_id, recorded_at desc)');
    await admin.unsafe(
      `insert into guard_cost_events (subject_id, amount, note, recorded_at)
       select s, g, 'given with food', now() - g * interval '1 hour'
       from generate_series(0, ${subjects - 1}) s, generate_series(1, ${rows}) g`,
    );
    await admin.unsafe(`grant select on guard_cost_events to ${server.appRole}`);
    await admin.end();

    const plainClient = postgres(server.appUrl, { max: concurrency, onnotice: () => {} });
    const plain = plainDrizzle({ client: plainClient });
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: concurrency + 1 } });
    const guardedClient = postgres(server.appUrl, { max: concurrency, onnotice: () => {} });
    const guarded = guardedDrizzle({ client: guardedClient, safeguards });

    const query = (db: typeof plain, subject: number) =>
      db
        .select()
        .from(events)
        .where(eq(events.subjectId, subject))
        .orderBy(desc(events.recordedAt))
        .limit(rows);
    const readers: Record<'plain' | 'guarded', Reader> = {
      plain: (subject) => query(plain, subject),
      guarded: (subject) =>
        safeguards.withContext({ priority: Priority.NORMAL, timeoutMs: 5000 }, () =>
          query(guarded as unknown as typeof plain, subject),
        ),
    };

    console.log(
      `CPU per statement: Drizzle on postgres.js, plain and through @db-safeguards/drizzle (${machineDescription()})`,
    );
    console.log(
      `${statements} reads of ${rows} rows per batch, ${concurrency} at a time, each pool ${concurrency} connections; batches in turn.`,
    );
    await runPairedBatches({
      names: ['plain', 'guarded'],
      rounds,
      unit: 'statement',
      measure: async (name) => (await timeBatch(readers[name])) / statements,
    });
    // Every guarded read must have run through the budget, or the comparison means nothing.
    const { operations } = safeguards.metrics();
    const expected = (rounds + 1) * statements;
    if (operations.succeeded !== expected || operations.failed !== 0 || operations.rejected !== 0)
      throw new Error(
        `expected ${expected} guarded statements to succeed, the budget counted ${operations.succeeded} (failed ${operations.failed}, rejected ${operations.rejected})`,
      );
    console.log(
      `the budget ran every guarded statement: ${operations.succeeded} succeeded, none failed or refused`,
    );
    await safeguards.close();
    await Promise.all([plainClient.end(), guardedClient.end()]);
  } finally {
    await server?.stop();
  }
}

await main();
