import { defineConfig } from 'drizzle-kit';

/**
 * `pnpm db:generate` compares the schema with the last snapshot in `drizzle/meta` and writes the next
 * SQL migration. Generating needs no database; applying migrations is `pnpm db:migrate` (any driver).
 */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
