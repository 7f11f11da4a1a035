import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { administrations, demoCredentials } from '../../src/db/index.js';
import { loadEnv } from '../../src/env.js';
import { defaultWebRoot } from '../../src/server/app-server.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';
import { vetmedClient } from '../app/app-client.js';
import { launchChromium } from './chromium.js';
import { watchPageProblems } from './page-problems.js';

/** Where the suite's app runs: the environment that picks its database. */
export interface WebUiTarget {
  env: Record<string, string>;
  /**
   * The fewest slots a burst of concurrent reads must be seen holding at once. PGlite runs each query
   * inside the app's process within one turn of the event loop, and its one connection takes them one
   * at a time: 1 there.
   */
  burstSlots: number;
}

export interface WebUiSuiteOptions {
  /**
   * Also run the tests of the client alone (an answer lost on the way back and a reload, invalid
   * input, the household's other pages): they do not depend on the database, so one database runs
   * them, and the browser tests stay within their time.
   */
  clientTests: boolean;
}

export const adminToken = 'browser-tests-admin-token';
/** How long a breaker the tests open stays open before it lets a probe through. */
const breakerOpenMs = 2000;

/** The built client must exist: `pnpm test` builds before testing (turbo's `test` depends on `build`). */
function environment(target: WebUiTarget): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'true',
    ADMIN_TOKEN: adminToken,
    CIRCUIT_TIMEOUT_MS: String(breakerOpenMs),
    // Every test signs in from 127.0.0.1, and the burst comes from one user: the limits are not under test.
    RATE_LIMIT_AUTH_MAX: '10000',
    RATE_LIMIT_API_MAX: '1000000',
    RATE_LIMIT_RECORDING_MAX: '10000',
    // Load shedding reads this process's event loop, which a browser and a busy test machine share:
    // it has its own test (test/load-shedding.test.ts) and is not what these pages are about.
    LOAD_SHEDDING: 'off',
    ...target.env,
  };
}

