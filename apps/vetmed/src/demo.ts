/**
 * Records a dose end to end, over HTTP with the tRPC client, the way a real client would:
 * sign in, find an animal and its regimen, record a dose with an idempotency key, send the very same
 * request again (a retry after a lost response) and show that the dose was recorded exactly once.
 *
 *   pnpm demo                      starts its own VetMed on an in-memory database
 *   pnpm demo -- --url http://127.0.0.1:3000    uses a running VetMed (seeded with the demo data)
 */
import { randomUUID } from 'node:crypto';
import { getUserFriendlyError, safeguardsRetryLink } from '@db-safeguards/trpc/client';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import { demoCredentials } from './db/index.js';
import { loadEnv } from './env.js';
import type { AppRouter } from './routers/app-router.js';
import { createLogger } from './server/logger.js';
import { type RunningVetmed, startVetmed } from './start-vetmed.js';

const urlFlag = process.argv.indexOf('--url');
let baseUrl = urlFlag >= 0 ? process.argv[urlFlag + 1] : undefined;
let running: RunningVetmed | undefined;
if (!baseUrl) {
  console.log('Starting VetMed on an in-memory database...');
  const config = loadEnv({ PGLITE_DATA_DIR: 'memory://', PORT: '0', SEED_DEMO: 'true', LOG_LEVEL: 'warn' });
  running = await startVetmed(config, { log: createLogger('warn') });
  baseUrl = running.url;
}

let token: string | undefined;
const client = createTRPCClient<AppRouter>({
  links: [
    safeguardsRetryLink({ idempotentMutations: ['administrations.record'] }),
    httpBatchLink({
      url: `${baseUrl}/api/trpc`,
      transformer: superjson,
      // The server refuses batches of more than 25 calls (defaultMaxBatchSize).
      maxItems: 25,
      headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
    }),
  ],
});
const step = (text: string) => console.log(`\n▸ ${text}`);

try {
  step(`Sign in as ${demoCredentials.email}`);
  const session = await client.auth.signIn.mutate(demoCredentials);
  token = session.token;
  console.log(`  signed in as ${session.user.name}; token expires ${session.expiresAt.toISOString()}`);

  step('Find a household, an animal and its active regimen');
  const [household] = await client.households.list.query();
  if (!household) throw new Error('no household: is the server seeded with the demo data (SEED_DEMO=true)?');
  const animals = await client.animals.list.query({ householdId: household.id });
  const animal = animals[0]!;
  const [regimen] = (await client.regimens.list.query({ animalId: animal.id, activeOnly: true })).value;
  if (!regimen) throw new Error(`${animal.name} has no active regimen`);
  console.log(
    `  ${household.name} › ${animal.name} (${animal.species}) › ${regimen.medication.name}, ${regimen.doseAmount} ${regimen.doseUnit}`,
  );
  const before = (await client.administrations.history.query({ animalId: animal.id, limit: 200 })).value;
  const stockBefore = (await client.inventory.list.query({ householdId: household.id })).value.find(
    (item) => item.medicationId === regimen.medicationId,
  );

  step('Record a dose (HIGH priority, idempotent by key)');
  const idempotencyKey = randomUUID();
  const first = await client.administrations.record.mutate({
    regimenId: regimen.id,
    idempotencyKey,
    notes: 'given with breakfast',
  });
  if (first.status !== 'applied') throw new Error(`the dose was ${first.status}: is the database down?`);
  console.log(
    `  created: ${first.created}  id: ${first.administration.id}  at ${first.administration.recordedAt.toISOString()}`,
  );

  step('Send exactly the same request again (as a client would after losing the response)');
  const again = await client.administrations.record.mutate({
    regimenId: regimen.id,
    idempotencyKey,
    notes: 'given with breakfast',
  });
  if (again.status !== 'applied') throw new Error(`the dose was ${again.status}: is the database down?`);
  console.log(`  created: ${again.created}  same id: ${again.administration.id === first.administration.id}`);

  step('Check the history and the stock');
  const after = (await client.administrations.history.query({ animalId: animal.id, limit: 200 })).value;
  const stockAfter = (await client.inventory.list.query({ householdId: household.id })).value.find(
    (item) => item.medicationId === regimen.medicationId,
  );
  console.log(`  doses recorded for ${animal.name}: ${before.length} → ${after.length} (exactly one more)`);
  if (stockBefore && stockAfter)
    console.log(
      `  ${stockAfter.name} in stock: ${stockBefore.quantityOnHand} → ${stockAfter.quantityOnHand} ${stockAfter.unit}`,
    );
  if (after.length !== before.length + 1) throw new Error('the dose was not recorded exactly once');

  step('Health');
  const health = (await (await fetch(`${baseUrl}/api/health`)).json()) as {
    status: string;
    database: string;
  };
  console.log(`  ${health.status} (database ${health.database})`);
  console.log('\nDone: one dose, recorded once, however many times the request was sent.');
} catch (error) {
  const friendly = getUserFriendlyError(error);
  console.error(
    friendly
      ? `\nThe server said: ${friendly.message} (${friendly.type}, error ID ${friendly.errorId})`
      : error,
  );
  process.exitCode = 1;
} finally {
  await running?.stop();
}
