import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { createDatabase } from '../../src/db/index.js';
import { type AppServer, type AppServerOptions, startAppServer } from '../../src/server/app-server.js';
import { createLogger } from '../../src/server/logger.js';

export interface SharedPglite {
  readonly pglite: PGlite;
  readonly opened: Array<() => Promise<void>>;
  /**
   * Starts the app server on `safeguards` and a database on the PGlite bound to them, on a free
   * port of 127.0.0.1, silent, with a 5 s call deadline and a 64 KiB body limit unless `options` say
   * otherwise; the server, the database and the safeguards are closed after the file.
   */
  serve(safeguards: Safeguards, options?: Partial<AppServerOptions>): Promise<AppServer>;
}

/**
 * One in-memory PGlite for a test file, migrated once before its tests. `opened` collects what the
 * tests open on it (servers, databases, safeguards): closed in reverse order after the file, then
 * the PGlite itself. Call it at the top level of the file.
 */
export function sharedPglite(): SharedPglite {
  let pglite: PGlite | undefined;
  const opened: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    pglite = await PGlite.create();
    const safeguards = createSafeguards();
    const database = await createDatabase({ config: { driver: 'pglite' }, pglite, safeguards });
    await database.migrate();
    await database.close();
    await safeguards.close();
  }, 60_000);

  afterAll(async () => {
    for (const close of opened.reverse()) await close();
    await pglite?.close();
  });

  const shared: SharedPglite = {
    get pglite() {
      if (!pglite) throw new Error('sharedPglite(): the PGlite is ready only once the tests run');
      return pglite;
    },
    opened,
    async serve(safeguards, options = {}) {
      opened.push(() => safeguards.close());
      const database = await createDatabase({
        config: { driver: 'pglite' },
        pglite: shared.pglite,
        safeguards,
      });
      opened.push(() => database.close());
      const app = await startAppServer({
        database,
        safeguards,
        log: createLogger('silent'),
        port: 0,
        host: '127.0.0.1',
        adminToken: undefined,
        requestTimeoutMs: 5000,
        bodyLimitBytes: 65_536,
        ...options,
      });
      opened.push(() => app.drain(0));
      return app;
    },
  };
  return shared;
}