/** The web UI in a real browser (Chromium through playwright-core) against the real app. */
export function describeWebUi(name: string, getTarget: () => WebUiTarget, options: WebUiSuiteOptions): void {
  describe(`the web UI in Chromium, VetMed on ${name}`, () => {
    let app: RunningVetmed;
    let browser: Browser;
    let context: BrowserContext;

    beforeAll(async () => {
      if (!existsSync(join(defaultWebRoot, 'index.html')))
        throw new Error(
          `The web client is not built (no ${defaultWebRoot}index.html): \`pnpm test\` builds it first; alone, run \`pnpm --filter @db-safeguards/vetmed build\`.`,
        );
      [app, browser] = await Promise.all([
        startVetmed(loadEnv(environment(getTarget())), { log: createLogger('silent') }),
        launchChromium(),
      ]);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await app?.stop();
    });

    /** What must not happen on the current test's pages (uncaught errors, CSP refusals). */
    let pageProblems: () => string[] = () => [];

    // A test that fails half way leaves no breaker open and nothing paused for the next; no page may
    // have had a problem.
    afterEach(async () => {
      await admin('/api/admin/circuit-breaker/reset');
      await admin('/api/admin/queue/resume');
      expect(pageProblems()).toEqual([]);
    });

    /** A fresh browser profile (its own localStorage and sessionStorage), signed in or not. */
    async function newPage(
      storageState?: Awaited<ReturnType<BrowserContext['storageState']>>,
    ): Promise<Page> {
      await context?.close();
      context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        acceptDownloads: true,
        ...(storageState ? { storageState } : {}),
      });
      const page = await context.newPage();
      pageProblems = watchPageProblems(page);
      return page;
    }

    /** The signed-in demo owner's storage (its session), from the first sign-in through the page. */
    let signedInState: Awaited<ReturnType<BrowserContext['storageState']>> | undefined;

    /**
     * A fresh browser profile (no pending doses: their localStorage is per profile), signed in as the demo
     * owner: through the sign-in page the first time, then with the session that sign-in stored.
     */
    async function signedIn(): Promise<Page> {
      const page = await newPage(signedInState);
      await page.goto(app.url);
      if (!signedInState) {
        await page.getByLabel('Email').fill(demoCredentials.email);
        await page.getByLabel('Password').fill(demoCredentials.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }
      await page.getByRole('heading', { name: 'Your households' }).waitFor();
      signedInState ??= await context.storageState();
      return page;
    }

    async function openBiscuit(page: Page): Promise<Locator> {
      await page.getByRole('link', { name: 'Biscuit' }).first().click();
      await page.getByRole('heading', { name: 'Dose history' }).waitFor();
      const card = page.getByRole('listitem', { name: 'Carprofen 75 mg' });
      await card.locator('.stock-quantity').waitFor();
      await page.getByRole('table').or(page.getByText('No doses recorded yet.')).first().waitFor();
      return card;
    }

    const stockOf = async (card: Locator) => Number(await card.locator('.stock-quantity').textContent());

    /** Opens the regimen's form and fills its notes with `note`; returns the form's submit button. */
    async function fillDose(card: Locator, note: string): Promise<Locator> {
      await card.getByRole('button', { name: 'Record dose' }).click();
      await card.getByLabel('Notes').fill(note);
      return card.getByRole('button', { name: 'Record dose' });
    }

    /** Doses stored with this note, counted in the database itself. */
    async function dosesWithNote(note: string): Promise<number> {
      const [row] = await app.database.db
        .select({ count: sql<number>`count(*)::int` })
        .from(administrations)
        .where(eq(administrations.notes, note));
      return Number(row?.count ?? 0);
    }

    const admin = (path: string) =>
      fetch(`${app.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });

    it('signs in with the demo account, records a dose, shows it in the history and the stock down by one', async () => {
      const page = await signedIn();
      const card = await openBiscuit(page);
      const before = await stockOf(card);
      const note = `given in the browser ${randomUUID().slice(0, 8)}`;
      await (await fillDose(card, note)).click();
      await expect.poll(() => card.getByRole('status').textContent()).toMatch(/^Recorded 1 tablet at /);
      await page.getByRole('row', { name: new RegExp(note) }).waitFor();
      await expect.poll(() => stockOf(card)).toBe(before - 1);
      expect(await dosesWithNote(note)).toBe(1);
    });

    it('records one dose for a double click on Record dose', async () => {
      const page = await signedIn();
      const card = await openBiscuit(page);
      const before = await stockOf(card);
      const note = `double click ${randomUUID().slice(0, 8)}`;
      await (await fillDose(card, note)).dblclick();
      await expect.poll(() => card.getByRole('status').textContent()).toMatch(/^Recorded 1 tablet at /);
      await page.getByRole('row', { name: new RegExp(note) }).waitFor();
      await expect.poll(() => stockOf(card)).toBe(before - 1);
      expect(await dosesWithNote(note)).toBe(1);
      await expect.poll(() => page.getByRole('row', { name: new RegExp(note) }).count()).toBe(1);
    });

    // Not registered at all on the other database: nothing is reported as skipped.
    const clientIt = options.clientTests ? it : () => undefined;

    clientIt(
      'keeps a dose’s key when its answer is lost and across a reload: one dose, however many sends',
      async () => {
        const page = await signedIn();
        const card = await openBiscuit(page);
        const before = await stockOf(card);
        const note = `answer lost ${randomUUID().slice(0, 8)}`;
        const keys: string[] = [];
        // The server records the dose, then the connection drops before the browser reads the answer.
        await page.route('**/api/trpc/*administrations.record*', async (route) => {
          keys.push(String(JSON.parse(route.request().postData() ?? '{}')['0']?.json?.idempotencyKey));
          await route.fetch();
          await route.abort('connectionreset');
        });
        await (await fillDose(card, note)).click();
        await expect.poll(() => keys.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
        await expect.poll(() => dosesWithNote(note)).toBe(1);
        // While no answer arrives, the page says it keeps trying, and how soon.
        await expect
          .poll(() => card.getByRole('alert').textContent())
          .toMatch(/We couldn't reach VetMed\..*(Trying again in \d+ s|Trying again…)/);
        await page.reload();
        await page.unroute('**/api/trpc/*administrations.record*');
        const reloaded = page.getByRole('listitem', { name: 'Carprofen 75 mg' });
        await expect
          .poll(() => reloaded.getByRole('status').textContent(), { timeout: 15_000 })
          .toMatch(/^Recorded 1 tablet at /);
        expect(new Set(keys).size).toBe(1);
        expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
        const [row] = await app.database.db
          .select({ key: administrations.idempotencyKey })
          .from(administrations)
          .where(and(eq(administrations.notes, note)));
        expect(row?.key).toBe(keys[0]);
        expect(await dosesWithNote(note)).toBe(1);
        await expect.poll(() => stockOf(reloaded)).toBe(before - 1);
      },
    );

    clientIt('shows an invalid amount’s own message and the error ID, and records nothing', async () => {
      const page = await signedIn();
      const card = await openBiscuit(page);
      const note = `too precise ${randomUUID().slice(0, 8)}`;
      const submit = await fillDose(card, note);
      await card.getByLabel('Amount (tablet)').fill('0.33333');
      await submit.click();
      const alert = card.getByRole('alert');
      await expect.poll(() => alert.textContent()).toMatch(/Amount: Expected at most 4 decimal places/);
      expect(await alert.textContent()).toMatch(/Error ID: [\w-]+ \(quote it/);
      expect(await dosesWithNote(note)).toBe(0);
    });

    it('shows the friendly message and a countdown while a breaker is open, then records the dose by itself', async () => {
      const page = await signedIn();
      const card = await openBiscuit(page);
      const before = await stockOf(card);
      const note = `during a breaker drill ${randomUUID().slice(0, 8)}`;
      const submit = await fillDose(card, note);
      expect((await admin('/api/admin/circuit-breaker/open?name=primary')).status).toBe(200);
      const openedAt = Date.now();
      await submit.click();
      const alert = card.getByRole('alert');
      await expect
        .poll(() => alert.textContent())
        .toMatch(/Changes are paused for a moment while we recover\..*Trying again in \d s/);
      // The app-wide notice says so too, and nothing shows the server's own wording.
      await expect.poll(() => page.locator('.banner').textContent()).toMatch(/paused|recovering/);
      expect(await page.locator('body').textContent()).not.toMatch(/circuit breaker "|read-only mode \(/);
      await expect
        .poll(() => card.getByRole('status').textContent(), { timeout: 20_000 })
        .toMatch(/^Recorded 1 tablet at /);
      expect(Date.now() - openedAt).toBeGreaterThanOrEqual(breakerOpenMs - 500);
      expect(await dosesWithNote(note)).toBe(1);
      await expect.poll(() => stockOf(card)).toBe(before - 1);
      await expect.poll(() => page.locator('.banner').count()).toBe(0);
    });

    clientIt('signs a new person up, who creates a household and adds an animal', async () => {
      const page = await newPage();
      await page.goto(`${app.url}/sign-up`);
      await page.getByLabel('Your name').fill('Robin');
      await page.getByLabel('Email').fill(`robin-${randomUUID().slice(0, 8)}@example.test`);
      await page.getByLabel('Password').fill('a long enough password');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByText('You are not in a household yet.').waitFor();
      await page.getByLabel('New household name').fill('Robin’s home');
      await page.getByRole('button', { name: 'Create household' }).click();
      await page.getByRole('link', { name: 'Robin’s home' }).click();
      await page.getByLabel("Animal's name").fill('Juniper');
      await page.getByLabel('Species').fill('cat');
      await page.getByRole('button', { name: 'Add animal' }).click();
      await page.getByRole('link', { name: 'Juniper' }).click();
      await page.getByRole('heading', { name: 'Juniper' }).waitFor();
      await page.getByText('No medications prescribed.').waitFor();
      await page.getByText('No doses recorded yet.').waitFor();
    });

    clientIt(
      'adjusts stock, shows adherence, and exports doses as CSV that imports again without adding any',
      async () => {
        const page = await signedIn();
        await page.getByRole('link', { name: 'Demo Household' }).click();
        await page.getByRole('link', { name: 'Inventory' }).click();

        const carprofen = page.getByRole('row', { name: /^Carprofen/ });
        await carprofen.getByText(/^\d+ tablet/).waitFor();
        const before = Number((await carprofen.getByText(/^\d+ tablet/).textContent())?.split(' ')[0]);
        await carprofen.getByLabel(/^Change/).fill('10');
        await carprofen.getByRole('button', { name: 'Adjust' }).click();
        await expect
          .poll(async () => Number((await carprofen.getByText(/^\d+ tablet/).textContent())?.split(' ')[0]))
          .toBe(before + 10);

        await page.getByRole('link', { name: 'Reports' }).click();
        await page.getByRole('row', { name: /Biscuit Carprofen/ }).waitFor();
        const download = page.waitForEvent('download');
        await page.getByRole('button', { name: 'Download CSV' }).click();
        const csv = readFileSync((await (await download).path())!, 'utf8');
        const lines = csv.trim().split('\n');
        expect(lines[0]).toBe('recorded_at,animal,medication,dose_amount,dose_unit,notes,idempotency_key');
        expect(lines.length).toBeGreaterThan(1);

        // The exported file imports again: every row is already there (its idempotency key says so).
        await page.getByRole('link', { name: 'Import doses' }).click();
        await page.getByLabel('CSV file of past doses').setInputFiles({
          name: 'export.csv',
          mimeType: 'text/csv',
          buffer: Buffer.from(csv),
        });
        const count = lines.length - 1;
        await page.getByRole('button', { name: `Import ${count} ${count === 1 ? 'dose' : 'doses'}` }).click();
        await page.getByText(`Imported 0 of ${count} doses; ${count} were already there.`).waitFor();

        // A typed-up paper log without keys: imported once, then recognised by its content.
        // Two days ago: after the demo regimens' start (a month back), before now.
        const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
        const paperLog = [
          'recorded_at,animal,medication,dose_amount,dose_unit,notes',
          `${day}T08:00:00Z,Biscuit,Carprofen,1,tablet,from the paper log`,
          `${day}T09:00:00Z,Nobody,Carprofen,1,tablet,`,
        ].join('\n');
        for (const expected of [
          'Imported 1 of 1 doses; 0 were already there.',
          'Imported 0 of 1 doses; 1 were already there.',
        ]) {
          await page.getByLabel('CSV file of past doses').setInputFiles({
            name: 'paper-log.csv',
            mimeType: 'text/csv',
            buffer: Buffer.from(paperLog),
          });
          await page.getByText('Line 3: no medication "Carprofen" prescribed for "Nobody".').waitFor();
          await page.getByRole('button', { name: 'Import 1 dose' }).click();
          await page.getByText(expected).waitFor();
        }
      },
    );

    clientIt('pauses and resumes priorities from the dashboard, each after a confirmation', async () => {
      const page = await newPage();
      await page.goto(`${app.url}/dashboard`);
      await page.getByLabel('Admin token').fill(adminToken);
      await page.getByRole('button', { name: 'Open dashboard' }).click();
      const controls = page.getByRole('region', { name: 'Emergency controls' });
      await controls.getByText('Every priority is running.').waitFor();

      // Cancel changes nothing.
      await controls.getByRole('button', { name: 'Pause everything' }).click();
      const dialog = page.getByRole('dialog', { name: /Pause every priority\?/ });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => dialog.isVisible()).toBe(false);
      expect(app.safeguards.queue.stats().paused).toEqual([]);

      await controls.getByRole('button', { name: 'Pause BATCH and LOW' }).click();
      await page
        .getByRole('dialog', { name: /Pause bulk imports and reports\?/ })
        .getByRole('button', { name: 'Pause BATCH and LOW' })
        .click();
      await controls.getByText('Paused: LOW, BATCH.').waitFor();
      expect(app.safeguards.queue.stats().paused).toEqual(['LOW', 'BATCH']);
      await page.getByRole('row', { name: /^BATCH \(paused\)/ }).waitFor();

      await controls.getByRole('button', { name: 'Resume all' }).click();
      await page
        .getByRole('dialog', { name: 'Resume every priority?' })
        .getByRole('button', { name: 'Resume all' })
        .click();
      await controls.getByText('Every priority is running.').waitFor();
      expect(app.safeguards.queue.stats().paused).toEqual([]);
      // A closed breaker has nothing to reset.
      expect(await controls.getByRole('button', { name: 'Reset primary' }).isDisabled()).toBe(true);
    });

    it('shows the slots in use during a burst on the live dashboard', async () => {
      const page = await newPage();
      await page.goto(`${app.url}/dashboard`);
      await page.getByLabel('Admin token').fill(adminToken);
      await page.getByRole('button', { name: 'Open dashboard' }).click();
      await page.getByRole('heading', { name: 'Connection budget' }).waitFor();
      // The most slots held during the last second (the sampler's reading), those held now, and the
      // database operations done in the last second.
      const peak = page.locator('.slots-peak');
      const now = page.locator('.slots-in-use');
      const operations = page.locator('.operations-last-second');
      const read = async (locator: Locator) => Number(await locator.textContent());
      // Idle first: at most the health probe's query in a second (the dashboard's only database work).
      await expect.poll(() => read(operations), { timeout: 5000 }).toBeLessThanOrEqual(2);

      const { token } = await vetmedClient(app.url).auth.signIn.mutate(demoCredentials);
      const client = vetmedClient(app.url, { token });
      const animalId = '00000000-0000-4000-8000-000000000020';
      let bursting = true;
      const worker = async () => {
        while (bursting)
          await client.administrations.history.query({ animalId, limit: 50 }).catch(() => undefined);
      };
      const burst = Promise.all(Array.from({ length: 48 }, worker));
      const slots: number[] = [];
      const done: number[] = [];
      try {
        await expect
          .poll(
            async () => {
              slots.push(await read(peak), await read(now));
              done.push(await read(operations));
              return Math.max(...slots) >= getTarget().burstSlots && Math.max(...done) >= 10;
            },
            { timeout: 10_000, interval: 250 },
          )
          .toBe(true);
      } finally {
        bursting = false;
        await burst;
      }
      expect(Math.max(...slots)).toBeLessThanOrEqual(8);
      expect(await page.getByRole('row', { name: /^NORMAL/ }).count()).toBe(1);
      // Once the burst is over, a second later the dashboard is back to idle.
      await expect.poll(() => read(operations), { timeout: 5000 }).toBeLessThanOrEqual(2);
    });
  });
}
