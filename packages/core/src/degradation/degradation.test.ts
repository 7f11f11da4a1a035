import { describe, expect, it } from 'vitest';
import { SafeguardError } from '../errors/safeguard-error.js';
import { ManualClock } from '../testing/manual-clock.js';
import { gatherPartial } from './partial-results.js';
import { StaleCache } from './stale-cache.js';
import { applyOrDefer } from './write-deferral.js';

const unavailable = () =>
  new SafeguardError({ type: 'CIRCUIT_BREAKER', reason: 'circuit-open', notApplied: true });
const lostMidWrite = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('StaleCache', () => {
  it('serves the last good value, flagged degraded, while the database is unavailable', async () => {
    const clock = new ManualClock();
    const cache = new StaleCache<string[]>({ clock, maxStaleMs: 60_000 });
    await expect(cache.read('animals:h1', async () => ['Rex'])).resolves.toEqual({
      value: ['Rex'],
      degraded: false,
    });
    clock.set(clock.now() + 5000);
    const stale = await cache.read('animals:h1', () => Promise.reject(unavailable()));
    expect(stale).toMatchObject({
      value: ['Rex'],
      degraded: true,
      staleForMs: 5000,
      error: { type: 'CIRCUIT_BREAKER' },
    });
  });

  it('rethrows errors that are not about availability, and copies that are too old', async () => {
    const clock = new ManualClock();
    const cache = new StaleCache<number>({ clock, maxStaleMs: 1000 });
    await cache.read('k', async () => 1);
    await expect(
      cache.read('k', () => Promise.reject(Object.assign(new Error('dup'), { code: '23505' }))),
    ).rejects.toMatchObject({ type: 'CONFLICT' });
    clock.set(clock.now() + 2000);
    await expect(cache.read('k', () => Promise.reject(unavailable()))).rejects.toMatchObject({
      type: 'CIRCUIT_BREAKER',
    });
    await expect(cache.read('never-loaded', () => Promise.reject(unavailable()))).rejects.toMatchObject({
      type: 'CIRCUIT_BREAKER',
    });
  });

  it('keeps at most maxEntries', async () => {
    const cache = new StaleCache<number>({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) await cache.read(`k${i}`, async () => i);
    expect(cache.size).toBe(3);
  });

  it('with refreshIntervalMs, keeps its copy until it is that old, and then takes the next answer; a served copy says its true age', async () => {
    const clock = new ManualClock();
    const cache = new StaleCache<number>({ clock, maxStaleMs: 60_000, refreshIntervalMs: 1000 });
    // Every fresh answer still reaches its caller.
    await expect(cache.read('k', async () => 1)).resolves.toEqual({ value: 1, degraded: false });
    clock.set(clock.now() + 600);
    await expect(cache.read('k', async () => 2)).resolves.toEqual({ value: 2, degraded: false });
    // 2 was not kept (the copy of 1 is 600 ms old): the database goes away, 1 is served, 900 ms old.
    clock.set(clock.now() + 300);
    await expect(cache.read('k', () => Promise.reject(unavailable()))).resolves.toMatchObject({
      value: 1,
      degraded: true,
      staleForMs: 900,
    });
    // Once the copy is a second old, the next answer replaces it.
    clock.set(clock.now() + 100);
    await cache.read('k', async () => 3);
    await expect(cache.read('k', () => Promise.reject(unavailable()))).resolves.toMatchObject({
      value: 3,
      staleForMs: 0,
    });
    expect(() => new StaleCache({ refreshIntervalMs: -1 })).toThrow('refreshIntervalMs');
  });
});

describe('applyOrDefer', () => {
  it('applies the write when it can', async () => {
    const deferred: unknown[] = [];
    await expect(
      applyOrDefer(
        async () => 'id-1',
        { dose: 1 },
        (payload) => String(deferred.push(payload)),
      ),
    ).resolves.toEqual({ status: 'applied', value: 'id-1' });
    expect(deferred).toEqual([]);
  });

  it('defers a write the database certainly did not apply', async () => {
    const deferred: unknown[] = [];
    const outcome = await applyOrDefer(
      () => Promise.reject(unavailable()),
      { dose: 1 },
      (payload) => {
        deferred.push(payload);
        return 'receipt-1';
      },
    );
    expect(outcome).toMatchObject({ status: 'deferred', receiptId: 'receipt-1' });
    expect(deferred).toEqual([{ dose: 1 }]);
  });

  it('never defers a write whose outcome is unknown (it could be applied twice)', async () => {
    const deferred: unknown[] = [];
    await expect(
      applyOrDefer(
        () => Promise.reject(lostMidWrite()),
        { dose: 1 },
        (payload) => String(deferred.push(payload)),
      ),
    ).rejects.toMatchObject({
      type: 'CONNECTION',
      notApplied: false,
    });
    expect(deferred).toEqual([]);
  });
});

describe('gatherPartial', () => {
  it('returns the parts that loaded and flags the missing ones', async () => {
    const result = await gatherPartial({
      animals: async () => ['Rex'],
      history: () => Promise.reject(unavailable()),
      inventory: async () => 3,
    });
    expect(result.data).toEqual({ animals: ['Rex'], inventory: 3 });
    expect(result.partial).toBe(true);
    expect(result.missing).toEqual(['history']);
    expect(result.errors.history).toMatchObject({ type: 'CIRCUIT_BREAKER' });
  });

  it('is not partial when everything loads', async () => {
    expect(await gatherPartial({ a: async () => 1 })).toMatchObject({ partial: false, missing: [] });
  });
});
