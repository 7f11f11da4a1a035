import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { assertInteger } from './internal/validate.js';

/** Options of {@link startNeonWsProxy}. */
export interface NeonWsProxyOptions {
  /** Port to listen on (127.0.0.1 only). Default 0: a free port, read it from `proxy.port`. */
  port?: number;
}

/** Counters of a {@link NeonWsProxy}. */
export interface NeonWsProxyStats {
  /** WebSocket connections with an open TCP pair right now. */
  openConnections: number;
  /** WebSocket connections accepted since the start. */
  acceptedConnections: number;
  /** Upgrades refused because of a missing or non-local `address`. */
  refusedConnections: number;
}

/** A running WebSocket-to-TCP proxy for `@neondatabase/serverless`. */
export interface NeonWsProxy extends AsyncDisposable {
  readonly port: number;
  stats(): NeonWsProxyStats;
  /** Stops listening and closes every open connection. Idempotent. */
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Parses `?address=host:port` and accepts loopback targets only: a test tool, not an open relay. */
function parseTarget(request: IncomingMessage): { host: string; port: number } | undefined {
  const address = new URL(request.url ?? '/', 'http://proxy').searchParams.get('address');
  const match = address?.match(/^(.+):(\d{1,5})$/);
  if (!match) return undefined;
  const host = match[1]!;
  const port = Number(match[2]);
  if (!LOCAL_HOSTS.has(host) || port < 1 || port > 65_535) return undefined;
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * Starts the small proxy Neon's WebSocket driver needs to reach a local PostgreSQL: each WebSocket
 * connection (`ws://127.0.0.1:<port>/v2?address=<host>:<port>`) gets one TCP socket to that address,
 * binary messages become bytes and bytes become binary messages, and either side closing closes the
 * other. Point the driver at it with {@link configureNeonForLocalProxy}.
 */
export function startNeonWsProxy(options: NeonWsProxyOptions = {}): Promise<NeonWsProxy> {
  const requestedPort = options.port ?? 0;
  assertInteger('port', requestedPort, 0, 65_535);
  const pairs = new Set<{ ws: WebSocket; socket: Socket }>();
  let accepted = 0;
  let refused = 0;
  let closed: Promise<void> | undefined;

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: requestedPort,
    perMessageDeflate: false,
    verifyClient: (info, callback) => {
      if (parseTarget(info.req)) return callback(true);
      refused++;
      callback(false, 403, 'address must be a loopback host:port');
    },
  });
  wss.on('error', () => undefined);

  wss.on('connection', (ws, request) => {
    const target = parseTarget(request)!;
    accepted++;
    const socket = connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const pair = { ws, socket };
    pairs.add(pair);

    ws.on('message', (data: Buffer) => {
      if (!socket.destroyed) socket.write(data);
    });
    socket.on('data', (chunk) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(chunk);
    });
    ws.on('close', () => {
      pairs.delete(pair);
      socket.end();
    });
    ws.on('error', () => socket.destroy());
    socket.on('close', (hadError) => {
      pairs.delete(pair);
      if (hadError) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close();
    });
    socket.on('error', () => undefined);
  });

  return new Promise((resolve, reject) => {
    const onStartError = (error: Error) => reject(error);
    wss.once('error', onStartError);
    wss.once('listening', () => {
      wss.off('error', onStartError);
      const address = wss.address();
      const port = typeof address === 'object' && address !== null ? address.port : requestedPort;
      const close = () => {
        closed ??= new Promise<void>((done) => {
          for (const { ws, socket } of pairs) {
            ws.terminate();
            socket.destroy();
          }
          pairs.clear();
          wss.close(() => done());
        });
        return closed;
      };
      resolve({
        port,
        stats: () => ({
          openConnections: pairs.size,
          acceptedConnections: accepted,
          refusedConnections: refused,
        }),
        close,
        [Symbol.asyncDispose]: close,
      });
    });
  });
}
