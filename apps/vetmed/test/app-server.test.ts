import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSafeguards } from '@db-safeguards/core';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { startVetmed } from '../src/start-vetmed.js';
import { withTokenPolicy } from '../src/trpc/token-policy.js';
import { failure, vetmedClient } from './app/app-client.js';
import { sharedPglite } from './support/shared-pglite.js';

// startAppServer called directly, with safeguards its caller made: the path that skips startVetmed.
// One in-memory PGlite for the file; each server gets its own safeguards and a database bound to them.
const shared = sharedPglite();

/** Starts a server on `safeguards` and a database bound to them; both are closed after the file. */
const serve = shared.serve;

describe('startAppServer with its caller’s own safeguards', () => {
  it('refuses, at start, safeguards without the token policy the sign-in middleware charges', async () => {
    await expect(serve(createSafeguards())).rejects.toThrow(/no "token" rate-limit policy.*withTokenPolicy/);
  });

  it('answers unknown tokens with 401, then 429 past the limit, on safeguards made from loadEnv or withTokenPolicy', async () => {
    const cases = [
      { options: loadEnv({}).safeguards, limit: 20 },
      { options: withTokenPolicy({ rateLimits: { adaptive: false } }, 2), limit: 2 },
    ];
    for (const { options, limit } of cases) {
      const app = await serve(createSafeguards(options));
      const statuses: Array<number | undefined> = [];
      for (let i = 0; i <= limit; i++) {
        const client = vetmedClient(app.url, { token: `unknown-${i}-${'u'.repeat(30)}` });
        statuses.push((await failure(client.auth.me.query())).status);
      }
      expect(statuses).toEqual([...Array(limit).fill(401), 429]);
    }
  });

  // `ss` shows a listening socket's backlog as its Send-Q (Linux only).
  it.runIf(process.platform === 'linux')(
    'listens with an accept queue of 4096 (capped by net.core.somaxconn), not Node’s 511: a surge of new connections is queued, not dropped into 1 s SYN retransmissions',
    async () => {
      const app = await serve(createSafeguards(loadEnv({}).safeguards));
      const port = new URL(app.url).port;
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
      const backlog = Number(line.split(/\s+/)[2]);
      expect(backlog).toBe(Math.min(4096, somaxconn));
    },
  );

  it('keeps /metrics off without a metrics or admin token, and serves it to the metrics token', async () => {
    const off = await serve(createSafeguards(loadEnv({}).safeguards));
    const refused = await fetch(`${off.url}/metrics`);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual({ error: expect.stringMatching(/set METRICS_TOKEN/) });
    const token = 'scrape-token-0123456789';
    const on = await serve(createSafeguards(loadEnv({}).safeguards), { metricsToken: token });
    expect((await fetch(`${on.url}/metrics`)).status).toBe(401);
    const scraped = await fetch(`${on.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toContain('db_safeguards_connections_max');
    // The effective limit (issue 14): the budget until a load signal lowers it.
    expect(text).toContain('db_safeguards_connections_limit 8');
    // Admin routes stay off: the metrics token is not an admin token.
    expect(
      (await fetch(`${on.url}/api/health?detailed=true`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(404);
  });
});

describe('startVetmed', () => {
  it('refuses a configuration whose safeguards lost the token policy, with the reason', async () => {
    const config = loadEnv({ PORT: '0', PGLITE_DATA_DIR: 'memory://', SEED_DEMO: 'false' });
    config.safeguards = { rateLimits: { adaptive: false } };
    await expect(startVetmed(config, { log: createLogger('silent') })).rejects.toThrow(
      /no "token" rate-limit policy/,
    );
  });
});
