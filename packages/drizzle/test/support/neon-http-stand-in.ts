import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';

/**
 * A local stand-in for Neon's `/sql` HTTP endpoint, backed by a real PostgreSQL: what
 * `@neondatabase/serverless`'s `neon()` sends when `neonConfig.fetchEndpoint` points here. Each request
 * runs on a connection of a pool (at most `maxConnections` per connection string, like Neon's proxy
 * would open), answers in Neon's raw-text format, reports SQL errors as HTTP 400 with the SQLSTATE, and
 * cancels the statement on the server when the client aborts the request.
 */
export interface NeonHttpStandIn {
  readonly url: string;
  close(): Promise<void>;
}

interface QueryBody {
  query: string;
  params?: unknown[];
}

interface RawResult {
  command: string;
  count: number | null;
  columns?: Array<{ name: string; type: number }>;
  [index: number]: Array<Buffer | null>;
  length: number;
}

export async function startNeonHttpStandIn(maxConnections = 8): Promise<NeonHttpStandIn> {
  const pools = new Map<string, postgres.Sql>();
  const poolFor = (connectionString: string) => {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = postgres(connectionString, { max: maxConnections, onnotice: () => {}, fetch_types: false });
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const toNeonResult = (result: RawResult) => ({
    command: result.command,
    rowCount: result.count,
    rowAsArray: true,
    fields: (result.columns ?? []).map((column) => ({ name: column.name, dataTypeID: column.type })),
    rows: Array.from({ length: result.length }, (_, i) =>
      result[i]!.map((value) => (value === null ? null : value.toString('utf8'))),
    ),
  });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    const connectionString = String(request.headers['neon-connection-string'] ?? '');
    const parsed = JSON.parse(body) as QueryBody | { queries: QueryBody[] };
    const sql = poolFor(connectionString);
    const running = new Set<{ cancel(): unknown }>();
    request.socket.on('close', () => {
      if (!response.writableEnded) for (const query of running) void query.cancel();
    });
    const run = async (target: postgres.Sql | postgres.TransactionSql, { query, params }: QueryBody) => {
      const pending = target.unsafe(query, (params ?? []) as never[]).raw();
      running.add(pending);
      try {
        return toNeonResult((await pending) as unknown as RawResult);
      } finally {
        running.delete(pending);
      }
    };
    try {
      let payload: unknown;
      if ('queries' in parsed) {
        const isolation = request.headers['neon-batch-isolation-level'];
        const mode = [
          typeof isolation === 'string'
            ? `isolation level ${isolation.replace(/([a-z])([A-Z])/g, '$1 $2')}`
            : '',
          request.headers['neon-batch-read-only'] === 'true' ? 'read only' : '',
        ]
          .filter(Boolean)
          .join(' ');
        const results = await sql.begin(mode, async (tx) => {
          const out = [];
          for (const query of parsed.queries) out.push(await run(tx, query));
          return out;
        });
        payload = { results };
      } else payload = await run(sql, parsed);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    } catch (error) {
      const e = error as Record<string, unknown>;
      if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            message: e.message,
            code: e.code,
            severity: e.severity,
            detail: e.detail,
            constraint: e.constraint_name,
            table: e.table_name,
            schema: e.schema_name,
          }),
        );
      } else {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(String(e.message ?? error));
      }
    }
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sql`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((pool) => pool.end({ timeout: 1 })));
    },
  };
}
