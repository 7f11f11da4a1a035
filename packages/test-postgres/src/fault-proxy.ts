import { connect, createServer, type Socket } from 'node:net';
import { assertInteger, assertNumber } from './internal/validate.js';

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Where connections go, e.g. `testPostgres.host`. */
  targetHost: string;
  /** e.g. `testPostgres.port`. */
  targetPort: number;
  /** Port to listen on (127.0.0.1 only). Default 0: a free port, read it from `proxy.port`. */
  port?: number;
}

/** Live counters of a {@link FaultProxy}. */
export interface FaultProxyStats {
  /** Client connections with their upstream pair open right now. */
  openConnections: number;
  /** Client connections accepted since the start (dropped ones not included). */
  acceptedConnections: number;
  /** Client connections refused by `dropNewConnections(true)`. */
  droppedConnections: number;
  isPaused: boolean;
  latencyMs: number;
}

/** A TCP proxy between an app and its database that can stall, slow, refuse and reset connections. */
export interface FaultProxy extends AsyncDisposable {
  /** Always `127.0.0.1`. */
  readonly host: string;
  readonly port: number;
  /** The same connection URL with host and port replaced by the proxy's. */
  proxyUrl(url: string): string;
  /**
   * A network stall: stops forwarding in both directions without closing anything. Bytes already
   * read are held, the rest wait in the kernel's buffers; new connections are accepted but stalled too.
   */
  pause(): void;
  /** Ends a stall: everything held is delivered in order. */
  resume(): void;
  /** Delays every chunk by `ms` in each direction, from now on (0 turns it off). Order is kept. */
  setLatency(ms: number): void;
  /** While on, new client connections are reset right after the TCP handshake. Open ones stay. */
  dropNewConnections(on: boolean): void;
  /** Resets (TCP RST) both sides of every open connection; returns how many connections it hit. */
  resetAll(): number;
  stats(): FaultProxyStats;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

interface ProxyState {
  isPaused: boolean;
  latencyMs: number;
}

/** One direction of a connection: a FIFO of chunks, each released when due and not paused. */
class Relay {
  private queue: { chunk: Buffer; dueAt: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sourceEnded = false;

  constructor(
    source: Socket,
    private readonly target: Socket,
    private readonly state: ProxyState,
  ) {
    source.on('data', (chunk: Buffer) => {
      this.queue.push({ chunk, dueAt: Date.now() + this.state.latencyMs });
      this.flush();
    });
    source.on('end', () => {
      this.sourceEnded = true;
      this.flush();
    });
  }

  flush(): void {
    if (this.state.isPaused || this.target.destroyed) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.dueAt - Date.now();
      if (wait > 0) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, wait);
        return;
      }
      this.queue.shift();
      this.target.write(head.chunk);
    }
    if (this.sourceEnded) this.target.end();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.queue = [];
  }
}

interface Pair {
  client: Socket;
  upstream: Socket;
  relays: [Relay, Relay];
}

/** RST where the platform allows it, a plain destroy otherwise. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Starts a TCP proxy on 127.0.0.1 for fault injection: route an app's connections through
 * `proxy.proxyUrl(db.appUrl)` and stall, slow, refuse or reset them from the test.
 */
export function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { targetHost, targetPort } = options;
  const requestedPort = options.port ?? 0;
  if (typeof targetHost !== 'string' || targetHost === '') {
    throw new TypeError(`Expected targetHost to be a non-empty string, got ${String(targetHost)}`);
  }
  assertInteger('targetPort', targetPort, 1, 65_535);
  assertInteger('port', requestedPort, 0, 65_535);

  const state: ProxyState = { isPaused: false, latencyMs: 0 };
  const pairs = new Set<Pair>();
  let accepted = 0;
  let dropped = 0;
  let dropping = false;
  let closed: Promise<void> | undefined;

  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    client.on('error', () => undefined);
    if (dropping) {
      dropped++;
      reset(client);
      return;
    }
    accepted++;
    const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true, noDelay: true });
    upstream.on('error', () => undefined);
    const pair: Pair = {
      client,
      upstream,
      relays: [new Relay(client, upstream, state), new Relay(upstream, client, state)],
    };
    pairs.add(pair);
    if (state.isPaused) {
      client.pause();
      upstream.pause();
    }
    // One side gone means the connection is gone: an error travels on as RST, a close as a close.
    const onClose = (other: Socket) => (hadError: boolean) => {
      pairs.delete(pair);
      for (const relay of pair.relays) relay.dispose();
      if (other.destroyed) return;
      if (hadError) reset(other);
      else other.destroy();
    };
    client.on('close', onClose(upstream));
    upstream.on('close', onClose(client));
  });
  server.on('error', () => undefined);

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: requestedPort }, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : requestedPort;
      const close = () => {
        closed ??= new Promise<void>((done) => {
          server.close(() => done());
          for (const pair of pairs) {
            pair.client.destroy();
            pair.upstream.destroy();
          }
        });
        return closed;
      };
      resolve({
        host: '127.0.0.1',
        port,
        proxyUrl(url) {
          const parsed = new URL(url);
          parsed.hostname = '127.0.0.1';
          parsed.port = String(port);
          return parsed.toString();
        },
        pause() {
          state.isPaused = true;
          for (const { client, upstream } of pairs) {
            client.pause();
            upstream.pause();
          }
        },
        resume() {
          state.isPaused = false;
          for (const { client, upstream, relays } of pairs) {
            for (const relay of relays) relay.flush();
            client.resume();
            upstream.resume();
          }
        },
        setLatency(ms) {
          assertNumber('ms', ms, 0);
          state.latencyMs = ms;
        },
        dropNewConnections(on) {
          dropping = on;
        },
        resetAll() {
          const count = pairs.size;
          for (const { client, upstream } of pairs) {
            reset(client);
            reset(upstream);
          }
          return count;
        },
        stats: () => ({
          openConnections: pairs.size,
          acceptedConnections: accepted,
          droppedConnections: dropped,
          isPaused: state.isPaused,
          latencyMs: state.latencyMs,
        }),
        close,
        [Symbol.asyncDispose]: close,
      });
    });
  });
}
