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
  /**
   * Delays every chunk by `ms` in each direction, from now on (0 turns it off): a round trip takes
   * `2 × ms` more. Order is kept, closes and resets included.
   */
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

/** What travels one way through the proxy: bytes, or the end of that direction. */
type Delivery =
  | { kind: 'data'; chunk: Buffer; dueAt: number }
  /** The source half-closed (FIN): half-close the target. */
  | { kind: 'end'; dueAt: number }
  /** The source closed: close the target once what it was sent is written. */
  | { kind: 'close'; dueAt: number }
  /** The source was reset or failed: reset the target once what it was sent is written. */
  | { kind: 'reset'; dueAt: number };

/**
 * One direction of a connection: a FIFO of deliveries, each released when due and not paused. A
 * close or a reset travels in the same line as the bytes, so with latency on, what the server sent
 * before it closed or reset a connection still reaches the client first, as on a real network.
 */
class Relay {
  private queue: Delivery[] = [];
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    source: Socket,
    private readonly target: Socket,
    private readonly state: ProxyState,
  ) {
    source.on('data', (chunk: Buffer) => this.push({ kind: 'data', chunk, dueAt: 0 }));
    source.on('end', () => this.push({ kind: 'end', dueAt: 0 }));
  }

  /** The source is gone: pass it on, after what is already on its way. */
  sourceClosed(hadError: boolean): void {
    this.push({ kind: hadError ? 'reset' : 'close', dueAt: 0 });
  }

  private push(delivery: Delivery): void {
    if (this.finished) return;
    this.queue.push({ ...delivery, dueAt: Date.now() + this.state.latencyMs });
    this.flush();
  }

  flush(): void {
    if (this.state.isPaused) return;
    while (this.queue.length > 0) {
      if (this.target.destroyed) {
        this.dispose();
        return;
      }
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
      this.deliver(head);
    }
  }

  private deliver(delivery: Delivery): void {
    const target = this.target;
    switch (delivery.kind) {
      case 'data':
        target.write(delivery.chunk);
        return;
      case 'end':
        target.end();
        return;
      case 'close':
        this.dispose();
        whenFlushed(target, () => target.destroy());
        return;
      case 'reset':
        this.dispose();
        whenFlushed(target, () => reset(target));
        return;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.finished = true;
  }
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Client to upstream, upstream to client. */
  relays: [Relay, Relay];
}

/** RST where the platform allows it, a plain destroy otherwise. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** Runs `action` once everything written to `socket` so far has been handed to the kernel. */
function whenFlushed(socket: Socket, action: () => void): void {
  if (socket.writableLength === 0) action();
  else if (socket.writableEnded) socket.once('finish', action);
  // A write's callback runs once every earlier write is flushed.
  else socket.write(Buffer.alloc(0), () => action());
}

const isOpen = ({ client, upstream }: Pair) => !client.destroyed && !upstream.destroyed;

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
    // One side gone means the connection is gone: an error travels on as RST, a close as a close,
    // each behind the bytes already on their way (see Relay).
    const [toUpstream, toClient] = pair.relays;
    const onClose = (relay: Relay) => (hadError: boolean) => {
      relay.sourceClosed(hadError);
      if (client.destroyed && upstream.destroyed) {
        pairs.delete(pair);
        for (const each of pair.relays) each.dispose();
      }
    };
    client.on('close', onClose(toUpstream));
    upstream.on('close', onClose(toClient));
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
          let count = 0;
          for (const pair of pairs) {
            if (isOpen(pair)) count++;
            for (const relay of pair.relays) relay.dispose();
            reset(pair.client);
            reset(pair.upstream);
          }
          return count;
        },
        stats: () => ({
          openConnections: [...pairs].filter(isOpen).length,
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
