import { connect } from 'node:net';
import type { FaultProxy, TestPostgres } from '@db-safeguards/test-postgres';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { startFaultTarget } from './fault-fixture.js';
import { createTeardown, type Teardown } from './teardown.js';

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A teardown that also hands the test every resource registered on it, by label. */
function watchedTeardown(): { teardown: Teardown; started: Map<string, unknown> } {
  const inner = createTeardown();
  const started = new Map<string, unknown>();
  return {
    started,
    teardown: {
      ...inner,
      add(label, resource, close) {
        started.set(label, resource);
        return inner.add(label, resource, close);
      },
    },
  };
}

describe('the fault target fixture', () => {
  it('closes the PostgreSQL, the proxy and the admin connection it had started when the app fails to start', async () => {
    const { teardown, started } = watchedTeardown();
    // Port 1 on loopback: nothing listens there, so the app's migrations cannot connect.
    const failed = await startFaultTarget(
      { DATABASE_URL: 'postgres://app:app@127.0.0.1:1/app', DB_MAX_ATTEMPTS: '1' },
      {},
      teardown,
    ).catch((error: unknown) => error);

    expect(failed).toBeInstanceOf(Error);
    expect([...started.keys()]).toEqual(['PostgreSQL', 'proxy', 'admin connection']);
    expect(teardown.closed).toEqual(['admin connection', 'proxy', 'PostgreSQL']);
    const server = started.get('PostgreSQL') as TestPostgres;
    const proxy = started.get('proxy') as FaultProxy;
    const admin = started.get('admin connection') as postgres.Sql;
    expect(server.isServerRunning).toBe(false);
    expect(await isListening(server.port)).toBe(false);
    expect(await isListening(proxy.port)).toBe(false);
    await expect(admin`select 1`).rejects.toMatchObject({ code: 'CONNECTION_ENDED' });
  }, 60_000);

  it('stop() closes the app, the admin connection, the proxy and the PostgreSQL it started', async () => {
    const { teardown, started } = watchedTeardown();
    const target = await startFaultTarget({}, {}, teardown);
    expect([...started.keys()]).toEqual(['PostgreSQL', 'proxy', 'admin connection', 'app']);
    await target.stop();
    expect(teardown.closed).toEqual(['app', 'admin connection', 'proxy', 'PostgreSQL']);
    expect(await isListening(target.server.port)).toBe(false);
    expect(await isListening(target.proxy.port)).toBe(false);
    expect(await isListening(Number(new URL(target.app.url).port))).toBe(false);
  }, 60_000);
});
