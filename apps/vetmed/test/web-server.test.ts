import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { createSafeguards, Priority, type Safeguards } from '@db-safeguards/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/index.js';
import { loadEnv } from '../src/env.js';
import {
  type AppServer,
  type AppServerOptions,
  defaultWebRoot,
  startAppServer,
} from '../src/server/app-server.js';
import type { DashboardSnapshot } from '../src/server/dashboard-types.js';
import { createLogger } from '../src/server/logger.js';
import { sharedPglite } from './support/shared-pglite.js';

// The app's own server serving a built web client (a small fixture build here, the real build at the
// end), and the operator dashboard's endpoint. One in-memory PGlite for the file.
const adminToken = 'admin-token-for-web-tests';
const admin = { authorization: `Bearer ${adminToken}` };
const shared = sharedPglite();
let webRoot: string;
const script = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

beforeAll(() => {
  webRoot = mkdtempSync(join(tmpdir(), 'vetmed-web-'));
  mkdirSync(join(webRoot, 'assets'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>VetMed</title><div id="root"></div>');
  writeFileSync(join(webRoot, 'assets', 'index-Ab12Cd34.js'), script);
  // The compressed copies the build writes (web/precompress-plugin.ts); the CSS file has none.
  writeFileSync(join(webRoot, 'assets', 'index-Ab12Cd34.js.br'), brotliCompressSync(script));
  writeFileSync(join(webRoot, 'assets', 'index-Ab12Cd34.js.gz'), gzipSync(script));
  writeFileSync(join(webRoot, 'assets', 'index-Ef56Gh78.css'), `body{color:red}${' '.repeat(2000)}`);
  writeFileSync(join(webRoot, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
}, 60_000);

afterAll(() => {
  rmSync(webRoot, { recursive: true, force: true });
});

async function serve(options: Partial<AppServerOptions> = {}, safeguards?: Safeguards) {
  const own = safeguards ?? createSafeguards(loadEnv({}).safeguards);
  shared.opened.push(() => own.close());
  const database = await createDatabase({
    config: { driver: 'pglite' },
    pglite: shared.pglite,
    safeguards: own,
  });
  shared.opened.push(() => database.close());
  const app = await startAppServer({
    database,
    safeguards: own,
    log: createLogger('silent'),
    port: 0,
    host: '127.0.0.1',
    adminToken,
    requestTimeoutMs: 5000,
    bodyLimitBytes: 65_536,
    webRoot,
    ...options,
  });
  shared.opened.push(() => app.drain(0));
  return { app, safeguards: own };
}

/** A raw GET (fetch would decompress the body and hide the encoding). */
function rawGet(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web client, served by the app', () => {
  let app: AppServer;
  beforeAll(async () => {
    ({ app } = await serve());
  });

  it('answers / and every client route with the page, its security headers, revalidated on each visit', async () => {
    for (const path of ['/', '/animals/00000000-0000-4000-8000-000000000020', '/dashboard', '/sign-in/']) {
      const response = await rawGet(`${app.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.body.toString()).toContain('<div id="root">');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('DENY');
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
    }
  });

  it('serves hashed assets for a year, in the build’s compressed copies as the client accepts, with their content type', async () => {
    const url = `${app.url}/assets/index-Ab12Cd34.js`;
    const plain = await rawGet(url);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(script);
    const brotli = await rawGet(url, { 'accept-encoding': 'gzip, deflate, br' });
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.headers.vary).toBe('accept-encoding');
    expect(brotliDecompressSync(brotli.body).toString()).toBe(script);
    expect(brotli.body.length).toBeLessThan(script.length / 10);
    const gzip = await rawGet(url, { 'accept-encoding': 'gzip;q=1, br;q=0' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.body).toString()).toBe(script);
    // Without copies, the file as it is; the copies themselves are not files of the site.
    const css = await rawGet(`${app.url}/assets/index-Ef56Gh78.css`, { 'accept-encoding': 'br, gzip' });
    expect(css.headers['content-encoding']).toBeUndefined();
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await rawGet(`${app.url}/assets/index-Ab12Cd34.js.br`)).status).toBe(404);
    const svg = await rawGet(`${app.url}/favicon.svg`);
    expect(svg.headers['content-type']).toBe('image/svg+xml');
    expect(svg.headers['cache-control']).toBe('no-cache');
  });

  it('answers a repeated request with 304 by ETag, and HEAD without a body', async () => {
    const first = await rawGet(`${app.url}/`);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await rawGet(`${app.url}/`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const head = await rawGet(`${app.url}/`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(first.body.length);
  });

  it('never answers an API path, a missing file or another method with the page', async () => {
    for (const path of [
      '/api',
      '/api/nope',
      '/api/trpc',
      '/assets/missing-123.js',
      '/assets/nested',
      '/favicon.ico',
      '/..%2fpackage.json',
      '/%2e%2e/%2e%2e/package.json',
      '/index.html/..%2f..%2fsrc%2fenv.ts',
    ]) {
      const response = await rawGet(`${app.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers['content-type'], path).toBe('application/json; charset=utf-8');
      expect(JSON.parse(response.body.toString()).error.userFriendly.type, path).toBe('NOT_FOUND');
    }
    const post = await fetch(`${app.url}/`, { method: 'POST' });
    expect(post.status).toBe(404);
    // Admin paths answer as admin routes (here: who are you?), never as the page.
    const adminPath = await rawGet(`${app.url}/api/admin/nope`);
    expect(adminPath.status).toBe(401);
    expect(adminPath.headers['content-type']).toBe('application/json; charset=utf-8');
    // /metrics keeps its own answer (off without a token here, not the page).
    const metrics = await rawGet(`${app.url}/metrics`);
    expect(metrics.status).toBe(401);
  });

  it('labels the web client’s requests "web" in the metrics, never by path', async () => {
    await rawGet(`${app.url}/animals/some-animal`);
    await rawGet(`${app.url}/assets/index-Ab12Cd34.js`);
    const scrape = await (await fetch(`${app.url}/metrics`, { headers: admin })).text();
    expect(scrape).toMatch(/http_requests_total\{method="GET",route="web",status="200"\} \d+/);
    expect(scrape).not.toContain('some-animal');
    expect(scrape).not.toContain('index-Ab12Cd34');
  });

  it('answers / with a JSON index of the API when no client is built', async () => {
    const { app: bare } = await serve({ webRoot: join(webRoot, 'not-built') });
    const response = await fetch(`${bare.url}/`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      api: '/api/trpc',
      web: expect.stringMatching(/not built/),
    });
    expect((await fetch(`${bare.url}/animals/x`)).status).toBe(404);
  });
});

describe('GET /api/admin/dashboard', () => {
  it('is for the admin only: 404 while admin routes are off, 401 without the token', async () => {
    const { app: off } = await serve({ adminToken: undefined });
    expect((await fetch(`${off.url}/api/admin/dashboard`)).status).toBe(404);
    const { app } = await serve();
    expect((await fetch(`${app.url}/api/admin/dashboard`)).status).toBe(401);
    const wrong = { authorization: 'Bearer admin-token-for-web-testX' };
    expect((await fetch(`${app.url}/api/admin/dashboard`, { headers: wrong })).status).toBe(401);
    expect((await fetch(`${app.url}/api/admin/dashboard?since=soon`, { headers: admin })).status).toBe(400);
  });

  it('shows the slots a burst holds, by priority, live and in the second-by-second history', async () => {
    const { app, safeguards } = await serve();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const burst = [
      ...Array.from({ length: 3 }, () => safeguards.run(() => gate, { priority: Priority.HIGH })),
      ...Array.from({ length: 2 }, () => safeguards.run(() => gate, { priority: Priority.BATCH })),
    ];
    const startedAt = Date.now();
    const live = (await (
      await fetch(`${app.url}/api/admin/dashboard`, { headers: admin })
    ).json()) as DashboardSnapshot;
    expect(live.budget).toMatchObject({ max: 8, active: 5 });
    expect(live.priorities.map((priority) => [priority.name, priority.active])).toEqual([
      ['CRITICAL', 0],
      ['HIGH', 3],
      ['NORMAL', 0],
      ['LOW', 0],
      ['BATCH', 2],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    release();
    await Promise.all(burst);
    const later = (await (
      await fetch(`${app.url}/api/admin/dashboard?since=${startedAt - 1}`, { headers: admin })
    ).json()) as DashboardSnapshot;
    expect(later.budget.active).toBe(0);
    expect(later.history.length).toBeGreaterThanOrEqual(1);
    expect(later.history.every((sample) => sample.at > startedAt - 1)).toBe(true);
    expect(Math.max(...later.history.map((sample) => sample.active))).toBe(5);
    // This server was given no backend counter (startVetmed gives it one).
    expect(later.database.backends).toBeNull();
    // These safeguards have no load sampler: the event loop is not measured, as the health report says.
    expect(later.eventLoop).toEqual({ delayMs: null, utilization: null, sampledAt: null });
    expect(later.history.every((sample) => sample.eventLoopDelayMs === null)).toBe(true);
  });

  it('shows the event loop as load shedding and the health report read it, not a monitor of its own', async () => {
    // The load monitor's readings, set by hand (the sampler is the core's input for them): a delay
    // past NORMAL's mark (200 ms), so BATCH, LOW and NORMAL are shed, and health says why.
    let reading = { eventLoopDelayMs: 250.4, eventLoopUtilization: 0.8123 };
    const safeguards = createSafeguards({
      ...loadEnv({}).safeguards,
      load: {
        ...loadEnv({}).safeguards.load,
        sampler: { sample: () => ({ ...reading }) },
        sampleIntervalMs: 50,
        sustainedReadings: 1,
      },
    });
    const { app } = await serve({ healthCacheMs: 0 }, safeguards);
    // One full second of the dashboard's sampler, so its history holds a reading.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const snapshot = (await (
      await fetch(`${app.url}/api/admin/dashboard`, { headers: admin })
    ).json()) as DashboardSnapshot;
    const health = (await (
      await fetch(`${app.url}/api/health?detailed=true`, { headers: admin })
    ).json()) as {
      components: { load: { status: string; message: string } };
    };
    expect(snapshot.eventLoop).toEqual({ delayMs: 250.4, utilization: 0.812, sampledAt: expect.any(Number) });
    expect(snapshot.history.at(-1)).toMatchObject({ eventLoopDelayMs: 250.4, eventLoopUtilization: 0.812 });
    expect(snapshot.load.shedding).toEqual(['NORMAL', 'LOW', 'BATCH']);
    expect(health.components.load).toEqual({
      status: 'degraded',
      message: 'shedding new NORMAL, LOW, BATCH calls: event-loop delay p99 250 ms >= 200 ms',
    });
    expect(snapshot.load.cause).toBe('event-loop delay p99 250 ms >= 200 ms');
    const scrape = await (await fetch(`${app.url}/metrics`, { headers: admin })).text();
    expect(scrape).toMatch(/^db_safeguards_load_event_loop_delay_seconds 0\.2504$/m);

    // The loop recovers: the next readings say so, on the dashboard as in health.
    reading = { eventLoopDelayMs: 3, eventLoopUtilization: 0.1 };
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const calm = (await (
      await fetch(`${app.url}/api/admin/dashboard`, { headers: admin })
    ).json()) as DashboardSnapshot;
    const calmHealth = (await (
      await fetch(`${app.url}/api/health?detailed=true`, { headers: admin })
    ).json()) as { components: { load: { status: string; message: string } } };
    expect(calm.eventLoop).toMatchObject({ delayMs: 3, utilization: 0.1 });
    expect(calm.history.at(-1)).toMatchObject({ eventLoopDelayMs: 3, eventLoopUtilization: 0.1 });
    expect(calm.load.shedding).toEqual([]);
    expect(calmHealth.components.load.status).toBe('healthy');
    expect(calmHealth.components.load.message).toMatch(
      /^event-loop delay p99 3 ms, event-loop utilisation 10%/,
    );
  });

  it('costs no database query of its own: polled 40 times, it shares the health report’s one probe a second', async () => {
    let probes = 0;
    const probed = createSafeguards({
      ...loadEnv({}).safeguards,
      health: {
        probe: async () => {
          probes++;
        },
      },
    });
    const { app, safeguards } = await serve({}, probed);
    const before = safeguards.metrics().operations.started;
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      const response = await fetch(`${app.url}/api/admin/dashboard`, { headers: admin });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const operations = safeguards.metrics().operations.started - before;
    // Every operation was a probe, and there was at most one a second (plus the first).
    expect(operations).toBe(probes);
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(probes).toBeLessThanOrEqual(seconds + 1);
  });

  it('counts refusals by type and reason, and shows a breaker an admin opened for a drill', async () => {
    const { app, safeguards } = await serve();
    const drill = await fetch(`${app.url}/api/admin/circuit-breaker/open?name=primary`, {
      method: 'POST',
      headers: admin,
    });
    expect(drill.status).toBe(200);
    await expect(safeguards.run(async () => 1, { operationType: 'read' })).rejects.toMatchObject({
      type: 'CIRCUIT_BREAKER',
      reason: 'circuit-open',
    });
    // Writes are refused by the read-only mode an open breaker turns on.
    await expect(safeguards.run(async () => 1, { operationType: 'write' })).rejects.toMatchObject({
      reason: 'read-only',
    });
    const snapshot = (await (
      await fetch(`${app.url}/api/admin/dashboard`, { headers: admin })
    ).json()) as DashboardSnapshot;
    expect(snapshot.breakers.find((breaker) => breaker.name === 'primary')).toMatchObject({
      state: 'OPEN',
      nextAttemptAt: expect.any(Number),
    });
    expect(snapshot.refusals).toEqual(
      expect.arrayContaining([
        { type: 'CIRCUIT_BREAKER', reason: 'circuit-open', count: 1 },
        { type: 'CIRCUIT_BREAKER', reason: 'read-only', count: 1 },
      ]),
    );
    expect(snapshot.readOnly.active).toBe(true);
    const unknown = await fetch(`${app.url}/api/admin/circuit-breaker/open?name=nope`, {
      method: 'POST',
      headers: admin,
    });
    expect(unknown.status).toBe(404);
    await fetch(`${app.url}/api/admin/circuit-breaker/reset`, { method: 'POST', headers: admin });
    expect(safeguards.breakers.get('primary').state).toBe('CLOSED');
  });
});

describe('the real build (dist/web)', () => {
  it('has brotli and gzip copies of its larger text files, each the file itself', () => {
    const files = readdirSync(defaultWebRoot, { recursive: true, encoding: 'utf8' }).filter((file) =>
      /\.(js|css|html|svg)$/.test(file),
    );
    const large = files.filter((file) => statSync(join(defaultWebRoot, file)).size > 1024);
    expect(large.some((file) => file.endsWith('.js'))).toBe(true);
    for (const file of large) {
      const body = readFileSync(join(defaultWebRoot, file));
      expect(brotliDecompressSync(readFileSync(join(defaultWebRoot, `${file}.br`))).equals(body), file).toBe(
        true,
      );
      expect(gunzipSync(readFileSync(join(defaultWebRoot, `${file}.gz`))).equals(body), file).toBe(true);
    }
  });

  it('has no inline script or style for the Content-Security-Policy to refuse, and every file it names', () => {
    const page = readFileSync(join(defaultWebRoot, 'index.html'), 'utf8');
    const scripts = [...page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/assets\/[\w.-]+\.js"/);
      expect(body!.trim()).toBe('');
    }
    expect(page).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    for (const [, file] of page.matchAll(/(?:src|href)="(\/[^"]+)"/g))
      expect(() => readFileSync(join(defaultWebRoot, file!)), file).not.toThrow();
  });
});
