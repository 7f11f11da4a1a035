import { afterAll, beforeAll } from 'vitest';
import { type AppTarget, describeAppContract } from './app/app-contract.js';
import { type NeonTestTarget, startNeonTestTarget } from './support/neon-test-target.js';

let neon: NeonTestTarget;
let target: AppTarget;

beforeAll(async () => {
  neon = await startNeonTestTarget();
  target = {
    env: { DATABASE_URL: neon.server.appUrl, DB_DRIVER: 'neon' },
    startOptions: { database: { neonConfig: neon.neonConfig } },
    server: {
      connectionLimit: neon.server.appConnectionLimit,
      sampleConnections: () => neon.server.sampleAppConnections(5),
    },
  };
}, 60_000);

afterAll(async () => {
  await neon?.stop();
});

describeAppContract(
  "Neon's WebSocket driver (through a local ws-to-TCP proxy, role limited to 8)",
  () => target,
);
