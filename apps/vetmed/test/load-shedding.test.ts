import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { createLogger } from '../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../src/start-vetmed.js';
import { type Actor, failure, signUp } from './app/app-client.js';

const adminToken = 'load-admin-token-0123456789';
const asAdmin = { headers: { authorization: `Bearer ${adminToken}` } };

/** Keeps this process's event loop busy for `ms`: the server runs in it, as a CPU-bound burst would. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const turn = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Load shedding in the sample app, over HTTP: the app's own event loop is a resource like the
 * connection budget. Marks set here: LOW from 400 ms of event-loop delay p99 (NORMAL and HIGH far
 * above), utilisation off (its marks and its target), so a shared test machine's noise does not
 * decide the outcome; two 800 ms blocks of the event loop, read one after the other, do.
 */
describe('VetMed sheds by priority when its event loop lags', () => {
  let app: RunningVetmed;
  let actor: Actor;
  let householdId: string;

  beforeAll(async () => {
    const config = loadEnv({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      PGLITE_DATA_DIR: 'memory://',
      SEED_DEMO: 'false',
      ADMIN_TOKEN: adminToken,
      HEALTH_CACHE_MS: '0',
      LOAD_SHEDDING: 'on',
      LOAD_EVENT_LOOP_DELAY_MS: 'LOW=400,NORMAL=60000',
      LOAD_EVENT_LOOP_UTILIZATION: 'off',
      // The blocks below leave the loop fully busy: this test is about the delay marks.
      LOAD_UTILIZATION_TARGET: 'off',
      // Readings every 500 ms, so a mark sheds from its second reading in a row (1 s / 500 ms).
      LOAD_SAMPLE_INTERVAL_MS: '500',
    });
    expect(config.loadShedding).toBe(true);
    app = await startVetmed(config, { log: createLogger('silent') });
    actor = await signUp(app.url, 'loaded');
    householdId = (await actor.client.households.create.mutate({ name: 'Busy home' })).id;
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  /**
   * Two readings in a row past the mark (one stall sheds nothing): block, let a NORMAL call take the
   * first reading, block again; the next call takes the second.
   */
  const lagTwice = async () => {
    blockFor(800);
    await turn(30);
    await actor.client.households.list.query();
    blockFor(800);
    await turn(30);
  };

  const adherence = () =>
    fetch(
      `${app.url}/api/trpc/reports.adherence?input=${encodeURIComponent(JSON.stringify({ json: { householdId, days: 7 } }))}`,
      { headers: { authorization: `Bearer ${actor.token}`, 'x-forwarded-for': actor.ip } },
    );

  it('refuses new LOW calls with a typed, retryable 503 while NORMAL work and health go on; then recovers', async () => {
    expect((await adherence()).status).toBe(200);

    await lagTwice();
    const refused = await adherence();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    const body = (await refused.json()) as { error: { json: { data: { userFriendly: unknown } } } };
    expect(body.error.json.data.userFriendly).toMatchObject({
      type: 'QUEUE_FULL',
      reason: 'overloaded',
      retryable: true,
      retryAfterMs: 5000,
      message: "We're handling a lot of requests right now.",
    });
    // The same client's NORMAL call is served meanwhile.
    await expect(actor.client.households.list.query()).resolves.toBeInstanceOf(Array);

    const detailed = await fetch(`${app.url}/api/health?detailed=true`, asAdmin);
    expect(detailed.status).toBe(206);
    const report = (await detailed.json()) as {
      status: string;
      components: { load: { status: string; message: string }; errors: { status: string } };
      metrics: { breakers: Record<string, { state: string }>; operations: { windowFailed: number } };
    };
    expect(report.status).toBe('degraded');
    expect(report.components.load.status).toBe('degraded');
    expect(report.components.load.message).toMatch(
      /^shedding new LOW, BATCH calls: event-loop delay p99 \d+ ms >= 400 ms$/,
    );
    expect(report.components.errors.status).toBe('healthy');
    expect(report.metrics.breakers.primary!.state).toBe('CLOSED');
    expect(report.metrics.operations.windowFailed).toBe(0);

    const metrics = await (await fetch(`${app.url}/metrics`, asAdmin)).text();
    expect(metrics).toContain('db_safeguards_load_shed_total{priority="LOW"} 1');
    expect(metrics).toContain('db_safeguards_load_shedding{priority="LOW"} 1');
    expect(metrics).toContain('db_safeguards_load_shedding{priority="NORMAL"} 0');
    expect(metrics).toContain('db_safeguards_load_normal_admitted_share 1');

    // A sampling window without a block: the lag is gone from the readings, LOW is served again.
    await turn(1200);
    const recovered = await adherence();
    expect(recovered.status).toBe(200);
    const calm = (await (await fetch(`${app.url}/api/health?detailed=true`, asAdmin)).json()) as {
      components: { load: { status: string } };
    };
    expect(calm.components.load.status).toBe('healthy');
  });

  it('a shed call is typed for the tRPC client too', async () => {
    await lagTwice();
    const refused = await failure(actor.client.reports.adherence.query({ householdId, days: 7 }));
    expect(refused.status).toBe(503);
    expect(refused.userFriendly).toMatchObject({ type: 'QUEUE_FULL', reason: 'overloaded' });
  });
});
