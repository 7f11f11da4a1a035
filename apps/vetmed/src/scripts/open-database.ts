import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { createDatabase, type Database } from '../db/index.js';
import { type AppConfig, EnvError, loadEnv } from '../env.js';

/** For the command-line scripts: configuration from the environment, one safeguards, the database. */
export async function openDatabase(): Promise<{
  config: AppConfig;
  safeguards: Safeguards;
  database: Database;
}> {
  let config: AppConfig;
  try {
    config = loadEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const safeguards = createSafeguards(config.safeguards);
  const database = await createDatabase({ config: config.database, safeguards });
  return { config, safeguards, database };
}

/** Where the data is, for humans (no password). */
export function describeTarget(config: AppConfig): string {
  const { database } = config;
  if (database.driver === 'pglite') return `PGlite at ${database.pgliteDataDir}`;
  const url = new URL(database.unpooledUrl ?? database.url!);
  return `${database.driver} at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
}
