import { createServer } from 'node:net';

/**
 * Asks the kernel for a TCP port that is free right now, by listening on port 0 and closing again.
 * Another process can take the port before you use it: callers that bind it later should retry on
 * `EADDRINUSE` (`startTestPostgres` does).
 *
 * @param host - the interface to probe; defaults to `127.0.0.1`, where every server of this package
 *   listens.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('freePort: no port was assigned'))));
    });
  });
}
