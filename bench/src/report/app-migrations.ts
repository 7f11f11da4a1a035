import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';

/** The sample app's migrations folder, as drizzle-kit writes it. */
export const appMigrationsFolder = fileURLToPath(new URL('../../../apps/vetmed/drizzle/', import.meta.url));

/** One migration as drizzle-kit wrote it: its tag and its statements. */
export interface AppMigration {
  tag: string;
  statements: string[];
}

interface Journal {
  entries: Array<{ idx: number; tag: string }>;
}

/**
 * The migrations of `folder` in the order drizzle applies them: the entries of its
 * `meta/_journal.json` by index, each file split at drizzle-kit's statement breakpoints.
 */
export function readAppMigrations(folder: string = appMigrationsFolder): AppMigration[] {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as Journal;
  return [...journal.entries]
    .sort((a, b) => a.idx - b.idx)
    .map(({ tag }) => ({
      tag,
      statements: readFileSync(join(folder, `${tag}.sql`), 'utf8')
        .split('--> statement-breakpoint')
        .map((statement) => statement.trim())
        .filter((statement) => statement.length > 0),
    }));
}

/**
 * Builds the app's own schema: every migration of `folder`, in order, in one transaction, as the
 * app's migrator does. Resolves with the tags applied.
 */
export async function applyAppMigrations(
  sql: postgres.Sql,
  folder: string = appMigrationsFolder,
): Promise<string[]> {
  const migrations = readAppMigrations(folder);
  await sql.begin(async (tx) => {
    for (const migration of migrations)
      for (const statement of migration.statements) await tx.unsafe(statement);
  });
  return migrations.map((migration) => migration.tag);
}
