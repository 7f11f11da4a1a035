import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionLimitExceededError,
  type ConnectionLimitWarning,
  checkConnectionLimit,
  connectionLimitQuery,
} from '../src/index.js';

/** The start-up check reads the real limits of a real server: max_connections 20, 3 reserved. */
let server: TestPostgres;
let admin: postgres.Sql;

beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 4, maxConnections: 20 });
  admin = postgres(server.adminUrl, { max: 1, onnotice: () => undefined });
}, 60_000);

afterAll(async () => {
  await admin?.end({ timeout: 1 });
  await server?.stop();
});

async function readRow(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await sql.unsafe(connectionLimitQuery);
    return row!;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

describe('checkConnectionLimit on a real server', () => {
  it("warns, typed, when the budget exceeds the role's CONNECTION LIMIT; with exceeded: 'error' throws", async () => {
    const row = await readRow(server.appUrl);
    const warnings: ConnectionLimitWarning[] = [];
    const warning = checkConnectionLimit(8, row, { onWarning: (w) => warnings.push(w) });
    expect(warning).toMatchObject({
      code: 'budget-exceeds-connection-limit',
      budget: 8,
      reading: { roleLimit: 4, maxConnections: 20, limit: 4, limitedBy: 'role' },
    });
    expect(warnings).toEqual([warning]);
    expect(warning!.message).toMatch(/budget of 8 .* CONNECTION LIMIT is 4/);
    expect(checkConnectionLimit(4, row, { onWarning: (w) => warnings.push(w) })).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(() => checkConnectionLimit(5, row, { exceeded: 'error' })).toThrow(ConnectionLimitExceededError);
  });

  it('without a role limit, the server is the limit: max_connections minus the reserved slots', async () => {
    await admin.unsafe(`alter role ${server.appRole} connection limit -1`);
    try {
      const row = await readRow(server.appUrl);
      const reserved = Number(
        (await admin`show superuser_reserved_connections`)[0]!.superuser_reserved_connections,
      );
      const reading = checkConnectionLimit(100, row, { onWarning: () => {} })!.reading;
      expect(reading).toMatchObject({ roleLimit: undefined, maxConnections: 20, limitedBy: 'server' });
      expect(reading.reservedForOthers).toBeGreaterThanOrEqual(reserved);
      expect(reading.limit).toBe(20 - reading.reservedForOthers);
      expect(checkConnectionLimit(8, row)).toBeUndefined();
    } finally {
      await admin.unsafe(`alter role ${server.appRole} connection limit 4`);
    }
  });

  it('a superuser is held to the server alone (PostgreSQL ignores its role limit and reserved slots)', async () => {
    const row = await readRow(server.adminUrl);
    const reading = checkConnectionLimit(1000, row, { onWarning: () => {} })!.reading;
    expect(reading).toMatchObject({
      roleLimit: undefined,
      reservedForOthers: 0,
      limit: 20,
      limitedBy: 'server',
    });
  });

  it("refuses a row that is not the query's, naming the column", () => {
    expect(() => checkConnectionLimit(8, { role_limit: 'x' })).toThrow(/role_limit/);
  });
});
