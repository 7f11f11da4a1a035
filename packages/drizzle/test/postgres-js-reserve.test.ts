import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import type { Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { safeguardClient } from '../src/postgres-js/index.js';
import { postgresJsLines } from './support/postgres-js-lines.js';

let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
});

afterAll(async () => {
  await server?.stop();
});

describe.each(postgresJsLines)('$name: sql.reserve()', (line) => {
  let safeguards: Safeguards;
  let client: Sql;
  let db: Sql;

  beforeEach(() => {
    safeguards = createSafeguards({ queue: { maxConcurrentConnections: 2, reservedForCritical: 0 } });
    client = line.open(server.appUrl, { max: 2 });
    db = safeguardClient(client, safeguards);
  });

  afterEach(async () => {
    await safeguards.close({ drainTimeoutMs: 1000 });
    await client.end({ timeout: 1 });
  });

  // Regression: reserve() was a nested call holding the slot's turn until release(), so a query the
  // operation made afterwards waited behind it, and the operation only ended at its deadline.
  it('takes no turn of the slot: the operation goes on querying and ends long before its deadline', async () => {
    const started = Date.now();
    const result = await safeguards.run(
      async () => {
        const reserved = await db.reserve();
        try {
          const [onReserved] = await reserved`select 1 as n`;
          const [onPool] = await db`select 2 as n`;
          return [onReserved?.n, onPool?.n];
        } finally {
          reserved.release();
        }
      },
      { operationType: 'read', timeoutMs: 5_000 },
    );
    expect(result).toEqual([1, 2]);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(safeguards.queue.stats()).toMatchObject({ active: 0, processed: 1 });
  });

  it("cancels the reserved connection's query when the operation's deadline passes", async () => {
    let reservedQuery: Promise<unknown> | undefined;
    const outcome = safeguards.run(
      async () => {
        const reserved = await db.reserve();
        reservedQuery = reserved`select pg_sleep(10)`.finally(() => reserved.release());
        return reservedQuery;
      },
      { operationType: 'read', timeoutMs: 300 },
    );
    await expect(outcome).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
    await expect(reservedQuery).rejects.toMatchObject({ code: '57014' });
  });

  it('outside an operation, reserve() still holds a slot of its own until release()', async () => {
    const reserved = await db.reserve();
    expect(safeguards.queue.active).toBe(1);
    const [row] = await reserved`select 3 as n`;
    expect(row?.n).toBe(3);
    reserved.release();
    await safeguards.queue.onIdle();
    expect(safeguards.queue.active).toBe(0);
  });
});
