import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  isServerControlUnsupportedError,
  ServerControlUnsupportedError,
  startTestPostgres,
  type TestPostgres,
} from '../src/index.js';

const distEntry = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Server directories still owned by `pid` (see internal/orphan-sweep.ts). */
async function directoriesOwnedBy(pid: number): Promise<string[]> {
  const names = (await readdir(tmpdir())).filter((name) => name.startsWith('db-safeguards-pg-'));
  const owned: string[] = [];
  for (const name of names) {
    const owner = await readFile(join(tmpdir(), name, 'owner.pid'), 'utf8').catch(() => '');
    if (owner === String(pid)) owned.push(name);
  }
  return owned;
}

/** Runs a child that starts a server from the built package, then leaves without calling stop(). */
async function runAbandoningChild(leave: 'exit' | 'SIGTERM'): Promise<{ port: number; pid: number }> {
  const script = `
    const { startTestPostgres } = await import(${JSON.stringify(pathToFileURL(distEntry).href)});
    const db = await startTestPostgres({ externalUrl: false });
    console.log(JSON.stringify({ port: db.port }));
    if (process.argv[1] === 'exit') process.exit(3);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, leave], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()).port));
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
  if (leave === 'SIGTERM') child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (exitCode) => resolve(exitCode));
  });
  expect(code).toBe(leave === 'exit' ? 3 : 128 + 15);
  return { port, pid: child.pid! };
}

describe('lifecycle', () => {
  it('await using stops the server; stop() is idempotent', async () => {
    let port = 0;
    {
      await using db = await startTestPostgres({ externalUrl: false, appRoleConnectionLimit: 2 });
      port = db.port;
      const sql = postgres(db.appUrl, { max: 1 });
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      await sql.end();
      await db.stop();
      expect(await isListening(port)).toBe(false);
    }
    expect(await isListening(port)).toBe(false);
  });

  // These run the built package in a child process; turbo builds it before the tests, and a missing
  // build fails them rather than skipping them.
  it('the built entry point exists for the child-process tests', () => {
    expect(existsSync(distEntry)).toBe(true);
  });

  it('cleans up a server whose process exits without stop(), keeping its exit code', async () => {
    const { port, pid } = await runAbandoningChild('exit');
    await expect.poll(() => isListening(port), { timeout: 3000 }).toBe(false);
    expect(await directoriesOwnedBy(pid)).toEqual([]);
  });

  it('cleans up a server whose process gets SIGTERM', async () => {
    const { port, pid } = await runAbandoningChild('SIGTERM');
    await expect.poll(() => isListening(port), { timeout: 3000 }).toBe(false);
    expect(await directoriesOwnedBy(pid)).toEqual([]);
  });

  it('freePort() returns a port nothing listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await isListening(port)).toBe(false);
  });
});

describe('on an external server (TEST_DATABASE_URL)', () => {
  let host: TestPostgres;
  let external: TestPostgres;
  let savedUrl: string | undefined;

  beforeAll(async () => {
    host = await startTestPostgres({ externalUrl: false });
    savedUrl = process.env.TEST_DATABASE_URL;
    process.env.TEST_DATABASE_URL = host.adminUrl;
    external = await startTestPostgres({ appRoleConnectionLimit: 2 });
  });

  afterAll(async () => {
    if (savedUrl === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = savedUrl;
    await external?.stop();
    await host?.stop();
  });

  it('creates its own database and uniquely named role with the limit', async () => {
    expect(external.canControlServer).toBe(false);
    expect(external.port).toBe(host.port);
    expect(external.appRole).toMatch(/^app_[0-9a-f]{8}$/);
    expect(external.database).toMatch(/^test_[0-9a-f]{8}$/);

    const clients = [1, 2, 3].map(() => postgres(external.appUrl, { max: 1 }));
    try {
      await Promise.all(clients.slice(0, 2).map((sql) => sql`select 1`));
      await expect(clients[2]!`select 1`).rejects.toMatchObject({ code: '53300' });
      expect(await external.countAppConnections()).toBe(2);
    } finally {
      await Promise.all(clients.map((sql) => sql.end()));
    }
  });

  it('refuses server control with ServerControlUnsupportedError', async () => {
    await expect(external.stopServer()).rejects.toBeInstanceOf(ServerControlUnsupportedError);
    await expect(external.restartServer()).rejects.toMatchObject({ operation: 'restartServer' });
    const error = await external.startServer().catch((caught: unknown) => caught);
    expect(isServerControlUnsupportedError(error)).toBe(true);
    expect(external.isServerRunning).toBe(true);
  });

  it('stop() drops its database and role but leaves the server running', async () => {
    const { database, appRole } = external;
    await external.stop();
    const admin = postgres(host.adminUrl, { max: 1 });
    try {
      const [row] = await admin`
        select exists (select from pg_database where datname = ${database}) as has_database,
               exists (select from pg_roles where rolname = ${appRole}) as has_role`;
      expect(row).toEqual({ has_database: false, has_role: false });
    } finally {
      await admin.end();
    }
  });
});
