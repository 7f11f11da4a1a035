// Installs what a user installs: `pnpm pack` of core, trpc and drizzle, installed with npm (not pnpm)
// into an empty project with drizzle-orm, postgres@latest and pg from the registry; then runs the root
// README's "Add it to your Drizzle app" code block, pasted as written, with 200 concurrent calls
// (reads, writes, transactions) against a role limited to 8 connections, once on postgres.js and once on
// pg (with the substitution the README states), as TypeScript run by tsx, the way an app would run it.
// Prints the figures; exits non-zero unless the peak of
// backends is <= 8, no 53300 arrives raw and no error arrives untyped.
//
//   node packages/drizzle/scripts/packed-install-check.mjs      (after `pnpm build`)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestPostgres } from '@db-safeguards/test-postgres';

const root = resolve(import.meta.dirname, '../../..');
const work = mkdtempSync(join(tmpdir(), 'db-safeguards-packed-'));
const run = (command, args, cwd, env = {}) =>
  execFileSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });

const server = await startTestPostgres({ appRoleConnectionLimit: 8 });
try {
  const tarballs = ['core', 'trpc', 'drizzle'].map((name) => {
    const out = run(
      'npx',
      ['-y', 'pnpm@10', 'pack', '--pack-destination', work],
      join(root, 'packages', name),
    );
    return out.trim().split('\n').at(-1).trim();
  });
  const project = join(work, 'app');
  run('mkdir', ['-p', project], work);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'packed-check', private: true, type: 'module' }),
  );
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      ...tarballs,
      'drizzle-orm',
      'postgres@latest',
      'pg',
      '@trpc/server',
      'tsx',
    ],
    project,
  );
  const versions = JSON.parse(run('npm', ['ls', '--json', '--depth=0'], project)).dependencies;

  // The README's code block, as written.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.split('<!-- quick-start:drizzle -->')[1]?.split('<!-- /quick-start:drizzle -->')[0];
  const code = block?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error('README.md has no quick-start:drizzle code block');
  writeFileSync(join(project, 'app-postgres.ts'), code);
  // The substitution the README states for node-postgres.
  writeFileSync(
    join(project, 'app-pg.ts'),
    code
      .replace("'@db-safeguards/drizzle/postgres-js'", "'@db-safeguards/drizzle/node-postgres'")
      .replace("import postgres from 'postgres';", "import { Pool } from 'pg';")
      .replace(
        'postgres(process.env.DATABASE_URL!, { max: 8 })',
        'new Pool({ connectionString: process.env.DATABASE_URL, max: 8 })',
      ),
  );
  writeFileSync(
    join(project, 'schema.ts'),
    `import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
export const orders = pgTable('orders', { id: serial('id').primaryKey(), item: text('item').notNull(), qty: integer('qty').notNull() });
`,
  );
  writeFileSync(join(project, 'load.js'), loadScript());
  const admin = (await import(join(project, 'node_modules/postgres/src/index.js'))).default(server.adminUrl, {
    max: 1,
    onnotice: () => {},
  });
  await admin.unsafe('create table orders (id serial primary key, item text not null, qty integer not null)');
  await admin.unsafe(
    `grant all on orders to ${server.appRole}; grant all on sequence orders_id_seq to ${server.appRole}`,
  );
  await admin.end();

  const results = {};
  for (const driver of ['postgres', 'pg']) {
    const out = run('node', ['--import', 'tsx', 'load.js', `./app-${driver}.ts`], project, {
      DATABASE_URL: server.appUrl,
      ADMIN_URL: server.adminUrl,
      APP_ROLE: server.appRole,
    });
    results[driver] = JSON.parse(out.trim().split('\n').at(-1));
  }
  console.log(
    JSON.stringify(
      { versions: Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, v.version])), results },
      null,
      2,
    ),
  );
  const bad = Object.entries(results).filter(
    ([, r]) => r.peak > 8 || r.raw53300 > 0 || r.untyped > 0 || r.ok + r.typed !== 200 || r.txOk === 0,
  );
  if (bad.length > 0) {
    console.error('packed-install check FAILED for', bad.map(([name]) => name).join(', '));
    process.exitCode = 1;
  } else
    console.log(
      'packed-install check passed: peak <= 8, 0 raw 53300, 0 untyped errors, on postgres.js and pg',
    );
} finally {
  await server.stop();
  if (process.env.KEEP_PACKED) console.error('kept', work);
  else rmSync(work, { recursive: true, force: true });
}

/** The load: 200 concurrent calls through the app module, sampling the role's backends meanwhile. */
function loadScript() {
  return `import { isSafeguardError } from '@db-safeguards/core';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import * as schema from './schema.js';
const { db, safeguards } = await import(process.argv[2]);
const admin = postgres(process.env.ADMIN_URL, { max: 1, onnotice: () => {} });
let peak = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const [row] = await admin\`select count(*)::int as n from pg_stat_activity where usename = \${process.env.APP_ROLE} and backend_type = 'client backend'\`;
    peak = Math.max(peak, row.n);
    await new Promise((r) => setTimeout(r, 5));
  }
})();
const tally = { ok: 0, typed: 0, untyped: 0, raw53300: 0, txOk: 0, types: {} };
await Promise.all(Array.from({ length: 200 }, async (_, i) => {
  try {
    if (i % 4 === 0) {
      await db.transaction(async (tx) => {
        await tx.insert(schema.orders).values({ item: 'tx' + i, qty: 1 });
        await tx.execute(sql\`select pg_sleep(0.02)\`);
      });
      tally.txOk++;
    } else if (i % 4 === 1) await db.insert(schema.orders).values({ item: 'w' + i, qty: 2 });
    else await db.select().from(schema.orders).limit(10);
    tally.ok++;
  } catch (error) {
    if (isSafeguardError(error)) {
      tally.typed++;
      tally.types[error.type] = (tally.types[error.type] ?? 0) + 1;
    } else {
      tally.untyped++;
      if (String(error?.code) === '53300' || /too many connections/i.test(String(error?.message))) tally.raw53300++;
      console.error('untyped', error);
    }
  }
}));
sampling = false;
await sampler;
await admin.end();
await safeguards.close();
await db.$client.end();
console.log(JSON.stringify({ ...tally, peak }));
`;
}
