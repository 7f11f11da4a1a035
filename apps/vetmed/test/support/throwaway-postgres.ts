import {
  type StartTestPostgresOptions,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import { afterAll, beforeAll } from 'vitest';

/**
 * One throwaway PostgreSQL for a test file: started before its tests, stopped after them. Read
 * `server` inside a test (not at the top level, where it is not started yet). Call it at the top
 * level of the file.
 */
export function throwawayPostgres(options?: StartTestPostgresOptions): { readonly server: TestPostgres } {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startTestPostgres(options);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('the throwaway PostgreSQL is read before it started');
      return server;
    },
  };
}
