import { Priority } from '@db-safeguards/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/env.js';
import { overviewAdherenceTimeoutMs } from '../../src/routers/household-overview.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';
import { createHouseholdWithAnimal, signUp } from '../app/app-client.js';
import { rateLimitsOutOfTheWay } from '../faults/fault-fixture.js';

// The household overview gathers its parts with gatherPartial: a failing LOW summary, the rest answered.
let app: RunningVetmed;
beforeAll(async () => {
  const config = loadEnv({
    PGLITE_DATA_DIR: 'memory://',
    SEED_DEMO: 'false',
    PORT: '0',
    LOG_LEVEL: 'silent',
    TRUST_PROXY: '127.0.0.1',
    ...rateLimitsOutOfTheWay,
  });
  app = await startVetmed(config, { log: createLogger('silent') });
}, 60_000);
afterAll(() => app?.stop());

describe('households.overview (partial pages)', () => {
  it('answers every part when everything loads', async () => {
    const owner = await signUp(app.url, 'overview');
    const world = await createHouseholdWithAnimal(owner);
    const overview = await owner.client.households.overview.query({ householdId: world.household.id });
    expect(overview).toMatchObject({
      partial: false,
      missing: [],
      unavailable: {},
      role: 'owner',
      household: { id: world.household.id, members: [{ userId: owner.userId, role: 'owner' }] },
      animals: [{ id: world.animal.id, name: 'Rex' }],
      stock: [{ medicationId: world.medication.id, low: false }],
      adherence: [{ regimenId: world.regimen.id, recorded: 0, expected: 14 }],
    });
  });

  it('a LOW adherence summary that gets no slot in time leaves the household, animals and stock on the page, the summary marked missing with why', async () => {
    const owner = await signUp(app.url, 'overview-shed');
    const world = await createHouseholdWithAnimal(owner);
    await owner.client.households.overview.query({ householdId: world.household.id });
    // LOW work held back, as an operator does from the dashboard under load (or as a queue busy with
    // higher priorities does). A part of a call already under way is not shed by queue fill (it is a
    // continuation), so the summary waits for a slot until its own 2 s deadline, then gives up alone.
    app.safeguards.pause([Priority.LOW]);
    const started = Date.now();
    try {
      const overview = await owner.client.households.overview.query({ householdId: world.household.id });
      expect(overview.partial).toBe(true);
      expect(overview.missing).toEqual(['adherence']);
      expect(overview.adherence).toBeUndefined();
      expect(overview.unavailable.adherence).toMatchObject({ type: 'TIMEOUT' });
      expect(overview.unavailable.adherence!.message.length).toBeGreaterThan(10);
      expect(overview.household?.name).toBe('Home');
      expect(overview.animals?.map((animal) => animal.id)).toEqual([world.animal.id]);
      expect(overview.stock).toHaveLength(1);
      // Within the summary's own deadline, well before the call's (10 s).
      expect(Date.now() - started).toBeLessThan(overviewAdherenceTimeoutMs + 3000);
    } finally {
      app.safeguards.resume([Priority.LOW]);
    }
    // The load gone, the summary is back.
    expect(await owner.client.households.overview.query({ householdId: world.household.id })).toMatchObject({
      partial: false,
      adherence: [{ regimenId: world.regimen.id }],
    });
  });
});
