import { createSafeguards } from '@db-safeguards/core';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { createDatabase } from '../../src/db/index.js';

/**
 * One in-memory PGlite for a test file, migrated once before its tests. `opened` collects what the
 * tests open on it (servers, databases, safeguards): closed in reverse order after the file, then
 * the PGlite itself. Call it at the top level of the file.
 */
export function sharedPglite(): { readonly pglite: PGlite; readonly opened: Array<() => Promise<void>> } {
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

  return {
    get pglite() {
      if (!pglite) throw new Error('sharedPglite(): the PGlite is ready only once the tests run');
      return pglite;
    },
    opened,
  };
}
