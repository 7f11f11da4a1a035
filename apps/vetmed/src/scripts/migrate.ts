/** `pnpm db:migrate`: applies pending migrations from drizzle/ to the configured database. */
import { describeTarget, openDatabase } from './open-database.js';

const { config, safeguards, database } = await openDatabase();
try {
  const started = Date.now();
  await database.migrate();
  console.log(`Migrations applied to ${describeTarget(config)} in ${Date.now() - started} ms.`);
} finally {
  await database.close();
  await safeguards.close({ drainTimeoutMs: 1000 });
}
