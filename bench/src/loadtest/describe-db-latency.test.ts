import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { startFaultProxy } from '@db-safeguards/test-postgres';
import { expect, it } from 'vitest';
import { describeDbLatency } from './describe-db-latency.js';

it('names both directions: the proxy delays each way, so a round trip takes twice the flag', async () => {
  expect(describeDbLatency(5)).toBe('5 ms each way (a 10 ms round trip)');
  // What the label rests on, measured: an echo through the proxy the load tool starts.
  const echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const proxy = await startFaultProxy({
    targetHost: '127.0.0.1',
    targetPort: (echo.address() as AddressInfo).port,
  });
  proxy.setLatency(100);
  const client = connect({ host: '127.0.0.1', port: proxy.port });
  try {
    await once(client, 'connect');
    const started = performance.now();
    client.write('ping');
    await once(client, 'data');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  } finally {
    client.destroy();
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  }
});
