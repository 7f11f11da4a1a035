import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isProcessAlive } from '@db-safeguards/test-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isRedisServerControlUnsupportedError,
  isRedisServerMissingError,
  startTestRedis,
  type TestRedis,
} from '../src/index.js';

const distEntry = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;

describe('startTestRedis: an own server', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis({ externalUrl: false });
  });
  afterAll(() => redis.stop());

  it('answers on a free port of 127.0.0.1, never the machine’s 6379, with nothing saved to disk', async () => {
    expect(redis.port).not.toBe(6379);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.canControlServer).toBe(true);
    const client = await redis.connect();
    expect(await client.ping()).toBe('PONG');
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    await client.set(`${redis.keyPrefix}k`, 'v');
    expect(await client.get(`${redis.keyPrefix}k`)).toBe('v');
  });

  it('stops and starts on the same port; without appendOnly the data is gone', async () => {
    const client = await redis.connect();
    await client.set(`${redis.keyPrefix}gone`, '1');
    await redis.stopServer();
    expect(redis.isServerRunning).toBe(false);
    await expect(client.ping()).rejects.toThrow();
    await redis.startServer();
    expect(redis.isServerRunning).toBe(true);
    const again = await redis.connect();
    expect(await again.get(`${redis.keyPrefix}gone`)).toBeNull();
  });

  it('killServer crashes it (SIGKILL) and startServer brings it back', async () => {
    const pid = redis.pid!;
    await redis.killServer();
    expect(isProcessAlive(pid)).toBe(false);
    await redis.startServer();
    expect(await (await redis.connect()).ping()).toBe('PONG');
  });

  it('freezeServer leaves connections open and unanswered until resumeServer', async () => {
    const client = await redis.connect({ commandTimeout: 200 });
    expect(await client.ping()).toBe('PONG');
    redis.freezeServer();
    try {
      await expect(client.ping()).rejects.toThrow(/timed out/i);
    } finally {
      redis.resumeServer();
    }
    await sleep(50);
    expect(await (await redis.connect()).ping()).toBe('PONG');
  });

  it('two handles get two servers', async () => {
    await using other = await startTestRedis({ externalUrl: false });
    expect(other.port).not.toBe(redis.port);
    expect(other.keyPrefix).not.toBe(redis.keyPrefix);
  });
});

describe('startTestRedis({ appendOnly: true })', () => {
  it('keeps every acknowledged write across a clean stop and across a crash', async () => {
    await using redis = await startTestRedis({ externalUrl: false, appendOnly: true });
    const client = await redis.connect();
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    await client.set(`${redis.keyPrefix}a`, '1');
    await redis.restartServer();
    expect(await (await redis.connect()).get(`${redis.keyPrefix}a`)).toBe('1');
    await (await redis.connect()).set(`${redis.keyPrefix}b`, '2');
    await redis.killServer();
    await redis.startServer();
    expect(await (await redis.connect()).mget(`${redis.keyPrefix}a`, `${redis.keyPrefix}b`)).toEqual([
      '1',
      '2',
    ]);
  });
});

describe('startTestRedis on an external server', () => {
  it('cannot control the server and deletes only its own keys on stop', async () => {
    await using own = await startTestRedis({ externalUrl: false });
    const external = await startTestRedis({ externalUrl: own.url });
    expect(external.canControlServer).toBe(false);
    expect(external.url).toBe(own.url);
    const client = await own.connect();
    await client.set(`${external.keyPrefix}mine`, '1');
    await client.set('someone-else', '1');
    await expect(external.stopServer()).rejects.toSatisfy(isRedisServerControlUnsupportedError);
    expect(() => external.freezeServer()).toThrow(/not supported/);
    await external.stop();
    expect(await client.exists(`${external.keyPrefix}mine`)).toBe(0);
    expect(await client.get('someone-else')).toBe('1');
  });
});

describe('a missing binary', () => {
  it('is a RedisServerMissingError that says what to install', async () => {
    const script = `
      process.env.TEST_REDIS_SERVER_BIN = '/nonexistent/redis-server';
      const { startTestRedis, isRedisServerMissingError } = await import(${JSON.stringify(distEntry)});
      try { await startTestRedis({ externalUrl: false }); console.log('started'); }
      catch (error) { console.log(JSON.stringify({ missing: isRedisServerMissingError(error), message: error.message })); }
    `;
    const output = await runNode(script);
    const result = JSON.parse(output) as { missing: boolean; message: string };
    expect(result.missing).toBe(true);
    expect(result.message).toMatch(/apt-get install -y redis-server/);
    expect(isRedisServerMissingError(new Error('x'))).toBe(false);
  });
});

function runNode(
  script: string,
  onLine?: (line: string, child: ReturnType<typeof spawn>) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      onLine?.(chunk.toString(), child);
    });
    child.once('error', reject);
    child.once('exit', () => resolve(output.trim()));
  });
}

async function directoryOf(pid: number): Promise<string | undefined> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith('db-safeguards-redis-')) continue;
    const owner = await readFile(join(tmpdir(), name, 'owner.pid'), 'utf8').catch(() => '');
    if (owner === String(pid)) return join(tmpdir(), name);
  }
  return undefined;
}

describe('leftovers', () => {
  it('a runner that exits without stop() takes its server with it', async () => {
    const script = `
      const { startTestRedis } = await import(${JSON.stringify(distEntry)});
      const redis = await startTestRedis({ externalUrl: false });
      console.log(JSON.stringify({ pid: redis.pid }));
      process.exit(3);
    `;
    const { pid } = JSON.parse(await runNode(script)) as { pid: number };
    expect(isProcessAlive(pid)).toBe(false);
  });

  it('a runner killed with SIGKILL leaves its server, and the next start sweeps it', async () => {
    const script = `
      const { startTestRedis } = await import(${JSON.stringify(distEntry)});
      const redis = await startTestRedis({ externalUrl: false });
      console.log(JSON.stringify({ pid: redis.pid, runner: process.pid }));
      setInterval(() => {}, 1000);
    `;
    let child: ReturnType<typeof spawn> | undefined;
    const output = await runNode(script, (_line, spawned) => {
      child = spawned;
      spawned.kill('SIGKILL');
    });
    expect(child).toBeDefined();
    const { pid, runner } = JSON.parse(output) as { pid: number; runner: number };
    const dir = await directoryOf(runner);
    expect(dir).toBeDefined();
    expect(isProcessAlive(pid)).toBe(true);
    // A sweep runs once per process: a fresh process does it.
    await runNode(`
      const { startTestRedis } = await import(${JSON.stringify(distEntry)});
      const redis = await startTestRedis({ externalUrl: false });
      await redis.stop();
    `);
    for (let i = 0; i < 50 && isProcessAlive(pid); i++) await sleep(20);
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(dir!)).toBe(false);
  });
});
