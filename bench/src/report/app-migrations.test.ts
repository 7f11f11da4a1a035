import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startTestPostgres } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { applyAppMigrations, readAppMigrations } from './app-migrations.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the benchmark's copy of the app's schema", () => {
  it('follows the journal, not the file names, and splits each file at its breakpoints', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'app-migrations-test-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'meta'));
    writeFileSync(
      join(dir, 'meta', '_journal.json'),
      JSON.stringify({
        entries: [
          { idx: 1, tag: '0000_second' },
          { idx: 0, tag: '0001_first' },
        ],
      }),
    );
    writeFileSync(
      join(dir, '0001_first.sql'),
      'create table a (x int);--> statement-breakpoint\ncreate table b (y int);',
    );
    writeFileSync(join(dir, '0000_second.sql'), 'drop table b;\n');
    expect(readAppMigrations(dir)).toEqual([
      { tag: '0001_first', statements: ['create table a (x int);', 'create table b (y int);'] },
      { tag: '0000_second', statements: ['drop table b;'] },
    ]);
  });

  it("is the app's own: every migration applied, the idempotency key unique per regimen", async () => {
    const server = await startTestPostgres({ appRoleConnectionLimit: 2 });
    const sql = postgres(server.appUrl, { max: 1, onnotice: () => undefined });
    try {
      const applied = await applyAppMigrations(sql);
      expect(applied.slice(0, 2)).toEqual(['0000_init', '0001_idempotency_key_per_regimen']);
      const constraints = await sql<{ name: string; definition: string }[]>`
        select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
        where conrelid = 'administrations'::regclass and contype = 'u' order by conname`;
      expect(constraints).toEqual([
        {
          name: 'administrations_regimen_id_idempotency_key_unique',
          definition: 'UNIQUE (regimen_id, idempotency_key)',
        },
      ]);
    } finally {
      await sql.end({ timeout: 1 });
      await server.stop();
    }
  }, 60_000);
});
