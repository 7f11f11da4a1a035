import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Priority } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import { eq, sql } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { administrations, demoCredentials, demoIds } from '../../src/db/index.js';
import { loadEnv } from '../../src/env.js';
import { defaultWebRoot } from '../../src/server/app-server.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';
import { launchChromium } from './chromium.js';
import { watchPageProblems } from './page-problems.js';

// The web client while PostgreSQL is down, in a real Chromium: a real server stopped under the app,
// and a real redis-server holding the dose accepted for later.
let server: TestPostgres;
let redis: TestRedis;
let app: RunningVetmed;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(defaultWebRoot, 'index.html')))
    throw new Error(
      `The web client is not built (no ${defaultWebRoot}index.html): run \`pnpm --filter @db-safeguards/vetmed build\`.`,
    );
  [server, redis, browser] = await Promise.all([
    startTestPostgres({ appRoleConnectionLimit: 8 }),
    startTestRedis({ appendOnly: true, externalUrl: false }),
    launchChromium(),
  ]);
  app = await startVetmed(
    loadEnv({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      SEED_DEMO: 'true',
      DATABASE_URL: server.appUrl,
      DB_DRIVER: 'postgres',
      REDIS_URL: redis.url,
      CIRCUIT_TIMEOUT_MS: '2000',
      RATE_LIMIT_AUTH_MAX: '10000',
    }),
    { log: createLogger('silent') },
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await redis?.stop();
  await server?.stop();
});

describe('the web UI in Chromium while PostgreSQL is down (REDIS_URL set)', () => {
  it('shows the history as "Showing data from …", a dose as saved for later with its receipt pending, then recorded once the database is back', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPageProblems(page);
    await page.goto(app.url);
    await page.getByLabel('Email').fill(demoCredentials.email);
    await page.getByLabel('Password').fill(demoCredentials.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // On failure, what the page said instead.
    await page
      .getByRole('heading', { name: 'Your households' })
      .waitFor({ timeout: 15_000 })
      .catch(async (error) => {
        throw new Error(`${error}\n${await page.locator('body').textContent()}`);
      });
    await page.getByRole('link', { name: 'Biscuit' }).first().click();
    await page.getByRole('heading', { name: 'Dose history' }).waitFor();
    const card = page.getByRole('listitem', { name: 'Carprofen 75 mg' });
    await card.locator('.stock-quantity').waitFor();
    await page.getByRole('table').or(page.getByText('No doses recorded yet.')).first().waitFor();
    expect(await page.locator('.stale-note').count()).toBe(0);

    const note = `during the outage ${randomUUID().slice(0, 8)}`;
    await server.stopServer();
    try {
      await card.getByRole('button', { name: 'Record dose' }).click();
      await card.getByLabel('Notes').fill(note);
      await card.getByRole('button', { name: 'Record dose' }).click();
      const saved = card.locator('[data-receipt-state]');
      await expect.poll(() => saved.getAttribute('data-receipt-state'), { timeout: 20_000 }).toBe('pending');
      expect(await saved.textContent()).toMatch(
        /^Saved for later: 1 tablet given at .+ you don't need to record it again\.$/,
      );
      // The history, asked again, is the server's last good copy, and says from when.
      await expect
        .poll(() => page.locator('.stale-note').textContent(), { timeout: 20_000 })
        .toMatch(/^Showing data from \d{1,2}:\d{2}( [AP]M)?: it may be out of date/);
      expect(await dosesWithNote(note).catch(() => 'database down')).toBe('database down');
    } finally {
      await server.startServer();
    }
    // Back: the worker records it, the receipt says so, the history is fresh and has it once.
    const saved = card.locator('[data-receipt-state]');
    await expect.poll(() => saved.getAttribute('data-receipt-state'), { timeout: 30_000 }).toBe('applied');
    expect(await saved.textContent()).toMatch(
      /^Recorded 1 tablet given at .+\(saved while VetMed could not reach its database\)\.$/,
    );
    await page.getByRole('row', { name: new RegExp(note) }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('.stale-note').count(), { timeout: 20_000 }).toBe(0);
    expect(await dosesWithNote(note)).toBe(1);
    expect(problems()).toEqual([]);
    await context.close();
  }, 120_000);
});

describe('the web UI in Chromium: a partial household page', () => {
  it('shows the household at a glance without its weekly summary when that part cannot load, and says why', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPageProblems(page);
    await page.goto(app.url);
    await page.getByLabel('Email').fill(demoCredentials.email);
    await page.getByLabel('Password').fill(demoCredentials.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your households' }).waitFor({ timeout: 15_000 });
    // LOW work held back (as from the dashboard under load): the summary, a LOW part, gives up at its
    // own deadline; the rest of the page is answered.
    app.safeguards.pause([Priority.LOW]);
    try {
      await page.goto(`${app.url}/households/${demoIds.household}`);
      const missing = page.locator('[data-missing-part="adherence"]');
      await missing.waitFor({ timeout: 20_000 }).catch(async (error) => {
        throw new Error(`${error}\n${await page.locator('body').textContent()}`);
      });
      expect(await missing.textContent()).toMatch(/^This week's summary is not available right now: .{10,}/);
      expect(await page.getByText(/^(No medication is running low\.|Running low: .+)$/).count()).toBe(1);
      expect(await page.getByRole('list', { name: 'Doses this week' }).count()).toBe(0);
      expect(await page.getByRole('link', { name: 'Biscuit' }).count()).toBeGreaterThan(0);
    } finally {
      app.safeguards.resume([Priority.LOW]);
    }
    expect(problems()).toEqual([]);
    await context.close();
  }, 60_000);
});

async function dosesWithNote(note: string): Promise<number> {
  const [row] = await app.database.db
    .select({ count: sql<number>`count(*)::int` })
    .from(administrations)
    .where(eq(administrations.notes, note));
  return Number(row?.count ?? 0);
}
