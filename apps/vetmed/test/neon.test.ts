import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { createDatabase } from '../src/db/index.js';
import { type ContractTarget, describeDatabaseContract } from './contract/database-contract.js';
import { type NeonTestTarget, startNeonTestTarget } from './support/neon-test-target.js';
import { serverChecks } from './support/server-checks.js';

let neon: NeonTestTarget;
let admin: postgres.Sql;
let target: ContractTarget;

beforeAll(async () => {
  neon = await startNeonTestTarget();
  admin = postgres(neon.server.adminUrl, { max: 1, onnotice: () => {} });
  target = {
    open: (safeguards) =>
      createDatabase({
        config: { driver: 'neon', url: neon.server.appUrl },
        safeguards,
        neonConfig: neon.neonConfig,
      }),
    server: serverChecks(neon.server, admin),
  };
});

afterAll(async () => {
  await admin?.end({ timeout: 1 });
  await neon?.stop();
});

describeDatabaseContract('Neon WebSocket Pool (through a local proxy)', () => target, { realServer: true });
