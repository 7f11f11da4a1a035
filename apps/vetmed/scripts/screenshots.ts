/**
 * Regenerates the README's screenshots (`pnpm screenshots` at the repository root): the sample app on
 * a throwaway PostgreSQL (its app role limited to 8 connections), Chromium through playwright-core.
 *
 *   docs/screenshots/animal-page.png      an animal's page after recording a dose
 *   docs/screenshots/breaker-drill.png    the same page while a breaker is open (a drill)
 *   docs/screenshots/dashboard-load.png   the operator dashboard during a burst of mixed traffic
 *
 * Needs the web client built (the root script builds it first).
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestPostgres } from '@db-safeguards/test-postgres';
import type { Page } from 'playwright-core';
import { demoCredentials, demoIds } from '../src/db/index.js';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { startVetmed } from '../src/start-vetmed.js';
import { vetmedClient } from '../test/app/app-client.js';
import { launchChromium } from '../test/browser/chromium.js';

const outDir = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const adminToken = `screenshots-${Math.random().toString(36).slice(2)}-token`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email').fill(demoCredentials.email);
  await page.getByLabel('Password').fill(demoCredentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Biscuit' }).first().click();
  await page.getByRole('heading', { name: 'Dose history' }).waitFor();
}

async function recordDose(page: Page, note: string): Promise<void> {
  const card = page.getByRole('listitem', { name: 'Carprofen 75 mg' });
  await card.getByRole('button', { name: 'Record dose' }).click();
  await card.getByLabel('Notes').fill(note);
  await card.getByRole('button', { name: 'Record dose' }).click();
}

/**
 * Mixed traffic from `users` virtual users, each one call after another: histories (NORMAL), doses
 * (HIGH), adherence reports (LOW) and small imports (BATCH), as a day's peak might bring.
 */
function startTraffic(url: string, token: string, users: number) {
  const client = vetmedClient(url, { token });
  let running = true;
  let calls = 0;
  const { animals, regimens, household } = demoIds;
  const user = async (index: number) => {
    for (let i = 0; running; i++) {
      const pick = (index + i) % 10;
      const call =
        pick < 6
          ? client.administrations.history.query({ animalId: animals.biscuit, limit: 50 })
          : pick < 8
            ? client.administrations.record.mutate({
                regimenId: regimens.methimazole,
                idempotencyKey: `screenshot-load-${index}-${i}-${Date.now()}`,
              })
            : pick < 9
              ? client.reports.adherence.query({ householdId: household, days: 30 })
              : client.imports.administrations.mutate({
                  householdId: household,
                  rows: Array.from({ length: 50 }, (_, row) => ({
                    regimenId: regimens.otic,
                    idempotencyKey: `screenshot-import-${index}-${i}-${row}`,
                    recordedAt: new Date(Date.now() - (row + 1) * 3_600_000),
                  })),
                });
      await call.catch(() => undefined);
      calls++;
    }
  };
  const all = Promise.all(Array.from({ length: users }, (_, index) => user(index)));
  return {
    async stop() {
      running = false;
      await all;
      return calls;
    },
  };
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const server = await startTestPostgres({ appRoleConnectionLimit: 8 });
  const config = loadEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: server.appUrl,
    DB_DRIVER: 'postgres',
    SEED_DEMO: 'true',
    ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'silent',
    CIRCUIT_TIMEOUT_MS: '20000',
    // One demo user makes all the traffic: the limits per user are not what the pictures show.
    RATE_LIMIT_API_MAX: '1000000',
    RATE_LIMIT_RECORDING_MAX: '1000000',
    RATE_LIMIT_REPORTS_MAX: '1000000',
    RATE_LIMIT_HEAVY_MAX: '1000000',
    RATE_LIMIT_AUTH_MAX: '1000',
  });
  const app = await startVetmed(config, { log: createLogger('silent') });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, app.url);
    await recordDose(page, 'Ate all his dinner.');
    await page.getByText(/^Recorded 1 tablet at /).waitFor();
    await page.getByRole('row', { name: /Ate all his dinner/ }).waitFor();
    await page.screenshot({ path: `${outDir}animal-page.png`, fullPage: true });
    console.log('animal-page.png');

    // A breaker drill: what a caregiver sees while the database is treated as down.
    const drill = await fetch(`${app.url}/api/admin/circuit-breaker/open?name=primary`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    if (!drill.ok) throw new Error(`the breaker drill answered ${drill.status}`);
    await recordDose(page, 'Given during the drill.');
    await page.getByText(/Trying again in \d+ s/).waitFor();
    await page.locator('.banner').waitFor();
    await sleep(1500);
    await page.screenshot({ path: `${outDir}breaker-drill.png`, fullPage: true });
    console.log('breaker-drill.png');
    await fetch(`${app.url}/api/admin/circuit-breaker/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    await page.getByText(/^Recorded 1 tablet at /).waitFor({ timeout: 30_000 });

    // The dashboard during a burst: quiet for a few seconds, then mixed traffic, so the charts show both.
    const dashboard = await context.newPage();
    await dashboard.setViewportSize({ width: 1440, height: 900 });
    await dashboard.goto(`${app.url}/dashboard`);
    await dashboard.getByLabel('Admin token').fill(adminToken);
    await dashboard.getByRole('button', { name: 'Open dashboard' }).click();
    await dashboard.getByRole('heading', { name: 'Connection budget' }).waitFor();
    await sleep(8000);
    const { token } = await vetmedClient(app.url).auth.signIn.mutate(demoCredentials);
    const traffic = startTraffic(app.url, token, 120);
    await sleep(25_000);
    await dashboard.screenshot({ path: `${outDir}dashboard-load.png`, fullPage: true });
    const calls = await traffic.stop();
    console.log(`dashboard-load.png (${calls} calls in the burst)`);
    await context.close();
  } finally {
    await browser.close();
    await app.stop();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
