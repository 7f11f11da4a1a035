import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from './describe-failure.js';
import { createClient } from './scenarios.js';
import { queueFullRefusalBody } from './testing/refusal-body.js';

let server: Server;
let url: string;

/** A stand-in app: a tRPC error with userFriendly data, a bare 413, a bare 500, by procedure. */
beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url?.includes('reports.adherence')) {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(queueFullRefusalBody('shed'));
    } else if (request.url?.includes('imports.administrations')) {
      response.writeHead(413, { 'content-type': 'text/plain' });
      response.end('Payload Too Large');
    } else {
      response.writeHead(500, { 'content-type': 'text/html' });
      response.end('<h1>Internal Server Error</h1>');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );

describe('describeFailure', () => {
  it("counts the server's typed error by its userFriendly type", async () => {
    const error = await failureOf(createClient(url).reports.adherence.query({ householdId: 'h', days: 30 }));
    expect(describeFailure(error)).toEqual({ errorType: 'QUEUE_FULL', reason: 'shed', status: 503 });
  });

  it('counts an answer without userFriendly data by its HTTP status, not as a network failure', async () => {
    const tooLarge = await failureOf(
      createClient(url).imports.administrations.mutate({ householdId: 'h', rows: [] }),
    );
    expect(describeFailure(tooLarge)).toEqual({ errorType: 'HTTP_413', status: 413 });
    const crashed = await failureOf(
      createClient(url).administrations.history.query({ animalId: 'a', limit: 1 }),
    );
    expect(describeFailure(crashed)).toEqual({ errorType: 'HTTP_500', status: 500 });
  });

  it('counts a request that got no answer at all as NETWORK', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failureOf(
      createClient(`http://127.0.0.1:${port}`).administrations.history.query({ animalId: 'a', limit: 1 }),
    );
    expect(describeFailure(error)).toEqual({ errorType: 'NETWORK' });
  });
});
