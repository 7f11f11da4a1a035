import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy, startTestPostgres, type TestPostgres } from '../src/index.js';

let db: TestPostgres;
let proxy: FaultProxy;
const clients: postgres.Sql[] = [];

function proxiedClient(): postgres.Sql {
  const sql = postgres(proxy.proxyUrl(db.appUrl), {
    max: 1,
    idle_timeout: 0,
    connect_timeout: 5,
    onnotice: () => undefined,
  });
  clients.push(sql);
  return sql;
}

const PENDING = Symbol('pending');

/** Resolves to the promise's value, or to PENDING if it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof PENDING> {
  return Promise.race([
    promise,
    new Promise<typeof PENDING>((resolve) => setTimeout(() => resolve(PENDING), ms)),
  ]);
}

async function settle<T>(promise: Promise<T>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  // Without it a backend notices a vanished client only when it next writes: pg_sleep would hold its
  // app-role slot until the sleep ends.
  db = await startTestPostgres({ postgresFlags: ['-c', 'client_connection_check_interval=50ms'] });
  proxy = await startFaultProxy({ targetHost: db.host, targetPort: db.port });
});

afterEach(async () => {
  proxy.resume();
  proxy.setLatency(0);
  proxy.dropNewConnections(false);
  await Promise.all(clients.splice(0).map((sql) => sql.end({ timeout: 0 })));
  await db.waitForAppConnections(0);
});

afterAll(async () => {
  await proxy?.close();
  await db?.stop();
});

describe('startFaultProxy', () => {
  it('passes queries through and counts connections', async () => {
    const sql = proxiedClient();
    expect(await sql`select current_user as "user"`).toEqual([{ user: 'app' }]);
    expect(proxy.proxyUrl(db.appUrl)).toContain(`@127.0.0.1:${proxy.port}/`);
    expect(proxy.stats()).toMatchObject({ openConnections: 1, isPaused: false, latencyMs: 0 });
    expect(proxy.stats().acceptedConnections).toBeGreaterThanOrEqual(1);
  });

  it('pause() stalls a query without closing the connection; resume() delivers it', async () => {
    const sql = proxiedClient();
    await sql`select 1`;
    proxy.pause();
    const query = sql`select 42 as answer`;
    expect(await within(query, 300)).toBe(PENDING);
    expect(proxy.stats()).toMatchObject({ openConnections: 1, isPaused: true });
    proxy.resume();
    expect(await within(query, 2000)).toEqual([{ answer: 42 }]);
  });

  it('pause() also stalls new connections until resume()', async () => {
    proxy.pause();
    const query = proxiedClient()`select 1 as one`;
    expect(await within(query, 300)).toBe(PENDING);
    proxy.resume();
    expect(await within(query, 2000)).toEqual([{ one: 1 }]);
  });

  it('setLatency() delays every chunk in both directions', async () => {
    const sql = proxiedClient();
    await sql`select 1`;
    proxy.setLatency(100);
    const started = performance.now();
    await sql`select 1`;
    // One round trip: 100 ms there, 100 ms back.
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(() => proxy.setLatency(-1)).toThrow('Expected ms to be a finite number >= 0, got -1 (number)');
  });

  it('resetAll() fails in-flight queries with a connection error', async () => {
    const sql = proxiedClient();
    await sql`select 1`;
    const inFlight = settle(sql`select pg_sleep(30)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(proxy.resetAll()).toBe(1);
    const error = await inFlight;
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    await expect.poll(() => proxy.stats().openConnections).toBe(0);
    // The server side saw the reset too and freed the role's slot.
    await db.waitForAppConnections(0, { timeoutMs: 2000 });
  });

  it('dropNewConnections(true) refuses new connections and keeps open ones', async () => {
    const open = proxiedClient();
    await open`select 1`;
    proxy.dropNewConnections(true);
    const error = await settle(proxiedClient()`select 1`);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.stats().droppedConnections).toBeGreaterThanOrEqual(1);
    expect(await open`select 2 as two`).toEqual([{ two: 2 }]);

    proxy.dropNewConnections(false);
    expect(await proxiedClient()`select 3 as three`).toEqual([{ three: 3 }]);
  });

  it('with latency on, bytes the server sent before it reset the connection reach the client before the reset', async () => {
    // A server that answers, then resets: what PostgreSQL does when it kills a backend that still had
    // unread input (the FATAL 57P01 message, then a RST instead of a FIN).
    const raw = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write('FATAL 57P01', () => setTimeout(() => socket.resetAndDestroy(), 50));
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    const slow = await startFaultProxy({
      targetHost: '127.0.0.1',
      targetPort: (raw.address() as AddressInfo).port,
    });
    slow.setLatency(300);
    let client: Socket | undefined;
    try {
      client = connect({ host: '127.0.0.1', port: slow.port });
      let received = '';
      client.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      const [error] = (await once(client, 'error').catch((e: unknown) => [e])) as [Error & { code?: string }];
      expect(received).toBe('FATAL 57P01');
      expect(error.code).toBe('ECONNRESET');
      await expect.poll(() => slow.stats().openConnections).toBe(0);
    } finally {
      client?.destroy();
      await slow.close();
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });

  it('with latency on, a close travels behind the bytes sent before it', async () => {
    const raw = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('goodbye');
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    const slow = await startFaultProxy({
      targetHost: '127.0.0.1',
      targetPort: (raw.address() as AddressInfo).port,
    });
    slow.setLatency(200);
    let client: Socket | undefined;
    try {
      client = connect({ host: '127.0.0.1', port: slow.port });
      let received = '';
      client.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      const started = performance.now();
      await once(client, 'end');
      expect(received).toBe('goodbye');
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    } finally {
      client?.destroy();
      await slow.close();
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });
});
