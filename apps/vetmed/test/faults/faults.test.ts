import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryOptions } from '@db-safeguards/core/advanced';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { outcome } from '../app/app-client.js';
import { type FaultTarget, startFaultTarget } from './fault-fixture.js';
import {
  type BreakerTimeline,
  describeFailures,
  expectAllTyped,
  finishScenario,
  longest,
  recoveryAfter,
  stateThroughout,
} from './scenario-checks.js';
import { checkLedger, createLoadUsers, startSteadyLoad, watchRetries } from './steady-load.js';

async function withTarget(
  env: Record<string, string>,
  body: (target: FaultTarget) => Promise<void>,
  retry: Partial<RetryOptions> = {},
): Promise<void> {
  const target = await startFaultTarget(env, retry);
  try {
    await body(target);
  } finally {
    await target.stop();
  }
}

describe('fault injection (real PostgreSQL, our TCP proxy, the app under load)', () => {
  it('outage: the server stops for 10 s; the breaker opens after at most its threshold of failures; while it is open recordings are refused 503 CIRCUIT_BREAKER with retry-after (no REDIS_URL) and histories answered stale, marked degraded; nothing hangs, the app serves again within the breaker timeout + 2 s', async () => {
    await withTarget({}, async (target) => {
      const { app, server } = target;
      const users = await createLoadUsers(app, 4);
      const retries = watchRetries(app);
      const primary = app.safeguards.breakers.get('primary');
      const { failureThreshold, openDurationMs } = primary.options;
      const transitions: BreakerTimeline = [];
      app.safeguards.onBreakerStateChange((change) => {
        if (change.breaker === 'primary')
          transitions.push({ to: change.to, at: Date.now(), failures: primary.stats().totalFailures });
      });
      const load = startSteadyLoad(users, 20);
      await sleep(2000);
      const failuresBefore = primary.stats().totalFailures;
      const outageStarted = Date.now();
      await server.stopServer();
      // A read already on its way may still be answered while the server is going down.
      const serverDown = Date.now();
      await sleep(10_000);
      await server.startServer();
      const serverBack = Date.now();
      await sleep(8000);
      const records = await load.stop();

      expectAllTyped(records);
      const opened = transitions.find((t) => t.to === 'OPEN' && t.at >= outageStarted);
      expect(opened, 'the primary breaker opened during the outage').toBeDefined();
      // Within its threshold: the breaker counted at most `failureThreshold` failures before it opened,
      // and no more calls than that failed to their clients before it did.
      const failuresToOpen = opened!.failures - failuresBefore;
      expect(failuresToOpen).toBeGreaterThan(0);
      expect(failuresToOpen).toBeLessThanOrEqual(failureThreshold);
      const failedBeforeOpen = records.filter(
        (r) => !r.ok && r.startedAt >= outageStarted - 1000 && r.endedAt < opened!.at,
      );
      expect(failedBeforeOpen.length).toBeLessThanOrEqual(failureThreshold);
      // A call that began and ended while the breaker was open never reached the database. Without
      // REDIS_URL nothing can keep a write for later: a recording is refused at once, 503
      // CIRCUIT_BREAKER with the time until the breaker half-opens. A history is answered from the
      // user's last good copy (read before the server was down), marked degraded with the time it is from.
      const whileOpen = records.filter((r) => stateThroughout(transitions, r) === 'OPEN');
      const writesWhileOpen = whileOpen.filter((r) => r.kind === 'record');
      const readsWhileOpen = whileOpen.filter((r) => r.kind === 'read');
      expect(writesWhileOpen.length, 'recordings refused while the breaker was open').toBeGreaterThan(10);
      expect(readsWhileOpen.length, 'histories answered while the breaker was open').toBeGreaterThan(10);
      for (const refused of writesWhileOpen) {
        expect(refused.ok).toBe(false);
        expect(refused.status).toBe(503);
        expect(refused.userFriendly).toMatchObject({ type: 'CIRCUIT_BREAKER', retryable: true });
        expect(refused.userFriendly!.retryAfterMs).toBeGreaterThan(0);
        expect(refused.userFriendly!.retryAfterMs).toBeLessThanOrEqual(openDurationMs);
      }
      for (const read of readsWhileOpen) {
        expect(read.ok, 'a history while the breaker was open is answered stale').toBe(true);
        expect(read.degraded?.kind).toBe('stale');
        if (read.degraded?.kind === 'stale')
          expect(read.degraded.asOf.getTime()).toBeLessThanOrEqual(serverDown);
      }
      const duringOutage = records.filter(
        (r) => r.startedAt >= outageStarted && r.endedAt <= serverBack && !r.ok,
      );
      const others = duringOutage.filter((r) => !writesWhileOpen.includes(r));
      // The rest are the calls that reached the database while it was going or gone (before the
      // breaker opened, and its half-open probes): typed, and within the deadline.
      for (const failed of others) expect([503, 504]).toContain(failed.status);
      // Never past the request deadline (3 s), give or take the scheduling of a busy test machine.
      expect(longest(records)).toBeLessThan(3000 + 1500);
      const recovery = recoveryAfter(records, serverBack);
      expect(recovery, 'served again after the server came back').not.toBeNull();
      expect(recovery!).toBeLessThanOrEqual(openDurationMs + 2000);
      expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
      const retryAfters = writesWhileOpen.map((r) => r.userFriendly!.retryAfterMs!);

      await finishScenario(
        '1-outage',
        { app, committedAttempts: target.committedAttempts, users, records, retries },
        {
          scenario: 'Outage: the PostgreSQL server stops for 10 s, then starts again',
          load: '20 calls/s over HTTP (dose recordings and history reads), 4 users',
          faults: 'server stopped (fast shutdown) for 10 s',
          recoveryMs: recovery,
          notes: () => [
            `primary breaker opened ${opened!.at - outageStarted} ms after the server stopped, after ${failuresToOpen} failures (threshold ${failureThreshold}); ${failedBeforeOpen.length} calls had failed to their clients by then`,
            `${writesWhileOpen.length} recordings made while it was open were refused at once with 503 CIRCUIT_BREAKER, retry-after ${Math.min(...retryAfters)}–${Math.max(...retryAfters)} ms (no REDIS_URL: nothing to keep them for later); ${readsWhileOpen.length} histories were answered stale from the last good copy, marked degraded`,
            `${others.length} other calls failed during the outage (before the breaker opened, or as its half-open probes): ${describeFailures(others)}`,
            `longest call ${longest(records)} ms (deadline 3 000 ms)`,
            `recovery measured from the server's return; breaker open time ${openDurationMs} ms (CIRCUIT_TIMEOUT_MS)`,
          ],
        },
      );
    });
  }, 90_000);

  it('killed backends (pg_terminate_backend mid-load, writes in flight): reads are retried to their last attempt, unacknowledged writes are reported failed and never retried by the server, every acknowledged write is there exactly once', async () => {
    await withTarget(
      { CIRCUIT_FAILURE_THRESHOLD: '50', DB_MAX_ATTEMPTS: '3' },
      async (target) => {
        const { app, server, proxy, admin } = target;
        const users = await createLoadUsers(app, 4);
        const retries = watchRetries(app);
        const failedReadOperations: Array<{ attempts: number; reason: string | undefined }> = [];
        app.safeguards.onOperationEnd((end) => {
          if (!end.ok && end.label === 'administrations.history')
            failedReadOperations.push({ attempts: end.attempts, reason: end.error?.reason });
        });
        // A dose recording is one statement that runs well under a millisecond on the server, too short
        // for a kill to land in it by chance: here each insert takes 20 ms on the server, as on a busy
        // database, so kills meet writes in flight. And 5 ms each way through the proxy. (Far more and
        // this load would exceed what 8 connections can serve: then reads fail at their deadline in the
        // queue, which is the overload scenario's subject.)
        await admin.unsafe(`
          create function fault_slow_dose() returns trigger language plpgsql as $$
            begin perform pg_sleep(0.02); return new; end $$;
          create trigger fault_slow_dose before insert on administrations
            for each row execute function fault_slow_dose();`);
        proxy.setLatency(5);
        const load = startSteadyLoad(users, 16);
        const kills: Array<{ at: number; backends: number; writesInFlight: number }> = [];
        for (let round = 0; round < 8; round++) {
          await sleep(700);
          // Kill every app backend at a moment a write is running on the server and a read is on its way
          // (sent by a client, not answered: in the app, the proxy or the server); after 500 ms without
          // both, at a moment a write is running; after 1 s, whatever runs. The server's side of the
          // check and the kill are one statement, one snapshot.
          const deadline = Date.now() + 500;
          const lastChance = deadline + 500;
          for (;;) {
            const [kill] = await admin<[{ backends: number; writes: number }]>`
            with app as (
              select pid, state, query from pg_stat_activity
              where usename = ${server.appRole} and backend_type = 'client backend'),
            reading as (
              select count(*)::int + ${load.readsInFlight()}::int as n from app
              where state = 'active' and query ~* '^\\s*select'),
            writing as (
              select count(*)::int as n from app
              where state = 'idle in transaction'
                 or (state = 'active' and query ~* '^\\s*(begin|insert|update|with\\s.*\\m(insert|update)\\M)'))
            select (select n from writing) as writes,
                   (select count(pg_terminate_backend(pid))::int from app
                    where ((select n from writing) > 0 and ((select n from reading) > 0 or ${Date.now() >= deadline}))
                       or ${Date.now() >= lastChance}) as backends`;
            if (kill!.backends > 0 || Date.now() >= lastChance + 100) {
              kills.push({ at: Date.now(), backends: kill!.backends, writesInFlight: kill!.writes });
              break;
            }
            await sleep(5);
          }
        }
        await sleep(2000);
        proxy.setLatency(0);
        const records = await load.stop();
        const metrics = app.safeguards.metrics();

        expectAllTyped(records);
        const killed = kills.reduce((sum, k) => sum + k.backends, 0);
        const writesHit = kills.reduce((sum, k) => sum + k.writesInFlight, 0);
        expect(killed).toBeGreaterThan(8);
        expect(writesHit, 'write statements or transactions running at the moment of a kill').toBeGreaterThan(
          0,
        );
        const writes = records.filter((r) => r.kind === 'record');
        const failedWrites = writes.filter((r) => !r.ok);
        expect(
          failedWrites.length,
          'writes killed mid-transaction, reported failed to their client',
        ).toBeGreaterThan(0);
        for (const failed of failedWrites) {
          expect(failed.status).toBe(503);
          expect(failed.userFriendly?.type).toBe('CONNECTION');
        }
        // Reads are idempotent: the server retries them, 3 attempts in all. A kill fails the attempt in
        // flight; the retry can land on a connection killed while idle that postgres.js has not noticed
        // yet (the next query sent to it before its close is seen fails), or be refused with 53300 while the killed
        // backends still count against the role's limit (then it waits a second or more). So a read can
        // still meet a kill on each of its attempts: the bound is that no read fails before the server has
        // spent every attempt on it (none is cut short by a deadline or the breaker; the retry budget is
        // off here, scenario 4 is its test), and that such reads stay rare.
        const reads = records.filter((r) => r.kind === 'read');
        const failedReads = reads.filter((r) => !r.ok);
        for (const failed of failedReads) {
          expect(failed.status).toBe(503);
          expect(failed.userFriendly?.type).toBe('CONNECTION');
        }
        expect(failedReadOperations.length).toBeGreaterThanOrEqual(failedReads.length);
        // Three attempts each; refusals as full (53300) are retried apart from those three (issue 14).
        for (const operation of failedReadOperations) {
          if (operation.reason !== 'too-many-connections')
            expect(operation.attempts).toBeGreaterThanOrEqual(3);
        }
        // Rare, measured against what the test did rather than as a share of however many reads a
        // loaded machine got through: an attempt fails here only on a backend the test terminated (each
        // fails the query it runs, or the next one sent to it) or on a connection refused while
        // terminated backends still counted (53300). A failed read spent 3 such failures.
        const refusedConnections = [
          ...retries.retries.map((r) => r.reason),
          ...records.filter((r) => !r.ok).map((r) => r.userFriendly?.reason),
        ].filter((reason) => reason === 'too-many-connections').length;
        expect(3 * failedReadOperations.length).toBeLessThanOrEqual(killed + refusedConnections);
        expect(metrics.retries.recovered).toBeGreaterThan(0);
        // What postgres.js reported for the killed connections, as classified: on the failed calls and
        // on the attempts the server retried.
        const reasons = new Map<string, number>();
        for (const reason of [
          ...failedWrites.map((r) => r.userFriendly!.reason),
          ...failedReads.map((r) => r.userFriendly!.reason),
          ...retries.retries.map((r) => r.reason),
        ])
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        const seenReasons = [...reasons]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([reason, count]) => `${reason} ×${count}`)
          .join(', ');
        await finishScenario(
          '2-killed-backends',
          { app, committedAttempts: target.committedAttempts, users, records, retries },
          {
            scenario: `Killed backends: pg_terminate_backend on every app connection, ${kills.length} times, at moments a dose write was running (each insert slowed to 20 ms on the server by a trigger) where one came within 1 s, and a read was on its way where one came within 500 ms`,
            load: '16 calls/s over HTTP (dose recordings and history reads), 4 users, 5 ms proxy latency each way; retry budget off',
            faults: `${killed} backends terminated, ${writesHit} writes running at those moments; the errors the app classified for them: ${seenReasons}`,
            recoveryMs: recoveryAfter(records, kills.at(-1)!.at),
            notes: (ledger) => [
              `${reads.length - failedReads.length} of ${reads.length} reads succeeded; ${metrics.retries.recovered} operations succeeded after a retry; ${failedReads.length === 0 ? 'no read failed' : `the ${failedReads.length} that failed did so after all 3 attempts met a killed or refused connection`}`,
              `${ledger.unacknowledged} of ${writes.length} writes were reported failed to their client (${describeFailures(failedWrites)}), outcome unknown, so not retried by the server; ${ledger.appliedDespiteError} of them had been applied before the connection died${ledger.appliedDespiteError > 0 ? ", and the client's retry with the same key found them instead of doubling them" : ''}`,
            ],
          },
        );
      },
      // Out of the way: with the budget on, a loaded machine's extra retries could be refused and a read
      // cut short of its last attempt. What the budget does is scenario 4's subject.
      { budget: false },
    );
  }, 90_000);

  it('network stall (proxy paused 5 s): deadlines fire (histories then answered stale, marked degraded), slots are released, and the active slots return to 0', async () => {
    await withTarget({ REQUEST_TIMEOUT_MS: '2000' }, async (target) => {
      const { app, proxy } = target;
      const users = await createLoadUsers(app, 4);
      const retries = watchRetries(app);
      const load = startSteadyLoad(users, 20);
      await sleep(2000);
      const stallStarted = Date.now();
      proxy.pause();
      await sleep(5000);
      proxy.resume();
      const stallEnded = Date.now();
      await sleep(4000);
      const records = await load.stop();

      expectAllTyped(records);
      const stalled = records.filter(
        (r) => r.startedAt >= stallStarted + 100 && r.startedAt < stallEnded - 2500,
      );
      expect(stalled.length).toBeGreaterThan(10);
      // Each recording ends at its deadline (504 TIMEOUT) or, once timeouts have opened the breaker, at
      // once (503). A history fails the same way underneath, and is then answered from the user's last
      // good copy (read before the stall), marked degraded: still no later than its deadline (below).
      const stalledWrites = stalled.filter((call) => call.kind === 'record');
      const stalledReads = stalled.filter((call) => call.kind === 'read');
      expect(stalledWrites.length).toBeGreaterThan(5);
      expect(stalledReads.length).toBeGreaterThan(5);
      for (const call of stalledWrites) {
        expect(call.ok).toBe(false);
        expect(`${call.status} ${call.userFriendly?.type}`).toMatch(
          /^(504 TIMEOUT|503 CIRCUIT_BREAKER|503 QUEUE_FULL)$/,
        );
      }
      for (const call of stalledReads) {
        expect(call.ok, 'a history during the stall is answered stale').toBe(true);
        expect(call.degraded?.kind).toBe('stale');
        if (call.degraded?.kind === 'stale')
          expect(call.degraded.asOf.getTime()).toBeLessThanOrEqual(stallStarted);
      }
      expect(longest(records)).toBeLessThan(2000 + 1500);
      // No leaked slot: once the traffic is gone, nothing holds the budget.
      await expect.poll(() => app.safeguards.queue.active, { timeout: 10_000 }).toBe(0);
      const stats = app.safeguards.queue.stats();
      await finishScenario(
        '3-network-stall',
        { app, committedAttempts: target.committedAttempts, users, records, retries },
        {
          scenario: 'Network stall: the proxy between app and database holds every byte for 5 s',
          load: '20 calls/s over HTTP, 4 users, request deadline 2 s',
          faults: 'proxy paused 5 s (no data either way, connections kept open)',
          recoveryMs: recoveryAfter(records, stallEnded),
          notes: () => [
            `${stalledWrites.length} recordings during the stall failed typed: ${stalledWrites.filter((c) => c.status === 504).length} at their 2 s deadline (504), ${stalledWrites.filter((c) => c.status === 503).length} at once once the timeouts had opened the breaker (503); ${stalledReads.length} histories were answered stale from the last good copy, marked degraded; longest call ${longest(records)} ms`,
            `active slots back to 0 after the stall; ${stats.abandoned} slots were reclaimed from operations that never ended (abandonAfterMs)`,
          ],
        },
      );
    });
  }, 90_000);

  it('reset and refused connections (proxy): every open connection reset mid-load, then new ones refused for 3 s; every failure typed, no acknowledged write lost or doubled, no slot leaked, the app serves again', async () => {
    await withTarget({}, async (target) => {
      const { app, proxy } = target;
      const users = await createLoadUsers(app, 4);
      const retries = watchRetries(app);
      const { openDurationMs } = app.safeguards.breakers.get('primary').options;
      // 5 ms each way, so the reset finds queries in flight on the connections it cuts.
      proxy.setLatency(5);
      const load = startSteadyLoad(users, 20);
      await sleep(2000);
      const faultStarted = Date.now();
      proxy.dropNewConnections(true);
      const reset = proxy.resetAll();
      await sleep(3000);
      proxy.dropNewConnections(false);
      const faultEnded = Date.now();
      await sleep(openDurationMs + 2500);
      const records = await load.stop();
      proxy.setLatency(0);
      await expect.poll(() => app.safeguards.queue.active, { timeout: 10_000 }).toBe(0);

      expect(reset, 'open connections the reset hit').toBeGreaterThan(0);
      // The driver's errors were classified as connection failures (what clients saw first, or what the
      // server retried before the breaker answered for them).
      const connectionReasons = new Set([
        ...retries.retries.filter((r) => r.type === 'CONNECTION').map((r) => r.reason),
        ...app.safeguards.errorLog.recent({ type: 'CONNECTION' }).map((e) => e.reason),
      ]);
      expect(connectionReasons.size).toBeGreaterThan(0);
      const refusedConnections = proxy.stats().droppedConnections;
      expect(refusedConnections, 'connection attempts refused').toBeGreaterThan(0);
      expectAllTyped(records);
      const failed = records.filter((r) => !r.ok);
      expect(failed.length).toBeGreaterThan(0);
      for (const call of failed) {
        // Reset or refused (CONNECTION), refused by the breaker those failures opened, or, for a call
        // whose connection postgres.js did not notice was gone, its deadline.
        expect(`${call.status} ${call.userFriendly?.type}`).toMatch(
          /^(503 CONNECTION|503 CIRCUIT_BREAKER|504 TIMEOUT)$/,
        );
        expect(call.startedAt).toBeGreaterThanOrEqual(faultStarted - 3000);
      }
      expect(longest(records)).toBeLessThan(3000 + 1500);
      const recovery = recoveryAfter(records, faultEnded);
      expect(recovery, 'served again once new connections were accepted').not.toBeNull();
      expect(recovery!).toBeLessThanOrEqual(openDurationMs + 2000);
      await finishScenario(
        '7-reset-and-refused-connections',
        { app, committedAttempts: target.committedAttempts, users, records, retries },
        {
          scenario:
            'Reset and refused connections: the proxy resets every open connection, then refuses new ones for 3 s',
          load: '20 calls/s over HTTP (dose recordings and history reads), 4 users, 5 ms proxy latency each way',
          faults: `${reset} open connections reset (TCP RST both ways), ${refusedConnections} new connections refused (reset after the handshake) for 3 s`,
          recoveryMs: recovery,
          notes: (ledger) => [
            `${failed.length} calls failed, all typed: ${describeFailures(failed)}; longest call ${longest(records)} ms (deadline 3 000 ms); the driver's errors were classified as CONNECTION (${[...connectionReasons].sort().join(', ')})`,
            `${ledger.unacknowledged} writes were reported failed to their client; ${ledger.appliedDespiteError} of them had been applied before the reset, and resent with their keys each was recorded once`,
            `active slots back to 0 after the load; recovery measured from the end of the refusals (breaker open time ${openDurationMs} ms)`,
          ],
        },
      );
    });
  }, 90_000);

  it('connection hog: another client holds every connection the role may open; 53300 is capacity, not an outage: no breaker opens, nothing goes read-only, the effective limit drops to 1, refused calls are retried until their deadline outside the retry budget, then typed 503 CONNECTION', async () => {
    // A stingy retry budget (0.5/s floor) to show that retries of refusals as full do not draw on it.
    const budget = { ratio: 0.2, minPerSecond: 0.5, windowMs: 10_000 };
    await withTarget(
      {},
      async (target) => {
        const { app, server } = target;
        const users = await createLoadUsers(app, 4);
        const retries = watchRetries(app);
        const breakerChanges: string[] = [];
        app.safeguards.onBreakerStateChange((change) =>
          breakerChanges.push(`${change.breaker} ${change.to}`),
        );
        let lowestLimit = app.safeguards.metrics().capacity.effective;
        app.safeguards.onLimitChange((change) => {
          lowestLimit = Math.min(lowestLimit, change.limit);
        });
        // Take the role's 8 connections before the app gets them back.
        await server.terminateAppBackends();
        const hog = postgres(server.appUrl, { max: 8, onnotice: () => undefined });
        const held = await Promise.all(Array.from({ length: 8 }, () => hog.reserve()));
        const before = app.safeguards.metrics();
        const load = startSteadyLoad(users, 20);
        await sleep(4000);
        const healthDuringHog = await app.safeguards.health();
        const readOnlyDuringHog = app.safeguards.readOnly.status().active;
        await sleep(1000);
        const releasedAt = Date.now();
        for (const connection of held) connection.release();
        await hog.end({ timeout: 1 });
        await sleep(4000);
        const records = await load.stop();
        const after = app.safeguards.metrics();

        expectAllTyped(records);
        expect(breakerChanges, 'no breaker changed state').toEqual([]);
        expect(readOnlyDuringHog).toBe(false);
        // Health: the breakers and the capacity stay healthy. (Calls that time out waiting for a slot
        // under the lowered limit still count in the error rate: that is how queue timeouts count.)
        expect(healthDuringHog.components.circuitBreakers.primary!.status).toBe('healthy');
        expect(healthDuringHog.components.capacity.status).toBe('healthy');
        expect(lowestLimit, 'the effective limit while the role was full').toBe(1);
        const refused = records.filter((r) => !r.ok && r.startedAt < releasedAt);
        expect(refused.length).toBeGreaterThan(20);
        // Refused at their deadline: the database full (a typed 503 with retry-after), or, for a call
        // that never got a slot under the lowered limit in time, a 504 TIMEOUT.
        const full = refused.filter((r) => r.status === 503);
        expect(full.length).toBeGreaterThan(10);
        for (const call of full) {
          expect(call.userFriendly).toMatchObject({ type: 'CONNECTION', reason: 'too-many-connections' });
          expect(call.userFriendly!.retryAfterMs).toBeGreaterThan(0);
        }
        for (const call of refused.filter((r) => r.status !== 503)) {
          expect([call.status, call.userFriendly?.type]).toEqual([504, 'TIMEOUT']);
        }
        const connectionRetries = retries.retries.filter((r) => r.reason === 'too-many-connections');
        expect(connectionRetries.length).toBeGreaterThan(0);
        // Backoff: exponential, capped at 1 s, so a call asks again soon enough to take a freed slot.
        expect(Math.max(...connectionRetries.map((r) => r.delayMs))).toBeLessThanOrEqual(1000);
        // The retry budget is for a failing database: refusals as full never draw on it.
        expect(after.retries.exhausted - before.retries.exhausted).toBe(0);
        const recovery = recoveryAfter(records, releasedAt);
        expect(recovery).not.toBeNull();
        // Room again: the limit grows back, one slot per second of successes.
        expect(after.capacity.effective).toBeGreaterThan(1);
        const operations = after.operations.started - before.operations.started;
        await finishScenario(
          '4-connection-hog',
          { app, committedAttempts: target.committedAttempts, users, records, retries },
          {
            scenario: 'Connection hog: another client holds all 8 connections the role may open, for 5 s',
            load: '20 calls/s over HTTP (dose recordings and history reads), 4 users, request deadline 3 s',
            faults: '8 reserved connections of the same role (every new app connection gets 53300)',
            recoveryMs: recovery,
            notes: () => [
              `no breaker changed state, read-only mode stayed off; health during the hog: ${healthDuringHog.status} (breakers healthy, capacity: ${healthDuringHog.components.capacity.message}): the database was up, only full`,
              `the effective limit dropped from ${before.capacity.effective} to ${lowestLimit} and was back at ${after.capacity.effective} 4 s after the hog left (one slot per second of successes)`,
              `${connectionRetries.length} retries of refused calls for ${operations} database operations, each after at most 1 s, none drawn from the retry budget; ${refused.length} calls still refused at their deadline: ${full.length} a typed 503 CONNECTION (too-many-connections) with retry-after, ${refused.length - full.length} a 504 TIMEOUT waiting for a slot`,
            ],
          },
        );
      },
      { budget },
    );
  }, 90_000);

  it('slow queries beyond the statement timeout, under load: 57014 is a typed 504 TIMEOUT, not retried, the slot is freed and the other calls go on', async () => {
    await withTarget({ DB_STATEMENT_TIMEOUT_MS: '300' }, async (target) => {
      const { app, admin } = target;
      const users = await createLoadUsers(app, 4);
      const retries = watchRetries(app);
      const before = app.safeguards.metrics();
      const load = startSteadyLoad(users, 20);
      await sleep(1000);
      // Another session locks user 0's stock row for 3 s: each dose user 0 records meanwhile waits on
      // it in its UPDATE until the statement timeout cancels it.
      const locker = await admin.reserve();
      await locker`begin`;
      await locker`select * from inventory where household_id = ${users[0]!.world.household.id} for update`;
      const lockedAt = Date.now();
      await sleep(3000);
      await locker`rollback`;
      locker.release();
      const releasedAt = Date.now();
      await sleep(2000);
      const records = await load.stop();
      // No slot held: once the traffic is gone, nothing holds the budget.
      await expect.poll(() => app.safeguards.queue.active, { timeout: 5000 }).toBe(0);
      const after = app.safeguards.metrics();

      expectAllTyped(records);
      const failed = records.filter((r) => !r.ok);
      expect(failed.length, 'dose recordings that ran into the lock').toBeGreaterThanOrEqual(3);
      for (const call of failed) {
        // Only user 0's recordings, made while the lock was held, fail: everyone else's calls go on.
        expect(call).toMatchObject({ user: 0, kind: 'record', status: 504 });
        expect(call.userFriendly).toMatchObject({
          type: 'TIMEOUT',
          reason: 'statement-timeout',
          retryable: false,
        });
        expect(call.startedAt).toBeGreaterThanOrEqual(lockedAt - 1000);
        expect(call.startedAt).toBeLessThan(releasedAt);
        // 300 ms of statement timeout, then the rollback; generous for a loaded 2-core machine.
        expect(call.endedAt - call.startedAt).toBeLessThan(2000);
      }
      const timeouts = app.safeguards.errorLog.recent({ type: 'TIMEOUT' });
      expect(timeouts.length).toBeGreaterThanOrEqual(failed.length);
      for (const entry of timeouts)
        expect(entry).toMatchObject({ reason: 'statement-timeout', sqlState: '57014' });
      // 57014 is our own deadline: never retried. Nothing else failed here, so no retry at all.
      expect(retries.retries.filter((r) => r.reason === 'statement-timeout')).toEqual([]);
      expect(after.retries.attempted - before.retries.attempted).toBe(0);
      const userZeroRecords = records.filter((r) => r.user === 0 && r.kind === 'record');
      const recovery = recoveryAfter(userZeroRecords, releasedAt);
      expect(recovery, "user 0's recordings succeed again once the lock is gone").not.toBeNull();
      const took = failed.map((r) => r.endedAt - r.startedAt);
      const ledger = await finishScenario(
        '5-slow-queries',
        { app, committedAttempts: target.committedAttempts, users, records, retries },
        {
          scenario:
            "Slow queries: one household's stock row locked by another session for 3 s, beyond the 300 ms statement timeout",
          load: '20 calls/s over HTTP (dose recordings and history reads), 4 users',
          faults: 'row lock held by another session for 3 s (statement_timeout 300 ms)',
          recoveryMs: recovery,
          notes: (checked) => [
            `${failed.length} dose recordings of the locked household answered 504 TIMEOUT (statement-timeout, not retryable; 57014 in the error log) after ${Math.min(...took)}–${Math.max(...took)} ms; the other ${records.length - failed.length} calls succeeded`,
            `${after.retries.attempted - before.retries.attempted} retries during the scenario; active slots back to 0 afterwards`,
            `${checked.appliedDespiteError} of the timed-out recordings had been applied (the cancelled transaction rolled back); resent with their keys, each was recorded once`,
          ],
        },
      );
      expect(ledger.appliedDespiteError, 'a cancelled transaction leaves nothing behind').toBe(0);
    });
  }, 60_000);
});

