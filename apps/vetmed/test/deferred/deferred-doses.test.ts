import { randomUUID } from 'node:crypto';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeferredDoseQueue, receiptIdOf } from '../../src/deferred/deferred-dose-queue.js';
import { createLogger } from '../../src/server/logger.js';
import {
  type Actor,
  applied,
  createHouseholdWithAnimal,
  failure,
  outcome,
  signUp,
} from '../app/app-client.js';
import { type FaultTarget, startFaultTarget } from '../faults/fault-fixture.js';
import { countsByKey, stockOf } from '../support/ledger.js';

// Real PostgreSQL stopped under the app, a real redis-server (append-only file on) under BullMQ.
let redis: TestRedis;
let target: FaultTarget;
beforeAll(async () => {
  redis = await startTestRedis({ appendOnly: true, externalUrl: false });
  target = await startFaultTarget({ REDIS_URL: redis.url, CIRCUIT_TIMEOUT_MS: '1000' });
}, 90_000);
afterAll(async () => {
  await target?.stop();
  await redis?.stop();
});

type World = Awaited<ReturnType<typeof createHouseholdWithAnimal>>;

/** Waits until the receipt has settled (applied or rejected), asking as a client would. */
async function settled(actor: Actor, receiptId: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await actor.client.administrations.receipt.query({ receiptId }).catch(() => undefined);
    if (receipt && receipt.state !== 'pending') return receipt;
    if (Date.now() > deadline)
      throw new Error(`receipt ${receiptId} still ${receipt?.state ?? 'unanswered'}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('dose recordings deferred while PostgreSQL is down (BullMQ on a real Redis)', () => {
  let carer: Actor;
  let world: World;
  let ended: { id: string };
  let stranger: Actor;

  beforeAll(async () => {
    carer = await signUp(target.app.url, 'deferred');
    world = await createHouseholdWithAnimal(carer);
    stranger = await signUp(target.app.url, 'deferred-stranger');
    // Verified once before the outage: this instance still knows who it is during it.
    await stranger.client.households.list.query();
    // A course that ended yesterday: a dose recorded now is refused, once the database can say so.
    ended = await carer.client.regimens.create.mutate({
      animalId: world.animal.id,
      medicationId: world.medication.id,
      doseAmount: 1,
      doseUnit: 'tablet',
      schedule: { kind: 'times_per_day', timesPerDay: 1 },
      startsAt: new Date(Date.now() - 3 * 24 * 3600_000),
      endsAt: new Date(Date.now() - 24 * 3600_000),
    });
  });

  it('answers accepted-for-later with a receipt, the same receipt for the same dose, CONFLICT for the key reused; applies each once after recovery; rejects a dose of an ended regimen, and one dated before its regimen started (refused live too), with their reasons', async () => {
    const { app, server } = target;
    const live = applied(
      await carer.client.administrations.record.mutate({
        regimenId: world.regimen.id,
        idempotencyKey: randomUUID(),
      }),
    );
    expect(live).toMatchObject({ status: 'applied', degraded: false, created: true });
    const stockBefore = await stockOf(app, { world });
    const keys = Array.from({ length: 5 }, () => randomUUID());
    const lateKey = randomUUID();
    const earlyKey = randomUUID();
    let earlyReceipt = '';

    await server.stopServer();
    const receipts: string[] = [];
    try {
      for (const key of keys) {
        const answer = await carer.client.administrations.record.mutate({
          regimenId: world.regimen.id,
          idempotencyKey: key,
        });
        if (answer.status !== 'accepted-for-later')
          throw new Error(`expected accepted-for-later, got ${answer.status}`);
        expect(answer).toMatchObject({ degraded: true, receiptId: expect.stringMatching(/^dose-/) });
        expect(answer.recordedAt.getTime()).toBe(answer.acceptedAt.getTime());
        receipts.push(answer.receiptId);
      }
      // Sent again (a lost answer): the same receipt, held once.
      const again = await carer.client.administrations.record.mutate({
        regimenId: world.regimen.id,
        idempotencyKey: keys[0]!,
      });
      expect(again).toMatchObject({ status: 'accepted-for-later', receiptId: receipts[0] });
      // The same key for another dose: refused, as live.
      const reused = await failure(
        carer.client.administrations.record.mutate({
          regimenId: world.regimen.id,
          idempotencyKey: keys[0]!,
          doseAmount: 2,
        }),
      );
      expect(reused).toMatchObject({
        status: 409,
        userFriendly: { type: 'CONFLICT', reason: 'idempotency-key-reused' },
      });
      const late = await carer.client.administrations.record.mutate({
        regimenId: ended.id,
        idempotencyKey: lateKey,
      });
      expect(late.status).toBe('accepted-for-later');
      if (late.status === 'accepted-for-later') receipts.push(late.receiptId);
      // Dated a day before the regimen began: nothing could check it while the database was down.
      const early = await carer.client.administrations.record.mutate({
        regimenId: world.regimen.id,
        idempotencyKey: earlyKey,
        recordedAt: new Date(world.regimen.startsAt.getTime() - 24 * 3600_000),
      });
      if (early.status !== 'accepted-for-later')
        throw new Error(`expected accepted-for-later, got ${early.status}`);
      earlyReceipt = early.receiptId;
      // The receipts answer while the database is down.
      expect(await carer.client.administrations.receipt.query({ receiptId: receipts[0]! })).toMatchObject({
        state: 'pending',
      });
      // Nobody else sees them.
      const hidden = await failure(
        stranger.client.administrations.receipt.query({ receiptId: receipts[0]! }),
      );
      expect(hidden).toMatchObject({ status: 404, userFriendly: { reason: 'receipt-not-found' } });
    } finally {
      await server.startServer();
    }
    const back = Date.now();
    for (const receiptId of receipts.slice(0, keys.length))
      expect(await settled(carer, receiptId)).toMatchObject({ state: 'applied', created: true });
    expect(await settled(carer, receipts.at(-1)!)).toMatchObject({
      state: 'rejected',
      reason: 'regimen-ended',
    });
    expect(await settled(carer, earlyReceipt)).toMatchObject({
      state: 'rejected',
      reason: 'before-regimen-start',
    });
    expect(Date.now() - back).toBeLessThan(15_000);
    const counts = await countsByKey(app, [...keys, lateKey, earlyKey]);
    expect(keys.map((key) => counts.get(key))).toEqual(keys.map(() => 1));
    expect(counts.get(lateKey)).toBe(0);
    expect(counts.get(earlyKey)).toBe(0);
    expect(stockBefore - (await stockOf(app, { world }))).toBe(keys.length);
    // Sent again live now: the first recording, nothing more drawn.
    const retried = applied(
      await carer.client.administrations.record.mutate({
        regimenId: world.regimen.id,
        idempotencyKey: keys[1]!,
      }),
    );
    expect(retried.created).toBe(false);
    expect(stockBefore - (await stockOf(app, { world }))).toBe(keys.length);
  }, 90_000);

  it('fails a recording as before when Redis cannot take it either', async () => {
    const { server } = target;
    await server.stopServer();
    await redis.stopServer();
    try {
      const refused = await failure(
        carer.client.administrations.record.mutate({
          regimenId: world.regimen.id,
          idempotencyKey: randomUUID(),
        }),
      );
      expect([503, 504]).toContain(refused.status);
      expect(['CONNECTION', 'CIRCUIT_BREAKER', 'TIMEOUT']).toContain(refused.userFriendly?.type);
    } finally {
      await redis.startServer();
      await server.startServer();
    }
  }, 60_000);

  it('never defers a recording whose outcome is unknown: its backend dies at commit, the client gets the error, nothing is queued', async () => {
    const { app, admin } = target;
    // The backend ends itself at the dose's COMMIT (a deferred constraint trigger fires then): the
    // commit was sent and no answer came, which is what "outcome unknown" is. (A death before the
    // commit is a certain rollback: nothing applied, and such a recording may be deferred.)
    await admin.unsafe(`
      create or replace function fault_die_at_commit() returns trigger language plpgsql as $$
        begin
          if new.notes = 'die at commit' then perform pg_terminate_backend(pg_backend_pid()); end if;
          return new;
        end $$;
      create constraint trigger fault_die_at_commit after insert on administrations
        deferrable initially deferred for each row execute function fault_die_at_commit();`);
    // The database back in use after the test before (its breaker closed again).
    await expect
      .poll(async () => (await outcome(carer.client.households.list.query())).ok, { timeout: 30_000 })
      .toBe(true);
    try {
      const key = randomUUID();
      const refused = await failure(
        carer.client.administrations.record.mutate({
          regimenId: world.regimen.id,
          idempotencyKey: key,
          notes: 'die at commit',
        }),
      );
      expect(refused.status).toBe(503);
      expect(refused.userFriendly).toMatchObject({ type: 'CONNECTION' });
      const receiptId = receiptIdOf({
        userId: carer.userId,
        regimenId: world.regimen.id,
        idempotencyKey: key,
      });
      // The test before restarted Redis: the queue's connection may still be coming back (it queues
      // nothing offline, so a call before then fails at once). Asked again until it answers.
      await expect
        .poll(
          () =>
            app.deferredDoses!.queue.getJob(receiptId).then(
              (job) => ({ answered: true, job }),
              () => ({ answered: false }),
            ),
          { timeout: 15_000 },
        )
        .toEqual({ answered: true, job: undefined });
      expect((await countsByKey(app, [key])).get(key)).toBe(0);
    } finally {
      await admin.unsafe('drop trigger fault_die_at_commit on administrations');
    }
  }, 60_000);
});

describe('the deferred doses queue under REDIS_KEY_PREFIX', () => {
  it("keeps its BullMQ keys under the app's prefix (not BullMQ's default bull:), and neither takes nor answers for another app's doses on the same Redis", async () => {
    const carer = await signUp(target.app.url, 'deferred-prefix');
    const world = await createHouseholdWithAnimal(carer);
    const dose = (idempotencyKey: string) => ({
      userId: carer.userId,
      regimenId: world.regimen.id,
      idempotencyKey,
      acceptedAt: new Date().toISOString(),
    });
    // Another app on the same Redis, with its own prefix, holding a dose of the same regimen.
    const other = new DeferredDoseQueue(redis.url, 'other-app:', createLogger('silent'));
    const client = await redis.connect();
    try {
      const foreignKey = randomUUID();
      const foreignReceipt = await other.defer(dose(foreignKey));
      // One of this app's own, applied by its worker while the other app's dose waits.
      const ownKey = randomUUID();
      const ownReceipt = await target.app.deferredDoses!.defer(dose(ownKey));
      expect(await settled(carer, ownReceipt)).toMatchObject({ state: 'applied', created: true });
      expect(await (await other.queue.getJob(foreignReceipt))?.getState()).toBe('waiting');
      const counts = await countsByKey(target.app, [ownKey, foreignKey]);
      expect([counts.get(ownKey), counts.get(foreignKey)]).toEqual([1, 0]);
      // This app knows nothing of the other's receipt.
      const unknown = await failure(
        carer.client.administrations.receipt.query({ receiptId: foreignReceipt }),
      );
      expect(unknown).toMatchObject({ status: 404, userFriendly: { reason: 'receipt-not-found' } });
      // The keys themselves: each app's under its prefix, none under BullMQ's default.
      expect(await client.keys('bull:*')).toEqual([]);
      expect(await client.keys(`vetmed:bull:vetmed-deferred-doses:${ownReceipt}`)).toHaveLength(1);
      expect(await client.keys(`other-app:bull:vetmed-deferred-doses:${foreignReceipt}`)).toHaveLength(1);
    } finally {
      await other.queue.obliterate({ force: true });
      await other.close();
      client.disconnect();
    }
  }, 60_000);
});

describe('doses accepted for later across a Redis restart', () => {
  let carer: Actor;
  let world: World;
  beforeAll(async () => {
    carer = await signUp(target.app.url, 'deferred-restart');
    world = await createHouseholdWithAnimal(carer);
  });

  it('keeps accepted doses through a Redis restart (appendonly yes) and applies them once after', async () => {
    const { app, server } = target;
    const stockBefore = await stockOf(app, { world });
    const keys = Array.from({ length: 3 }, () => randomUUID());
    await server.stopServer();
    const receipts: string[] = [];
    try {
      for (const key of keys) {
        const answer = await carer.client.administrations.record.mutate({
          regimenId: world.regimen.id,
          idempotencyKey: key,
        });
        if (answer.status !== 'accepted-for-later')
          throw new Error(`expected accepted-for-later, got ${answer.status}`);
        receipts.push(answer.receiptId);
      }
      await redis.restartServer();
    } finally {
      await server.startServer();
    }
    for (const receiptId of receipts)
      expect(await settled(carer, receiptId, 20_000)).toMatchObject({ state: 'applied' });
    const counts = await countsByKey(app, keys);
    expect(keys.map((key) => counts.get(key))).toEqual([1, 1, 1]);
    expect(stockBefore - (await stockOf(app, { world }))).toBe(keys.length);
  }, 90_000);
});
