import type { Sql } from 'postgres';
import postgres3 from 'postgres3';
import postgres4 from 'postgres4';

/** A postgres.js line under test and how to open a client of it. */
export interface PostgresJsLineUnderTest {
  name: string;
  /** The package name the killed-backend probe imports. */
  module: 'postgres3' | 'postgres4';
  open(url: string, options?: Record<string, unknown>): Sql;
}

/** Both postgres.js lines the package supports: 3.4 unpatched and the registry's 4.x. */
export const postgresJsLines: PostgresJsLineUnderTest[] = [
  {
    name: 'postgres.js 3.4.10 (unpatched)',
    module: 'postgres3',
    open: (url, options) => postgres3(url, { onnotice: () => {}, ...options }) as unknown as Sql,
  },
  {
    name: 'postgres.js 4.2.0',
    module: 'postgres4',
    open: (url, options) => postgres4(url, { onnotice: () => {}, ...options }) as unknown as Sql,
  },
];
