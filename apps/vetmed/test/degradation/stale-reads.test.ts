import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMaxStaleMs } from '../../src/degradation/stale-reads.js';
import { createHouseholdWithAnimal, failure, signUp } from '../app/app-client.js';
import { type FaultTarget, startFaultTarget } from '../faults/fault-fixture.js';

// Real PostgreSQL stopped under the app: the degradable reads answer their last good value, marked.
let target: FaultTarget;
beforeAll(async () => {
  target = await startFaultTarget({
    CIRCUIT_TIMEOUT_MS: '3000',
    STALE_READS_MAX_AGE_MS: String(defaultMaxStaleMs),
  });
}, 90_000);
afterAll(() => target?.stop());

describe('stale reads while PostgreSQL is down (HTTP, real server)', () => {
  it('answers history, regimens and inventory from the last good copy, marked degraded with its time; other calls fail typed', async () => {
    const { app, server } = target;
    const carer = await signUp(app.url, 'stale');
    const other = await signUp(app.url, 'stale-other');
    const world = await createHouseholdWithAnimal(carer);
    await carer.client.administrations.record.mutate({
      regimenId: world.regimen.id,
      idempotencyKey: 'stale-read-dose-1',
    });
    const readAt = Date.now();
    const history = await carer.client.administrations.history.query({ animalId: world.animal.id });
    const regimens = await carer.client.regimens.list.query({ animalId: world.animal.id });
    const stock = await carer.client.inventory.list.query({ householdId: world.household.id });
    expect(history).toMatchObject({ degraded: false });
    expect(history.value).toHaveLength(1);
    expect(regimens.value.map((regimen) => regimen.id)).toEqual([world.regimen.id]);
    expect(stock.value[0]).toMatchObject({ medicationId: world.medication.id, quantityOnHand: '9999.0000' });

    await server.stopServer();
    try {
      const staleHistory = await carer.client.administrations.history.query({ animalId: world.animal.id });
      expect(staleHistory).toMatchObject({ degraded: true, value: history.value });
      if (!staleHistory.degraded) throw new Error('unreachable');
      expect(staleHistory.asOf.getTime()).toBeGreaterThanOrEqual(readAt - 50);
      expect(staleHistory.asOf.getTime()).toBeLessThanOrEqual(Date.now());
      expect(['CONNECTION', 'CIRCUIT_BREAKER']).toContain(staleHistory.unavailable.type);
      expect(await carer.client.regimens.list.query({ animalId: world.animal.id })).toMatchObject({
        degraded: true,
        value: regimens.value,
      });
      expect(await carer.client.inventory.list.query({ householdId: world.household.id })).toMatchObject({
        degraded: true,
        value: stock.value,
      });
      // Nothing kept for another input, another user, or a read that is not degradable: typed 503s.
      const unread = await failure(
        carer.client.administrations.history.query({ animalId: world.animal.id, limit: 5 }),
      );
      expect(unread.status).toBe(503);
      const stranger = await failure(
        other.client.administrations.history.query({ animalId: world.animal.id }),
      );
      expect(stranger.status).toBe(503);
      expect((await failure(carer.client.households.list.query())).status).toBe(503);
    } finally {
      await server.startServer();
    }
    // Back: fresh again, and a stranger still gets NOT_FOUND, not the carer's copy.
    await expect
      .poll(
        async () =>
          (await carer.client.administrations.history.query({ animalId: world.animal.id }).catch(() => null))
            ?.degraded,
        { timeout: 20_000, interval: 300 },
      )
      .toBe(false);
    expect(
      (await failure(other.client.administrations.history.query({ animalId: world.animal.id }))).status,
    ).toBe(404);
  }, 120_000);
});
