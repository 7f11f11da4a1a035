/**
 * What `@db-safeguards/trpc` costs one tRPC call, in CPU, without HTTP or a database: the same router
 * served in-process by tRPC's fetch adapter, plain and with the safeguards adopted as the README
 * shows (the middleware on every procedure, the error formatter, the response headers), the body's
 * one "database call" a resolved page of 50 rows (plain) or the same through `safeguards.run`
 * (adopted). The app's transformer on both. Batches of each in turn, in one process.
 *
 * With `pnpm bench:guard-cost` (one guarded statement against a plain one) it splits what adopting
 * the safeguards costs a served call into its layers.
 *
 * `--evict-mb N` walks N MB of memory after each call (the same for both, so it adds the same CPU to
 * each): the caches no longer hold the call's code and data, as in a server whose calls are spread out
 * between other work (the database, other processes), and the layers' cost shows as a server pays it.
 *
 * Usage: pnpm bench:trpc-call-cost [-- --rounds 6 --calls 5000 --concurrency 4 --evict-mb 0]
 */
import { createSafeguards, Priority } from '@db-safeguards/core';
import {
  createSafeguardsMiddleware,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  safeguardsResponseMeta,
} from '@db-safeguards/trpc';
import { wireTransformer } from '@db-safeguards/vetmed/wire-transformer';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { z } from 'zod';
import { countOption, textOption } from '../cli-options.js';
import { machineDescription } from '../machine.js';
import { runPairedBatches } from './paired-batches.js';

const rounds = countOption('rounds', 6);
const calls = countOption('calls', 5000);
const concurrency = countOption('concurrency', 4);
const evictMb = Number(textOption('evict-mb') ?? 0);
if (!Number.isInteger(evictMb) || evictMb < 0) throw new Error('--evict-mb must be an integer >= 0');
/** Memory walked after each call, one byte in each 64-byte line (see `--evict-mb`). */
const evictBuffer = new Uint8Array(evictMb * 2 ** 20);
let evictSum = 0;
function evictCaches(): void {
  for (let i = 0; i < evictBuffer.length; i += 64) evictSum += evictBuffer[i]!++;
}

/** A page of 50 rows shaped like the app's dose history. */
const page = Array.from({ length: 50 }, (_, i) => ({
  id: `0f0e0d0c-0b0a-4908-8706-0504030201${String(i).padStart(2, '0')}`,
  animalId: '11111111-2222-4333-8444-555555555555',
  regimenId: '66666666-7777-4888-8999-aaaaaaaaaaaa',
  amount: '2.50',
  unit: 'ml',
  notes: i % 3 === 0 ? 'given with food' : null,
  recordedAt: new Date(Date.UTC(2026, 11, 1, i)),
}));
const input = z.object({ animalId: z.uuid(), limit: z.number().int().min(1).max(200).default(50) });

interface Context {
  req: Request;
}

function plainRouter() {
  const t = initTRPC.context<Context>().create({ transformer: wireTransformer, isDev: false });
  return t.router({
    history: t.procedure
      .input(input)
      .query(async () => ({ value: await Promise.resolve(page), degraded: false })),
  });
}

function adoptedRouter() {
  const unlimited = { limit: 100_000_000, windowMs: 60_000 };
  const safeguards = createSafeguards({ rateLimits: { policies: { api: unlimited } } });
  const t = initTRPC
    .context<Context>()
    .meta<SafeguardsMeta>()
    .create({ transformer: wireTransformer, isDev: false, errorFormatter: safeguardsErrorFormatter() });
  const procedure = t.procedure.use(createSafeguardsMiddleware(safeguards));
  const router = t.router({
    history: procedure
      .meta({ priority: Priority.NORMAL })
      .input(input)
      .query(async () => ({
        value: await safeguards.run(async () => page, { operationType: 'read' }),
        degraded: false,
      })),
  });
  return { router, safeguards };
}

const url = `http://127.0.0.1/api/trpc/history?input=${encodeURIComponent(JSON.stringify({ json: { animalId: '11111111-2222-4333-8444-555555555555', limit: 50 } }))}`;

type Serve = () => Promise<void>;

function server(router: ReturnType<typeof plainRouter>, adopted: boolean): Serve {
  const responseMeta = adopted ? safeguardsResponseMeta() : undefined;
  return async () => {
    const req = new Request(url, { headers: { 'x-forwarded-for': '10.0.0.1' } });
    const res = await fetchRequestHandler({
      endpoint: '/api/trpc',
      req,
      router,
      createContext: () => ({ req }),
      ...(responseMeta ? { responseMeta } : {}),
    });
    if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
}

/** CPU µs of this process a call, `concurrency` calls at a time. */
async function timeBatch(serve: Serve): Promise<number> {
  let next = 0;
  const started = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) {
        await serve();
        if (evictMb > 0) evictCaches();
      }
    }),
  );
  const spent = process.cpuUsage(started);
  return (spent.user + spent.system) / calls;
}

const adopted = adoptedRouter();
const serves = {
  plain: server(plainRouter(), false),
  adopted: server(adopted.router as unknown as ReturnType<typeof plainRouter>, true),
};
console.log(
  `CPU per tRPC call, in-process (fetch adapter, no HTTP, no database): plain and with @db-safeguards/trpc adopted (${machineDescription()})`,
);
console.log(
  `${calls} calls per batch, ${concurrency} at a time, a 50-row answer${evictMb > 0 ? `, ${evictMb} MB walked after each call` : ''}; batches in turn.`,
);
await runPairedBatches({
  names: ['plain', 'adopted'],
  rounds,
  unit: 'call',
  measure: (name) => timeBatch(serves[name]),
});
const { operations } = adopted.safeguards.metrics();
const expected = (rounds + 1) * calls;
if (operations.succeeded !== expected)
  throw new Error(
    `expected ${expected} guarded runs to succeed, the safeguards counted ${operations.succeeded}`,
  );
console.log(`the safeguards ran every adopted call's body: ${operations.succeeded} succeeded`);
await adopted.safeguards.close();
// Read, so the walk cannot be optimised away.
if (evictSum < 0) console.log(evictSum);
