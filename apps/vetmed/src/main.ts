/**
 * Starts VetMed from the environment: PGlite in `.data/pglite` unless DATABASE_URL says otherwise.
 * Prints where it listens; SIGTERM or SIGINT shut it down gracefully.
 */
import { demoCredentials } from './db/index.js';
import { EnvError, loadEnv } from './env.js';
import { startVetmed } from './start-vetmed.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadEnv>;
  try {
    config = loadEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      console.error(`VetMed cannot start:\n${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const running = await startVetmed(config, { installProcessHandlers: true });
  const { url } = running;
  const lines = [
    '',
    `  VetMed is listening on ${url}  (database: ${running.database.driver}, budget: ${running.safeguards.queue.options.maxConcurrentConnections} connections)`,
    `  open:    ${url}   (the web client)`,
    config.server.adminToken
      ? `  dashboard: ${url}/dashboard   (asks for the ADMIN_TOKEN you set)`
      : `  dashboard: ${url}/dashboard   (start with ADMIN_TOKEN set to open it)`,
    `  health:  ${url}/api/health   (detailed, with ADMIN_TOKEN: ${url}/api/health?detailed=true)`,
    `  API:     ${url}/api/trpc     metrics (bearer METRICS_TOKEN or ADMIN_TOKEN): ${url}/metrics`,
  ];
  if (config.seedDemo)
    lines.push(
      `  sign in: ${demoCredentials.email} / ${demoCredentials.password}   (try: pnpm demo -- --url ${url})`,
    );
  console.error(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  console.error('VetMed failed to start:', error);
  process.exit(1);
});
