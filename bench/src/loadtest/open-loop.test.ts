import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { runOpenLoop } from './open-loop.js';
import { createClient } from './scenarios.js';

it('counts every request it sent: answered, failed by HTTP status, or UNFINISHED when no answer came in the drain window', async () => {
  const held: ServerResponse[] = [];
  // Dose histories fail with a bare 500; adherence reports never get an answer.
  const server = createServer((request, response) => {
    if (request.url?.includes('reports.adherence')) held.push(response);
    else {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('boom');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await runOpenLoop({
      users: [{ client: createClient(url), headers: {}, householdId: 'h', animalId: 'a', regimenId: 'r' }],
      ratePerSecond: 40,
      durationMs: 500,
      mix: { record: 0, list: 1, report: 1, import: 0 },
      maxInFlight: 1000,
      drainMs: 200,
    });
    expect(result.records.length).toBe(20);
    const unfinished = result.records.filter((record) => record.errorType === 'UNFINISHED');
    const crashed = result.records.filter((record) => record.errorType === 'HTTP_500');
    expect(unfinished.length + crashed.length).toBe(20);
    expect(unfinished.length).toBe(held.length);
    expect(unfinished.length).toBeGreaterThan(0);
    expect(unfinished.every((r) => r.scenario === 'report' && r.latencyMs >= 200)).toBe(true);
    expect(crashed.every((r) => r.scenario === 'list' && r.status === 500)).toBe(true);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(500 + 200);
    // A late answer after the drain is not counted a second time.
    for (const response of held) response.end('{}');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(result.records.length).toBe(20);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