describe('the ledger check itself', () => {
  it('sees a dose drawn from stock twice, a dose that went missing and a write executed twice (the regimen and key are unique together, so counting rows alone cannot)', async () => {
    await withTarget({}, async ({ app, admin, committedAttempts }) => {
      const users = await createLoadUsers(app, 2);
      const load = startSteadyLoad(users, 40);
      await sleep(500);
      const records = await load.stop();
      const writes = records.filter((r) => r.kind === 'record' && r.ok);
      expect(writes.length).toBeGreaterThanOrEqual(4);
      const clean = await checkLedger(app, users, records, committedAttempts);
      expect(clean).toMatchObject({ lost: 0, duplicated: 0, stockMismatches: [], reExecuted: 0 });

      // What a doubled dose looks like from outside: the stock of user 0 drawn down once more.
      await admin`update inventory set quantity_on_hand = quantity_on_hand - 1 where household_id = ${users[0]!.world.household.id}`;
      // And a lost one: an acknowledged dose of user 1 gone, stock given back as if it never happened.
      const gone = writes.find((r) => r.user === 1)!;
      await admin`delete from administrations where regimen_id = ${users[1]!.world.regimen.id} and idempotency_key = ${gone.key!}`;
      await admin`update inventory set quantity_on_hand = quantity_on_hand + 1 where household_id = ${users[1]!.world.household.id}`;
      // And a write the server ran a second time after it had committed: one more committed execution.
      const twice = writes.find((r) => r.user === 0)!;
      await admin`insert into fault_dose_attempts (regimen_id, idempotency_key) values (${users[0]!.world.regimen.id}, ${twice.key!})`;
      const broken = await checkLedger(app, users, records, committedAttempts);
      expect(broken.duplicated).toBe(1);
      expect(broken.lost).toBe(1);
      expect(broken.stockMismatches.map((m) => m.user).sort()).toEqual([0, 1]);
      expect(broken.reExecuted).toBe(1);
    });
  }, 60_000);

  it('counts a key used again on another regimen as another dose, not a double (keys are unique per regimen)', async () => {
    await withTarget({}, async ({ app, committedAttempts }) => {
      const users = await createLoadUsers(app, 2);
      const load = startSteadyLoad(users, 40);
      await sleep(500);
      const records = await load.stop();
      const first = records.find((r) => r.kind === 'record' && r.ok && r.user === 0)!;
      expect(first).toBeDefined();
      // User 1 records a dose of their own regimen under the key user 0 used for theirs.
      const startedAt = Date.now();
      const reused = await outcome(
        users[1]!.client.administrations.record.mutate({
          regimenId: users[1]!.world.regimen.id,
          idempotencyKey: first.key!,
        }),
      );
      expect(reused.ok).toBe(true);
      records.push({
        kind: 'record',
        user: 1,
        key: first.key,
        startedAt,
        endedAt: Date.now(),
        ok: true,
        status: 200,
        userFriendly: undefined,
      });
      const acknowledged = records.filter((r) => r.kind === 'record' && r.ok).length;

      const ledger = await checkLedger(app, users, records, committedAttempts);
      expect(ledger).toMatchObject({ lost: 0, duplicated: 0, stockMismatches: [], reExecuted: 0 });
      expect(ledger.distinctDoses).toBe(acknowledged);
      expect(ledger.stockDrawn).toBe(acknowledged);
    });
  }, 60_000);
});
