import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeFailure } from './describe-failure.js';
import { leanHistoryReader } from './lean-history-read.js';
import { createClient, runScenario, type VirtualUser } from './scenarios.js';
import { queueFullRefusalBody } from './testing/refusal-body.js';

let server: Server;
let url: string;
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

/** A stand-in app: answers animal "ok" with a history, "busy" with a refusal, "broken" with a bare 502. */
beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push({ url: request.url ?? '', headers: request.headers });
    const input = new URL(request.url ?? '', 'http://x').searchParams.get('input') ?? '';
    if (input.includes('busy')) {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(queueFullRefusalBody('overloaded'));
    } else if (input.includes('broken')) {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<h1>bad gateway</h1>');
    } else {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ result: { data: { json: [] } } }));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function user(animalId: string): VirtualUser {
  const headers = { authorization: 'Bearer t0k', 'x-forwarded-for': '203.0.0.9' };
  return { client: createClient(url, headers), headers, householdId: 'h', animalId, regimenId: 'r' };
}

it("sends the same request as the tRPC client's history query: path, encoded input and the user's headers", async () => {
  seen.length = 0;
  await runScenario('list', user('ok'));
  await leanHistoryReader(url)(user('ok'));
  expect(seen).toHaveLength(2);
  const [viaTrpc, viaLean] = seen as [(typeof seen)[0], (typeof seen)[0]];
  expect(viaLean.url).toBe(viaTrpc.url);
  expect(viaLean.url).toContain('/api/trpc/administrations.history?input=');
  expect(viaLean.headers.authorization).toBe('Bearer t0k');
  expect(viaLean.headers['x-forwarded-for']).toBe('203.0.0.9');
});

it('fails a refusal with its userFriendly type and a bare error page with its status, as the tRPC client does', async () => {
  const read = leanHistoryReader(url);
  const refused = await read(user('busy')).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(describeFailure(refused)).toEqual({ errorType: 'QUEUE_FULL', reason: 'overloaded', status: 503 });
  const viaTrpc = await runScenario('list', user('busy')).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(describeFailure(viaTrpc)).toEqual(describeFailure(refused));

  const broken = await read(user('broken')).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(describeFailure(broken)).toEqual({ errorType: 'HTTP_502', status: 502 });
});

it('fails with NETWORK when nothing answers', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const error = await leanHistoryReader(`http://127.0.0.1:${port}`)(user('ok')).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(describeFailure(error)).toEqual({ errorType: 'NETWORK' });
});
