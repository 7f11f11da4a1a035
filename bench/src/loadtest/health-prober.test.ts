import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeHealth } from './health-prober.js';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A server answering its n-th health check with `answers[n % answers.length]` (0: never answers). */
async function serve(answers: number[]): Promise<string> {
  let n = 0;
  const server = createServer((req, res) => {
    const status = answers[n++ % answers.length]!;
    if (req.url !== '/api/health') res.writeHead(404).end();
    else if (status !== 0) res.writeHead(status).end('{}');
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('probeHealth', () => {
  it('counts 200 and 206 as answered (their latency measured), other statuses and timeouts by kind', async () => {
    const prober = probeHealth(await serve([200, 206, 503, 0]), 20, 200);
    await new Promise((resolve) => setTimeout(resolve, 170));
    const report = await prober.stop();
    expect(report.sent).toBeGreaterThanOrEqual(4);
    const { 200: ok = 0, 206: degraded = 0, 503: unhealthy = 0, timeout = 0 } = report.outcomes;
    expect(ok + degraded + unhealthy + timeout).toBe(report.sent);
    expect(report.answered).toBe(ok + degraded);
    expect(report.latencyMs.count).toBe(report.answered);
    expect(unhealthy).toBeGreaterThanOrEqual(1);
    expect(timeout).toBeGreaterThanOrEqual(1);
  });
});
