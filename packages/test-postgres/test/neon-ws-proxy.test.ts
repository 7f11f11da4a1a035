import { neonConfig, Pool, type PoolClient } from '@neondatabase/serverless';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  configureNeonForLocalProxy,
  type NeonWsProxy,
  startNeonWsProxy,
  startTestPostgres,
  type TestPostgres,
} from '../src/index.js';

let db: TestPostgres;
let proxy: NeonWsProxy;
const pools: Pool[] = [];

/** A Neon WebSocket pool on the app role; pool-level errors (idle clients killed) are expected here. */
function appPool(max = 20): Pool {
  const pool = new Pool({ connectionString: db.appUrl, max });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

async function settle<T>(promise: Promise<T>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  [db, proxy] = await Promise.all([startTestPostgres(), startNeonWsProxy()]);
  configureNeonForLocalProxy(neonConfig, proxy);
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end().catch(() => undefined)));
  await db.waitForAppConnections(0);
});

afterAll(async () => {
  await proxy?.close();
  await db?.stop();
});

describe('startNeonWsProxy', () => {
  it('configureNeonForLocalProxy sets the five fields the driver needs', () => {
    const config = {
      webSocketConstructor: undefined as unknown,
      wsProxy: 'unused' as string | ((host: string, port: number | string) => string),
      useSecureWebSocket: true,
      pipelineTLS: true,
      pipelineConnect: 'password' as 'password' | false,
    };
    configureNeonForLocalProxy(config, 4321);
    expect(config.webSocketConstructor).toBe(WebSocket);
    expect(typeof config.wsProxy === 'function' && config.wsProxy('localhost', 5432)).toBe(
      '127.0.0.1:4321/v2?address=localhost:5432',
    );
    expect(config).toMatchObject({ useSecureWebSocket: false, pipelineTLS: false, pipelineConnect: false });
  });

  it('runs queries and an interactive transaction through a Neon Pool', async () => {
    const pool = appPool();
    expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }]);

    await pool.query('create table visits (id serial primary key, pet text not null)');
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('insert into visits (pet) values ($1)', ['Rex']);
      const inside = await client.query('select count(*)::int as n from visits');
      expect(inside.rows).toEqual([{ n: 1 }]);
      // Not committed yet: another connection must not see the row.
      expect((await pool.query('select count(*)::int as n from visits')).rows).toEqual([{ n: 0 }]);
      await client.query('commit');
    } finally {
      client.release();
    }
    expect((await pool.query('select pet from visits')).rows).toEqual([{ pet: 'Rex' }]);
    expect(proxy.stats().acceptedConnections).toBeGreaterThanOrEqual(2);
  });

  it('fails the 9th concurrent connection with DatabaseError 53300', async () => {
    const pool = appPool(20);
    const held: PoolClient[] = [];
    for (let i = 0; i < 8; i++) held.push(await pool.connect());
    expect(await db.countAppConnections()).toBe(8);

    const error = await settle(pool.connect());
    expect(error).toMatchObject({ code: '53300', message: `too many connections for role "${db.appRole}"` });
    for (const client of held) client.release();
  });

  it('surfaces terminateAppBackends as 57P01 on the in-flight query', async () => {
    const pool = appPool();
    const client = await pool.connect();
    const clientErrors: unknown[] = [];
    client.on('error', (error: unknown) => clientErrors.push(error));
    const inFlight = settle(client.query('select pg_sleep(30)'));
    await db.waitForAppConnections(1);

    expect(await db.terminateAppBackends()).toBe(1);
    expect(await inFlight).toMatchObject({ code: '57P01' });
    client.release(true);
  });

  it('reports 57P01 on an idle client via its error event, and its next query fails', async () => {
    const pool = appPool();
    const client = await pool.connect();
    const clientError = new Promise<unknown>((resolve) => client.on('error', resolve));
    await db.waitForAppConnections(1);

    expect(await db.terminateAppBackends()).toBe(1);
    expect(await clientError).toMatchObject({ code: '57P01' });
    expect(await settle(client.query('select 1'))).toBeInstanceOf(Error);
    client.release(true);
  });

  it('refuses targets that are not on the loopback interface', async () => {
    const refusedBefore = proxy.stats().refusedConnections;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/v2?address=example.com:5432`);
      ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      ws.on('open', () => reject(new Error('the proxy accepted a non-local address')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
    expect(proxy.stats().refusedConnections).toBe(refusedBefore + 1);
  });

  it('closes the WebSocket when the server side goes away', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/v2?address=127.0.0.1:${db.port}`);
    await new Promise((resolve) => ws.once('open', resolve));
    // A garbage startup packet makes PostgreSQL hang up.
    ws.send(Buffer.from([0, 0, 0, 8, 0, 0, 0, 0]));
    const code = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(code).toBeGreaterThanOrEqual(1000);
    expect(proxy.stats().openConnections).toBe(0);
  });
});
