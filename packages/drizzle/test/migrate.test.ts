import { fileURLToPath } from 'node:url';
import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import {
  configureNeonForLocalProxy,
  type NeonWsProxy,
  startNeonWsProxy,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import { PGlite } from '@electric-sql/pglite';
import { Pool as NeonPool, neon, neonConfig } from '@neondatabase/serverless';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMigrationOrderError, type SafeguardedMigrationConfig } from '../src/index.js';
import * as neonHttp from '../src/neon-http/index.js';
import * as neonServerless from '../src/neon-serverless/index.js';
import * as nodePostgres from '../src/node-postgres/index.js';
import * as pglite from '../src/pglite/index.js';
import * as postgresJs from '../src/postgres-js/index.js';
import { type NeonHttpStandIn, startNeonHttpStandIn } from './support/neon-http-stand-in.js';
import { postgresJsLines } from './support/postgres-js-lines.js';

const migrationsFolder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));

let server: TestPostgres;
let admin: postgres.Sql;
let proxy: NeonWsProxy;
let standIn: NeonHttpStandIn;

beforeAll(async () => {
  server = await startTestPostgres();
  admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  await admin`grant create on database ${admin(server.database)} to ${admin(server.appRole)}`;
  proxy = await startNeonWsProxy();
  configureNeonForLocalProxy(neonConfig, proxy);
  standIn = await startNeonHttpStandIn();
  neonConfig.fetchEndpoint = () => standIn.url;
});

afterAll(async () => {
  await admin?.end({ timeout: 1 });
  await standIn?.close();
  await proxy?.close();
  await server?.stop();
});

/** An instance of the app: a database of one driver, and its migrate(). */
interface Instance {
  // biome-ignore lint/suspicious/noExplicitAny: any driver's database
  db: any;
  safeguards: Safeguards;
  migrate(config: SafeguardedMigrationConfig): Promise<void>;
  close(): Promise<void>;
}

interface MigratingDriver {
  name: string;
  open(): Promise<Instance>;
  /** Whether instances starting together queue on the lock (neon-http has no session to lock). */
  queues: boolean;
}

const newSafeguards = () =>
  createSafeguards({ queue: { maxConcurrentConnections: 4, reservedForCritical: 0 } });

const drivers: MigratingDriver[] = [
  ...postgresJsLines.map((line) => ({
    name: line.name,
    queues: true,
    async open(): Promise<Instance> {
      const safeguards = newSafeguards();
      const client = line.open(server.appUrl, { max: 4 });
      const db = postgresJs.drizzle({ client, safeguards });
      return {
        db,
        safeguards,
        migrate: (c) => postgresJs.migrate(db, c),
        close: () => client.end({ timeout: 1 }),
      };
    },
  })),
  {
    name: 'node-postgres Pool',
    queues: true,
    async open() {
      const safeguards = newSafeguards();
      const client = new pg.Pool({ connectionString: server.appUrl, max: 4 });
      const db = nodePostgres.drizzle({ client, safeguards });
      return { db, safeguards, migrate: (c) => nodePostgres.migrate(db, c), close: () => client.end() };
    },
  },
  {
    name: 'node-postgres Client',
    queues: true,
    async open() {
      const safeguards = newSafeguards();
      const client = new pg.Client({ connectionString: server.appUrl });
      await client.connect();
      const db = nodePostgres.drizzle({ client, safeguards });
      return { db, safeguards, migrate: (c) => nodePostgres.migrate(db, c), close: () => client.end() };
    },
  },
  {
    name: 'neon-serverless Pool',
    queues: true,
    async open() {
      const safeguards = newSafeguards();
      const client = new NeonPool({ connectionString: server.appUrl, max: 4 });
      const db = neonServerless.drizzle({ client, safeguards });
      return { db, safeguards, migrate: (c) => neonServerless.migrate(db, c), close: () => client.end() };
    },
  },
  {
    name: 'neon-http',
    queues: false,
    async open() {
      const safeguards = newSafeguards();
      const db = neonHttp.drizzle({ client: neon(server.appUrl), safeguards });
      return { db, safeguards, migrate: (c) => neonHttp.migrate(db, c), close: async () => {} };
    },
  },
];

describe.each(drivers)('migrate() on $name', (driver) => {
  const migrationsSchema = `m_${driver.name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`;

  it('holds one slot, and instances starting together queue on the lock and apply each migration once', async () => {
    const instances = await Promise.all([driver.open(), driver.open()]);
    try {
      const config = { migrationsFolder, migrationsSchema };
      if (driver.queues) await Promise.all(instances.map((instance) => instance.migrate(config)));
      else for (const instance of instances) await instance.migrate(config);
      for (const instance of instances) expect(instance.safeguards.queue.takePeaks().active).toBe(1);
      const [row] = await admin.unsafe(
        `select count(*)::int as n from ${migrationsSchema}.__drizzle_migrations`,
      );
      expect(row?.n).toBe(1);
    } finally {
      for (const instance of instances) {
        await instance.close();
        await instance.safeguards.close();
      }
    }
  });

  it('refuses once the database has served a query, and opens nothing', async () => {
    const instance = await driver.open();
    try {
      await instance.db.execute(sql`select 1`);
      const error = await instance.migrate({ migrationsFolder, migrationsSchema }).catch((e: unknown) => e);
      expect(isMigrationOrderError(error)).toBe(true);
    } finally {
      await instance.close();
      await instance.safeguards.close();
    }
  });
});

describe('migrate() on pglite', () => {
  it('applies the migrations in one slot and refuses after the first query', async () => {
    const client = new PGlite();
    const safeguards = newSafeguards();
    try {
      const db = pglite.drizzle({ client, safeguards });
      await pglite.migrate(db, { migrationsFolder });
      expect(safeguards.queue.takePeaks().active).toBe(1);
      expect((await client.query<{ n: number }>('select count(*)::int as n from widgets')).rows[0]?.n).toBe(
        0,
      );
      await db.execute(sql`select 1`);
      const error = await pglite.migrate(db, { migrationsFolder }).catch((e: unknown) => e);
      expect(isMigrationOrderError(error), String(error)).toBe(true);
    } finally {
      await client.close();
      await safeguards.close();
    }
  });
});
