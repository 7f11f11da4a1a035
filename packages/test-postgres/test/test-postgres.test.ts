import { readFile } from 'node:fs/promises';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestPostgres, type TestPostgres } from '../src/index.js';

let db: TestPostgres;
let startMs = 0;
const clients: postgres.Sql[] = [];

/** A postgres.js client that keeps exactly one connection to the app role open once used. */
function appClient(url = db.appUrl): postgres.Sql {
  const sql = postgres(url, { max: 1, idle_timeout: 0, connect_timeout: 5, onnotice: () => undefined });
  clients.push(sql);
  return sql;
}

async function openAppConnections(count: number): Promise<postgres.Sql[]> {
  const opened = Array.from({ length: count }, () => appClient());
  await Promise.all(opened.map((sql) => sql`select 1`));
  return opened;
}

/**
 * `promise`, or a rejection naming `step` if it has not settled within `ms`: a driver that hangs (as
 * postgres.js can on a connection the server ended) then fails the test saying where, instead of
 * running into the test's timeout with no clue.
 */
function within<T>(ms: number, step: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${step}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function untilAppQueryRuns(query: string): Promise<void> {
  const admin = postgres(db.adminUrl, { max: 1, onnotice: () => undefined });
  try {
    for (let polls = 0; polls < 500; polls++) {
      const [row] = await admin<{ running: number }[]>`
        select count(*)::int as running from pg_stat_activity
        where usename = ${db.appRole} and state = 'active' and query = ${query}`;
      if (row!.running > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`the app role never ran ${query}`);
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  const started = performance.now();
  db = await startTestPostgres();
  startMs = performance.now() - started;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((sql) => sql.end({ timeout: 0 })));
  if (db.isServerRunning) await db.waitForAppConnections(0);
});

afterAll(async () => {
  await db?.stop();
});

describe('startTestPostgres', () => {
  it('starts a real server with a fresh database owned by the limited app role', async () => {
    console.info(`startTestPostgres took ${startMs.toFixed(0)} ms`);
    expect(db.appConnectionLimit).toBe(8);
    if (db.canControlServer) {
      expect(db).toMatchObject({ host: '127.0.0.1', appRole: 'app', database: 'app' });
      expect(db.port).not.toBe(5432);
    }

    const sql = appClient();
    const [row] = await sql`select current_user as "user", current_database() as database`;
    expect(row).toEqual({ user: db.appRole, database: db.database });
    await sql`create table notes (id serial primary key, body text not null)`;
    await sql`insert into notes (body) values ('hello')`;
    expect(await sql`select body from notes`).toEqual([{ body: 'hello' }]);

    const admin = appClient(db.adminUrl);
    const [limits] = await admin`
      select rolconnlimit, rolsuper, current_setting('max_connections')::int as max_connections
      from pg_roles where rolname = ${db.appRole}`;
    expect(limits).toMatchObject({ rolconnlimit: 8, rolsuper: false });
    if (db.canControlServer) expect(limits?.max_connections).toBe(40);
  });

  it('refuses the app role its 9th connection with 53300', async () => {
    await openAppConnections(8);
    expect(await db.countAppConnections()).toBe(8);

    const ninth = appClient();
    const error = await ninth`select 1`.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: '53300', message: `too many connections for role "${db.appRole}"` });
  });

  it('keeps superuser connections out of the app budget', async () => {
    await openAppConnections(8);
    const admin = appClient(db.adminUrl);
    expect(await admin`select 1 as one`).toEqual([{ one: 1 }]);
    expect(await db.countAppConnections()).toBe(8);
  });

  it('samples a peak of exactly the number of open app connections', async () => {
    const sampler = db.sampleAppConnections(5);
    const opened = await openAppConnections(5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await opened[0]!.end();
    await db.waitForAppConnections(4);
    const result = await sampler.stop();
    expect(result.peak).toBe(5);
    expect(result.samples).toBeGreaterThan(1);
    expect(result.errors).toBe(0);
    expect(await sampler.stop()).toEqual(result);
  });

  it('terminateAppBackends ends every app backend', async () => {
    const [idle, busy] = await within(5000, 'opening two app connections', openAppConnections(2));
    const inFlight = busy!`select pg_sleep(30)`.then(
      () => undefined,
      (err: unknown) => err,
    );
    // Only a backend that is inside the query fails it with CONNECTION_CLOSED; one still setting up its
    // connection would answer the 57P01 another way.
    await within(8000, 'waiting for the sleep to run', untilAppQueryRuns('select pg_sleep(30)'));

    expect(await within(5000, 'terminateAppBackends', db.terminateAppBackends())).toBe(2);
    await within(5000, 'waiting for no app backend', db.waitForAppConnections(0));
    // postgres.js 3.4.9 keeps the FATAL 57P01 until a ReadyForQuery that never comes, so the in-flight
    // query fails with CONNECTION_CLOSED. The 57P01 itself is asserted with Neon's pg-based driver in
    // neon-ws-proxy.test.ts.
    expect(await within(3000, 'the in-flight query failing', inFlight)).toMatchObject({
      code: 'CONNECTION_CLOSED',
    });
    // On the idle connection the FATAL is dropped. A query written before postgres.js has seen the
    // socket close fails with CONNECTION_CLOSED, or ECONNRESET when the kernel answers the write with a
    // reset first (nothing ran either way); the next one reconnects.
    const firstTry = await within(
      3000,
      'the first query on the idle connection',
      idle!`select 1 as one`.then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      ),
    );
    expect(['answered', 'CONNECTION_CLOSED', 'ECONNRESET']).toContain(firstTry);
    // A query sent while postgres.js is still closing that connection is queued on it and fails the
    // same way (a fresh-clone CI run met it on 2026-12-08: CONNECTION_CLOSED, the error carrying the
    // first query's origin); one sent after the close reconnects. Nothing ran in the failed ones.
    let reconnected: unknown;
    for (let attempt = 1; attempt <= 3 && reconnected === undefined; attempt++) {
      reconnected = await within(
        3000,
        `the query that reconnects (attempt ${attempt})`,
        idle!`select 1 as one`,
      ).catch((error: { code?: string }) => {
        if (attempt === 3 || !['CONNECTION_CLOSED', 'ECONNRESET'].includes(error.code ?? '')) throw error;
        return undefined;
      });
    }
    expect(reconnected).toEqual([{ one: 1 }]);
    expect(await db.countAppConnections()).toBe(1);
  });

  it('stopServer and startServer keep the data and the port', async (context) => {
    if (!db.canControlServer) context.skip('TEST_DATABASE_URL: the server is not ours to stop');
    const sql = appClient();
    await sql`create table kept (value int)`;
    await sql`insert into kept values (42)`;
    const inFlight = sql`select pg_sleep(30)`.then(
      () => undefined,
      (err: unknown) => err,
    );
    await db.waitForAppConnections(1);
    const port = db.port;

    await db.stopServer();
    expect(db.isServerRunning).toBe(false);
    expect(await inFlight).toMatchObject({ code: 'CONNECTION_CLOSED' });
    const refused = await appClient()`select 1`.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    await db.stopServer();

    await db.startServer();
    expect(db.isServerRunning).toBe(true);
    expect(db.port).toBe(port);
    expect(await appClient()`select value from kept`).toEqual([{ value: 42 }]);

    await db.restartServer();
    expect(await appClient()`select value from kept`).toEqual([{ value: 42 }]);
    expect(db.serverLog()).toContain('database system is ready to accept connections');
  });

  it.skipIf(process.platform !== 'linux')(
    'notices a crashed server (SIGKILL) and starts it again with crash recovery',
    async (context) => {
      if (!db.canControlServer) context.skip('TEST_DATABASE_URL: the server is not ours to kill');
      const sql = appClient();
      await sql`create table survived (value int)`;
      await sql`insert into survived values (7)`;
      const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
      // A backend's parent is the postmaster.
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const postmaster = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      process.kill(postmaster, 'SIGKILL');
      await expect.poll(() => db.isServerRunning).toBe(false);

      await db.startServer();
      expect(await appClient()`select value from survived`).toEqual([{ value: 7 }]);
      expect(db.serverLog()).toMatch(/not properly shut down|automatic recovery/);
    },
  );

  it('rejects invalid options eagerly with a TypeError naming the option', async () => {
    await expect(startTestPostgres({ appRoleConnectionLimit: -1, externalUrl: false })).rejects.toThrow(
      'Expected appRoleConnectionLimit to be an integer between 0 and 10000, got -1 (number)',
    );
    await expect(startTestPostgres({ appRole: 'App; drop', externalUrl: false })).rejects.toThrow(TypeError);
  });
});
