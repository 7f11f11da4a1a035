import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// postgres.js 3.4.9 throws `Cannot read properties of null (reading 'write')` from a setImmediate
// callback when a query is written to a connection whose backend has just died (porsager/postgres#1154,
// #1208, unfixed upstream). No try/catch can reach that throw; it ends the process. This repository
// carries a patch (patches/postgres@3.4.9.patch) that fails the query with CONNECTION_CLOSED instead.
// The probe runs in its own process because the failure is a process exit, which vitest would otherwise
// report as an error outside any test.

const probe = fileURLToPath(new URL('./driver/killed-backend-probe.ts', import.meta.url));

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

function runProbe(rounds: number): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', probe], {
      env: {
        ...process.env,
        PROBE_APP_URL: server.appUrl,
        PROBE_ADMIN_URL: server.adminUrl,
        PROBE_ROUNDS: String(rounds),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr });
    });
  });
}

describe('postgres.js when the backend under a query is killed', () => {
  it('fails the transaction and the pipelined queries with catchable errors, never ends the process, and recovers', async () => {
    const rounds = 5;
    const result = await runProbe(rounds);
    expect(result.stderr).not.toContain("reading 'write'");
    expect(result.exitCode, result.stderr).toBe(0);

    const { seen } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as {
      seen: Record<string, number>;
    };
    // Every killed transaction is rejected with a connection error (the caller's retry decides what next).
    const transactionOutcomes = Object.entries(seen).filter(([key]) => key.startsWith('transaction:'));
    expect(transactionOutcomes.reduce((sum, [, n]) => sum + n, 0)).toBe(rounds);
    for (const [key] of transactionOutcomes)
      expect(key).toMatch(/^transaction:(CONNECTION_CLOSED|ECONNRESET|57P01)$/);
    // No promise is left hanging, and after each kill the pool serves the next query at once.
    expect(Object.keys(seen).filter((key) => key.endsWith(':HANG'))).toEqual([]);
    expect(seen['recovered:attempt 1'] ?? 0).toBeGreaterThanOrEqual(rounds - 1);
    expect(seen['recovered:never']).toBeUndefined();
  }, 90_000);
});
