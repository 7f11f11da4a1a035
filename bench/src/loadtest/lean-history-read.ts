import { Agent, request } from 'node:http';
import superjson from 'superjson';
import { historyPage, runScenario, type ScenarioName, type VirtualUser } from './scenarios.js';

/**
 * A failed lean call, shaped as the tRPC client's errors are where the load report looks
 * (`data.userFriendly`, `data.httpStatus`), so `describeFailure` counts it the same way.
 */
export class LeanCallError extends Error {
  override readonly name = 'LeanCallError';

  constructor(
    readonly data: { httpStatus: number; userFriendly?: unknown },
    message: string,
  ) {
    super(message);
  }
}

/** The `data` of a tRPC error answer, with or without superjson's `json` wrapper. */
function errorData(body: string): { userFriendly?: unknown } | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { json?: { data?: unknown }; data?: unknown } };
    const data = parsed.error?.json?.data ?? parsed.error?.data;
    return typeof data === 'object' && data !== null ? (data as { userFriendly?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads dose histories (`administrations.history`, the `list` scenario) over plain HTTP, the way the
 * tRPC client sends them (a GET with the superjson-encoded input), but without decoding a successful
 * answer: its body is read and dropped. The load generator runs on the app's own 2 cores, and at
 * thousands of reads a second the tRPC client's fetch, superjson and 50-row decoding took CPU from
 * the app it was measuring; real users' browsers pay that on their own machines. A refusal's body
 * (small) is decoded, so failures are counted by the app's `userFriendly.type` as before.
 */
export function leanHistoryReader(baseUrl: string): (user: VirtualUser) => Promise<void> {
  const origin = new URL(baseUrl);
  // Keep-alive like fetch's pool, no cap: an open loop has as many requests in flight as the app lets
  // wait. `timeout` drops a socket idle for 4 s, before the app's 5 s keep-alive timeout closes it
  // from its side: a request sent on a socket the server is closing fails with ECONNRESET (7 NETWORK
  // failures in one run). Node's agent heeds the server's Keep-Alive hint only when it has a timeout.
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, timeout: 4000 });
  const paths = new WeakMap<VirtualUser, string>();
  const pathFor = (user: VirtualUser) => {
    let path = paths.get(user);
    if (path === undefined) {
      const input = JSON.stringify(superjson.serialize({ animalId: user.animalId, limit: historyPage }));
      path = `${origin.pathname.replace(/\/$/, '')}/api/trpc/administrations.history?input=${encodeURIComponent(input)}`;
      paths.set(user, path);
    }
    return path;
  };
  return (user) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: origin.hostname,
          port: origin.port,
          method: 'GET',
          path: pathFor(user),
          headers: { ...user.headers, accept: 'application/json' },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 200) {
            res.on('end', resolve).on('error', reject).resume();
            return;
          }
          const chunks: Buffer[] = [];
          res
            .on('data', (chunk: Buffer) => chunks.push(chunk))
            .on('error', reject)
            .on('end', () => {
              const data = errorData(Buffer.concat(chunks).toString('utf8'));
              reject(new LeanCallError({ ...data, httpStatus: status }, `HTTP ${status}`));
            });
        },
      );
      req.on('error', reject);
      req.end();
    });
}

/**
 * Sends a scenario's call to the app at `baseUrl`: history reads by a {@link leanHistoryReader},
 * everything else by the tRPC client ({@link runScenario}).
 */
export function withLeanHistoryReads(
  baseUrl: string,
): (scenario: ScenarioName, user: VirtualUser) => Promise<unknown> {
  const read = leanHistoryReader(baseUrl);
  return (scenario, user) => (scenario === 'list' ? read(user) : runScenario(scenario, user));
}
