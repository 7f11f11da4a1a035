import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSideProcess } from './side-process.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('startSideProcess', () => {
  it('runs health checks from another process until stopped and reports every answer', async () => {
    let asked = 0;
    const url = await listen((_req, res) => {
      asked++;
      res.writeHead(asked % 2 === 0 ? 206 : 200).end('{}');
    });
    const side = await startSideProcess({ kind: 'health', url, intervalMs: 20, timeoutMs: 1000 });
    side.go();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await side.stop();
    expect(report.sent).toBeGreaterThanOrEqual(5);
    expect(report.answered).toBe(report.sent);
    // Two checks warm the process up before go(); they are not in the report.
    expect(report.answered).toBe(asked - 2);
    expect((report.outcomes['200'] ?? 0) + (report.outcomes['206'] ?? 0)).toBe(asked - 2);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
  });

  it('nothing but the two warm-up checks is sent before go()', async () => {
    let asked = 0;
    const url = await listen((_req, res) => {
      asked++;
      res.end('{}');
    });
    const side = await startSideProcess({ kind: 'health', url, intervalMs: 10, timeoutMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(asked).toBe(2);
    side.go();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await side.stop();
    expect(asked).toBeGreaterThan(2);
  });

  it('rejects when the process dies before its result', async () => {
    const url = await listen((_req, res) => res.end('{}'));
    const side = await startSideProcess({ kind: 'health', url, intervalMs: 50, timeoutMs: 1000 });
    side.go();
    side.kill();
    await expect(side.result).rejects.toThrow(/exited/);
  });
});
