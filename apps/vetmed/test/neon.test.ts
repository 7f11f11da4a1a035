import { getEventListeners } from 'node:events';
import { createSafeguards } from '@db-safeguards/core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('Neon migrate()', () => {
  it('cleans up after a failed connect: a typed error, no abort listener left, the slot freed', async () => {
    const safeguards = createSafeguards();
    const wrong = new URL(neon.server.appUrl);
    wrong.password = 'not-the-password';
    const database = await createDatabase({
      config: { driver: 'neon', url: neon.server.appUrl, unpooledUrl: wrong.toString() },
      safeguards,
      neonConfig: neon.neonConfig,
    });
    try {
      // Run inside a held slot, so migrate() uses this scope (and its signal) and we can look at it.
      const listeners = await safeguards.run(async (scope) => {
        const before = getEventListeners(scope.signal, 'abort').length;
        const error = await database.migrate().then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toMatchObject({ type: 'CONNECTION' });
        return getEventListeners(scope.signal, 'abort').length - before;
      });
      expect(listeners).toBe(0);
      expect(safeguards.queue.stats().active).toBe(0);
    } finally {
      await database.close();
      await safeguards.close();
    }
  });
});
