import { createServer, type Server } from 'node:http';
import {
  configureNeonForLocalProxy,
  freePort,
  type NeonWsProxy,
  startNeonWsProxy,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import { PGlite } from '@electric-sql/pglite';
import { Pool as NeonPool, neon, neonConfig } from '@neondatabase/serverless';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { classifyError } from '../src/errors/classify-error.js';
import { toUserFriendlyError } from '../src/errors/user-friendly-error.js';
import { driverErrorSamples } from '../src/testing/driver-error-samples.js';

/**
 * Real errors from real drivers against a real PostgreSQL, classified. The unit tests use shaped
 * samples (`driverErrorSamples`); these tests check that the drivers really throw those shapes.
 */

let db: TestPostgres;
let neonProxy: NeonWsProxy;

async function caught(promise: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to fail');
}

function sampleNamed(name: string) {
  const sample = driverErrorSamples.find((candidate) => candidate.name === name);
  if (!sample) throw new Error(`no sample ${name}`);
  return sample.create() as Record<string, unknown>;
}

beforeAll(async () => {
  db = await startTestPostgres({ appRoleConnectionLimit: 3 });
  const admin = postgres(db.adminUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`
    create table items (id serial primary key, name text not null unique, ref uuid);
    grant all on items to ${db.appRole};
    grant usage on sequence items_id_seq to ${db.appRole};
    create table secrets (id int);
    revoke all on secrets from ${db.appRole};
    insert into items (name) values ('taken');
  `);
  await admin.end();
  neonProxy = await startNeonWsProxy();
  configureNeonForLocalProxy(neonConfig, neonProxy);
  neonConfig.webSocketConstructor = WebSocket;
}, 60_000);

// A backend outlives its client's end() by a moment; tests that count against the role's limit of 3
// would see the previous test's leftover as a taken slot.
beforeEach(async () => {
  await db.waitForAppConnections(0);
});

afterAll(async () => {
  await neonProxy?.close();
  await db?.stop();
});

describe('postgres.js', () => {
  it('unique violation: CONFLICT with constraint and table (the shape of the sample)', async () => {
    const sql = postgres(db.appUrl, { max: 1 });
    const error = await caught(sql`insert into items (name) values ('taken')`);
    await sql.end();
    const sample = sampleNamed('postgres.js unique violation wrapped by drizzle').cause as Record<
      string,
      unknown
    >;
    expect((error as Error).name).toBe(sample.name);
    expect(error).toHaveProperty('constraint_name');
    expect(classifyError(error)).toMatchObject({
      type: 'CONFLICT',
      reason: 'unique-violation',
      sqlState: '23505',
      constraint: 'items_name_key',
      table: 'items',
    });
  });

  it('the role connection limit: 53300 is CONNECTION too-many-connections', async () => {
    const clients = Array.from({ length: 4 }, () => postgres(db.appUrl, { max: 1 }));
    const results = await Promise.allSettled(clients.map((sql) => sql`select pg_sleep(0.2)`));
    await Promise.all(clients.map((sql) => sql.end()));
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    // PostgreSQL counts a role's backends that are still starting, so four starting at once can see
    // each other and more than one can be refused (a fresh-clone CI run had two): at least one is
    // refused, and no more than the limit get through.
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(results.length - refused.length).toBeLessThanOrEqual(3);
    expect((refused[0]!.reason as Error).name).toBe('PostgresError');
    expect(classifyError(refused[0]!.reason)).toMatchObject({
      type: 'CONNECTION',
      reason: 'too-many-connections',
      retryable: true,
      notApplied: true,
    });
  });

  it('a terminated backend mid-query (postgres.js reports CONNECTION_CLOSED, never 57P01): CONNECTION, outcome unknown', async () => {
    const sql = postgres(db.appUrl, { max: 1 });
    const pending = caught(sql`select pg_sleep(5)`);
    await db.waitForAppConnections(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await db.terminateAppBackends();
    const error = await pending;
    // After CONNECTION_CLOSED, postgres.js 3.4.9's end() waits forever unless given a timeout.
    await sql.end({ timeout: 1 });
    expect((error as { code?: string }).code).toBe('CONNECTION_CLOSED');
    expect(classifyError(error)).toMatchObject({
      type: 'CONNECTION',
      reason: 'connection-lost',
      retryable: true,
      notApplied: false,
    });
  });

  it('statement timeout: TIMEOUT statement-timeout, not retried', async () => {
    const sql = postgres(db.appUrl, { max: 1 });
    const error = await caught(
      sql.begin(async (tx) => {
        await tx`set local statement_timeout = 50`;
        await tx`select pg_sleep(2)`;
      }),
    );
    await sql.end();
    expect(classifyError(error)).toMatchObject({
      type: 'TIMEOUT',
      reason: 'statement-timeout',
      retryable: false,
      sqlState: '57014',
    });
  });

  it('serialization failure under repeatable read: retryable DATABASE, nothing applied', async () => {
    const a = postgres(db.appUrl, { max: 1 });
    const b = postgres(db.appUrl, { max: 1 });
    const error = await caught(
      a.begin('isolation level repeatable read', async (tx) => {
        await tx`select * from items where name = 'taken'`;
        await b`update items set ref = gen_random_uuid() where name = 'taken'`;
        await tx`update items set ref = gen_random_uuid() where name = 'taken'`;
      }),
    );
    await Promise.all([a.end(), b.end()]);
    expect(classifyError(error)).toMatchObject({
      type: 'DATABASE',
      reason: 'serialization-failure',
      retryable: true,
      notApplied: true,
      sqlState: '40001',
    });
  });

  it('bad input, nulls, missing tables and privileges map to VALIDATION, DATABASE and AUTHORIZATION', async () => {
    const sql = postgres(db.appUrl, { max: 1 });
    const badUuid = await caught(sql`select * from items where ref = ${'not-a-uuid'}`);
    const nullName = await caught(sql`insert into items (name) values (null)`);
    const missing = await caught(sql`select * from itemz`);
    const denied = await caught(sql`select * from secrets`);
    await sql.end();
    expect(classifyError(badUuid)).toMatchObject({ type: 'VALIDATION', reason: 'data-exception' });
    expect(classifyError(nullName)).toMatchObject({ type: 'VALIDATION', reason: 'not-null-violation' });
    expect(classifyError(missing)).toMatchObject({
      type: 'DATABASE',
      reason: 'invalid-statement',
      sqlState: '42P01',
    });
    expect(classifyError(denied)).toMatchObject({ type: 'AUTHORIZATION', reason: 'insufficient-privilege' });
  });

  it('a refused connection and rejected credentials are CONNECTION errors; the password never reaches a message', async () => {
    const refusedUrl = new URL(db.appUrl);
    refusedUrl.port = '1';
    const refused = postgres(refusedUrl.toString(), { max: 1, connect_timeout: 2 });
    const refusedError = await caught(refused`select 1`);
    await refused.end();
    expect(classifyError(refusedError)).toMatchObject({
      type: 'CONNECTION',
      reason: 'connection-refused',
      notApplied: true,
    });

    const wrongPassword = new URL(db.appUrl);
    wrongPassword.password = 'hunter2-wrong';
    const rejected = postgres(wrongPassword.toString(), { max: 1 });
    const rejectedError = await caught(rejected`select 1`);
    await rejected.end();
    const classified = classifyError(rejectedError);
    expect(classified).toMatchObject({
      type: 'CONNECTION',
      reason: 'database-authentication-failed',
      retryable: false,
      httpStatus: 503,
    });
    expect(JSON.stringify(toUserFriendlyError(rejectedError))).not.toContain('hunter2');
  });

  it('drizzle wraps the driver error in DrizzleQueryError: the chain is walked and the SQL never surfaces', async () => {
    const sql = postgres(db.appUrl, { max: 1 });
    const items = pgTable('items', { id: serial('id').primaryKey(), name: text('name').notNull() });
    const error = await caught(drizzle(sql).insert(items).values({ name: 'taken' }));
    await sql.end();
    // drizzle 0.45's DrizzleQueryError leaves `name` as 'Error': only its message gives it away.
    expect((error as Error).constructor.name).toBe('DrizzleQueryError');
    expect((error as Error).message).toMatch(/^Failed query: insert into/);
    const classified = classifyError(error);
    expect(classified).toMatchObject({
      type: 'CONFLICT',
      reason: 'unique-violation',
      constraint: 'items_name_key',
    });
    expect(classified.internalMessage).not.toMatch(/insert into/i);
    expect(JSON.stringify(toUserFriendlyError(error))).not.toMatch(/insert into|taken/i);
  });
});

describe('postgres.js: SQLSTATEs with a letter in their class, cancels and lock waits', () => {
  it('a missing database is 3D000 and a missing schema 3F000: DATABASE, sqlState kept', async () => {
    const missingDatabase = new URL(db.appUrl);
    missingDatabase.pathname = '/no_such_database';
    const absent = postgres(missingDatabase.toString(), { max: 1 });
    const noDatabase = await caught(absent`select 1`);
    await absent.end();
    const sql = postgres(db.appUrl, { max: 1 });
    const noSchema = await caught(sql`create table no_such_schema.t (id int)`);
    await sql.end();
    expect((noDatabase as Error).name).toBe(sampleNamed('postgres.js database does not exist (3D000)').name);
    expect(classifyError(noDatabase)).toMatchObject({
      type: 'DATABASE',
      reason: 'undefined-database',
      sqlState: '3D000',
      retryable: false,
    });
    expect(classifyError(noSchema)).toMatchObject({
      type: 'DATABASE',
      reason: 'undefined-schema',
      sqlState: '3F000',
    });
  });

  it('0A000 (feature not supported) and 2BP01 (dependent objects) are recognised', async () => {
    const admin = postgres(db.adminUrl, { max: 1, onnotice: () => undefined });
    const unsupported = await caught(admin`select count(*) from items for update`);
    await admin`create table parent_of_view (id int)`;
    await admin`create view depends_on_parent as select * from parent_of_view`;
    const dependent = await caught(admin`drop table parent_of_view`);
    await admin`drop table parent_of_view cascade`;
    await admin.end();
    expect(classifyError(unsupported)).toMatchObject({ reason: 'feature-not-supported', sqlState: '0A000' });
    expect(classifyError(dependent)).toMatchObject({
      reason: 'dependent-objects-still-exist',
      sqlState: '2BP01',
    });
  });

  it('a cancelled statement is 57014 "due to user request": TIMEOUT query-cancelled, not a statement timeout', async () => {
    const sql = postgres(db.appUrl, { max: 1 });
    const query = sql`select pg_sleep(5)`;
    const pending = caught(query.execute());
    await new Promise((resolve) => setTimeout(resolve, 200));
    await query.cancel();
    const error = await pending;
    await sql.end();
    expect((error as Error).message).toMatch(/due to user request/);
    expect(classifyError(error)).toMatchObject({
      type: 'TIMEOUT',
      reason: 'query-cancelled',
      retryable: false,
      sqlState: '57014',
    });
  });

  it('NOWAIT on a locked row is 55P03: retryable DATABASE lock-not-available', async () => {
    const holder = postgres(db.appUrl, { max: 1 });
    const waiter = postgres(db.appUrl, { max: 1 });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => undefined;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holding = holder.begin(async (tx) => {
      await tx`select * from items where name = 'taken' for update`;
      locked();
      await released;
    });
    await isLocked;
    const error = await caught(waiter`select * from items where name = 'taken' for update nowait`);
    release();
    await holding;
    await Promise.all([holder.end(), waiter.end()]);
    expect(classifyError(error)).toMatchObject({
      type: 'DATABASE',
      reason: 'lock-not-available',
      retryable: true,
      sqlState: '55P03',
    });
  });
});

describe('Neon HTTP (neon()) against a local HTTP server', () => {
  let server: Server;
  let port: number;
  const savedEndpoint = neonConfig.fetchEndpoint;
  const savedFetch = neonConfig.fetchFunction;
  const answers: Record<string, { status: number; type: string; body: string }> = {
    'html-502': {
      status: 502,
      type: 'text/html',
      body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
    },
    'text-503': { status: 503, type: 'text/plain', body: 'upstream connect error' },
    'rate-429': { status: 429, type: 'application/json', body: '{"message":"rate limit exceeded"}' },
    'json-500': {
      status: 500,
      type: 'application/json',
      body: '{"message":"sorry, too many clients already","code":"53300"}',
    },
    'json-400': {
      status: 400,
      type: 'application/json',
      body: '{"message":"database \\"x\\" does not exist","code":"3D000","severity":"FATAL"}',
    },
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const answer = answers[request.url?.slice(1) ?? ''] ?? answers['html-502']!;
      request.resume();
      response.writeHead(answer.status, { 'content-type': answer.type });
      response.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterEach(() => {
    neonConfig.fetchEndpoint = savedEndpoint;
    neonConfig.fetchFunction = savedFetch;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  const query = (endpoint: string) => {
    neonConfig.fetchEndpoint = endpoint;
    return caught(neon('postgresql://app:secret@ep-test.example.com/neondb')`select 1`);
  };

  it('a gateway HTML page and a plain-text 503 are transient CONNECTION failures, not INTERNAL', async () => {
    const html = await query(`http://127.0.0.1:${port}/html-502`);
    const text = await query(`http://127.0.0.1:${port}/text-503`);
    expect((html as Error).name).toBe(sampleNamed('Neon HTTP 502 with an HTML body (a gateway page)').name);
    expect((html as Error).message).toMatch(/^Server error \(HTTP status 502\): <html>/);
    for (const error of [html, text])
      expect(classifyError(error)).toMatchObject({
        type: 'CONNECTION',
        reason: 'database-http-error',
        retryable: true,
      });
  });

  it('429 is too-many-connections (critical), a JSON body with a SQLSTATE is classified by it', async () => {
    expect(classifyError(await query(`http://127.0.0.1:${port}/rate-429`))).toMatchObject({
      type: 'CONNECTION',
      reason: 'too-many-connections',
      severity: 'critical',
      retryable: true,
    });
    expect(classifyError(await query(`http://127.0.0.1:${port}/json-500`))).toMatchObject({
      reason: 'too-many-connections',
      sqlState: '53300',
    });
    expect(classifyError(await query(`http://127.0.0.1:${port}/json-400`))).toMatchObject({
      type: 'DATABASE',
      reason: 'undefined-database',
      sqlState: '3D000',
    });
  });

  it('fetch failing on Node: NeonDbError with the refused connect on sourceError', async () => {
    const error = await query(`http://127.0.0.1:${await freePort()}/sql`);
    const sample = sampleNamed('Neon HTTP fetch failed on Node (ECONNREFUSED on sourceError)');
    expect((error as Error).name).toBe(sample.name);
    expect((error as Error).message).toBe(sample.message);
    expect((error as { cause?: unknown }).cause).toBeUndefined();
    expect((error as { sourceError: { cause: { code: string } } }).sourceError.cause.code).toBe(
      'ECONNREFUSED',
    );
    expect(classifyError(error)).toMatchObject({
      type: 'CONNECTION',
      reason: 'connection-refused',
      retryable: true,
      notApplied: true,
    });
  });

  it('fetch failing in other runtimes (their own words) is a transient CONNECTION failure', async () => {
    for (const thrown of [
      new TypeError('Failed to fetch'),
      new Error('Network connection lost.'),
      new TypeError('error sending request for url (https://ep-test.example.com/sql): connection closed'),
    ]) {
      neonConfig.fetchFunction = async () => {
        throw thrown;
      };
      const error = await query(`http://127.0.0.1:${port}/sql`);
      expect((error as { sourceError?: unknown }).sourceError).toBe(thrown);
      expect(classifyError(error)).toMatchObject({
        type: 'CONNECTION',
        reason: 'network-error',
        retryable: true,
      });
    }
  });
});

describe('pg (node-postgres)', () => {
  it('unique violation and role limit, with the DatabaseError shape of the samples', async () => {
    const client = new pg.Client({ connectionString: db.appUrl });
    client.on('error', () => undefined);
    await client.connect();
    const error = await caught(client.query("insert into items (name) values ('taken')"));
    await client.end();
    const sample = sampleNamed('pg foreign key violation');
    expect((error as Error).name).toBe(sample.name);
    expect(error).toHaveProperty('constraint', 'items_name_key');
    expect(classifyError(error)).toMatchObject({
      type: 'CONFLICT',
      constraint: 'items_name_key',
      table: 'items',
    });
  });

  it('a terminated backend gives 57P01: CONNECTION admin-shutdown', async () => {
    const client = new pg.Client({ connectionString: db.appUrl });
    client.on('error', () => undefined);
    await client.connect();
    const pending = caught(client.query('select pg_sleep(5)'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await db.terminateAppBackends();
    const error = await pending;
    await client.end().catch(() => undefined);
    expect(classifyError(error)).toMatchObject({
      type: 'CONNECTION',
      reason: 'admin-shutdown',
      retryable: true,
      notApplied: false,
    });
  });
});

describe('Neon WebSocket Pool (through a local ws-to-TCP proxy)', () => {
  it('unique violation and the role limit arrive as DatabaseError with SQLSTATEs', async () => {
    const pool = new NeonPool({ connectionString: db.appUrl, max: 4 });
    pool.on('error', () => undefined);
    const unique = await caught(pool.query("insert into items (name) values ('taken')"));
    expect(classifyError(unique)).toMatchObject({ type: 'CONFLICT', reason: 'unique-violation' });
    const held = await Promise.allSettled(
      Array.from({ length: 4 }, () => pool.query('select pg_sleep(0.3)')),
    );
    await pool.end();
    const refused = held.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(classifyError(refused[0]!.reason)).toMatchObject({
      type: 'CONNECTION',
      reason: 'too-many-connections',
    });
  });

  it('an unreachable proxy rejects with an ErrorEvent, classified as CONNECTION', async () => {
    const saved = neonConfig.wsProxy;
    neonConfig.wsProxy = () => '127.0.0.1:1/v2';
    const pool = new NeonPool({ connectionString: db.appUrl, max: 1 });
    pool.on('error', () => undefined);
    const error = await caught(pool.query('select 1'));
    await pool.end().catch(() => undefined);
    neonConfig.wsProxy = saved;
    expect(error).not.toBeInstanceOf(Error);
    expect((error as { type?: string }).type).toBe('error');
    expect(classifyError(error)).toMatchObject({ type: 'CONNECTION', retryable: true });
  });
});

describe('PGlite and zod', () => {
  it('PGlite errors carry SQLSTATEs too', async () => {
    const lite = new PGlite();
    await lite.exec('create table t (id int primary key, name text not null)');
    await lite.exec("insert into t values (1, 'a')");
    const duplicate = await caught(lite.query("insert into t values (1, 'b')"));
    const nullName = await caught(lite.query('insert into t values (2, null)'));
    await lite.close();
    expect(classifyError(duplicate)).toMatchObject({
      type: 'CONFLICT',
      reason: 'unique-violation',
      constraint: 't_pkey',
    });
    expect(classifyError(nullName)).toMatchObject({ type: 'VALIDATION', reason: 'not-null-violation' });
  });

  it('a real ZodError becomes VALIDATION with its issues', () => {
    const parsed = z
      .object({ dose: z.object({ amount: z.number().positive() }) })
      .safeParse({ dose: { amount: -1 } });
    const classified = classifyError(parsed.error);
    expect(classified).toMatchObject({ type: 'VALIDATION', reason: 'invalid-input' });
    expect(classified.issues?.[0]?.path).toBe('dose.amount');
  });
});
