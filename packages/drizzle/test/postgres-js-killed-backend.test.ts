import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresJsLines } from './support/postgres-js-lines.js';

// porsager/postgres #1154 / #1208: postgres.js 3.4 writes ROLLBACK to a transaction's connection after
// its backend died, from a setImmediate callback that throws `Cannot read properties of null (reading
// 'write')` and ends the process. Users of this package apply no patch: the wrapper keeps the driver
// from writing to the dead connection (src/postgres-js/transaction-guard.ts). 4.x does not have the
// fault. The probe runs in its own process because the failure is a process exit.

const probe = fileURLToPath(new URL('./support/killed-backend-probe.ts', import.meta.url));

let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres();
});

afterAll(async () => {
  await server?.stop();
});

interface ProbeResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

function runProbe(module: string, rounds: number): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions', '@db-safeguards/source', probe],
      {
        env: {
          ...process.env,
          PROBE_MODULE: module,
          PROBE_APP_URL: server.appUrl,
          PROBE_ADMIN_URL: server.adminUrl,
          PROBE_ROUNDS: String(rounds),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr });
    });
  });
}

describe.each(postgresJsLines)('$name, when the backend under a query is killed', (line) => {
  it('fails the transaction and the pipelined queries with typed errors, never ends the process, and recovers', async () => {
    const rounds = 5;
    const result = await runProbe(line.module, rounds);
    expect(result.stderr).not.toContain("reading 'write'");
    expect(result.exitCode, result.stderr).toBe(0);

    const { seen } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as {
      seen: Record<string, number>;
    };
    // Every killed transaction is rejected with a typed connection error.
    expect(seen['transaction:typed:CONNECTION']).toBe(rounds);
    // No promise is left hanging, nothing arrives untyped, and the pool serves the next query at once.
    expect(Object.keys(seen).filter((key) => key.endsWith('HANG') || key.includes('untyped'))).toEqual([]);
    expect(seen['recovered:attempt 1']).toBe(rounds);
  }, 120_000);
});
