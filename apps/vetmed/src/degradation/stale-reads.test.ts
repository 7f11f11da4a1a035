import { SafeguardError } from '@db-safeguards/core';
import { ManualClock } from '@db-safeguards/core/testing';
import { describe, expect, it } from 'vitest';
import { SessionCache } from '../trpc/session-cache.js';
import { StaleReads } from './stale-reads.js';

const outage = () => Promise.reject(new SafeguardError({ type: 'CIRCUIT_BREAKER', reason: 'circuit-open' }));
const rex = { userId: 'u1', procedure: 'administrations.history', input: { animalId: 'rex' } };

describe('StaleReads', () => {
  it('answers the last good value during an outage, marked with the time it is from and why', async () => {
    const clock = new ManualClock(Date.parse('2026-12-06T14:02:00Z'));
    const reads = new StaleReads({ clock });
    expect(await reads.read(rex, async () => ['dose 1'])).toEqual({ value: ['dose 1'], degraded: false });
    clock.set(clock.now() + 90_000);
    expect(await reads.read(rex, outage)).toEqual({
      value: ['dose 1'],
      degraded: true,
      asOf: new Date('2026-12-06T14:02:00Z'),
      unavailable: { type: 'CIRCUIT_BREAKER', reason: 'circuit-open' },
    });
  });

  it('keeps answers per user and input: another user, or another animal, gets the failure', async () => {
    const reads = new StaleReads();
    await reads.read(rex, async () => ['dose 1']);
    await expect(reads.read({ ...rex, userId: 'u2' }, outage)).rejects.toMatchObject({
      type: 'CIRCUIT_BREAKER',
    });
    await expect(reads.read({ ...rex, input: { animalId: 'tom' } }, outage)).rejects.toMatchObject({
      type: 'CIRCUIT_BREAKER',
    });
  });

  it('never answers a copy older than maxStaleMs, nor hides a failure that is not an outage', async () => {
    const clock = new ManualClock();
    const reads = new StaleReads({ clock, maxStaleMs: 60_000 });
    await reads.read(rex, async () => 1);
    await expect(
      reads.read(rex, () => Promise.reject(new SafeguardError({ type: 'NOT_FOUND', reason: 'not-found' }))),
    ).rejects.toMatchObject({ type: 'NOT_FOUND' });
    clock.set(clock.now() + 60_001);
    await expect(reads.read(rex, outage)).rejects.toMatchObject({ type: 'CIRCUIT_BREAKER' });
  });

  it('with maxStaleMs 0 answers nothing stale: every failure reaches the caller', async () => {
    const reads = new StaleReads({ maxStaleMs: 0 });
    await reads.read(rex, async () => 1);
    await expect(reads.read(rex, outage)).rejects.toMatchObject({ type: 'CIRCUIT_BREAKER' });
    expect(reads.size).toBe(0);
  });

  it('keeps at most one answer a second per read by default, and says how old the one it serves is', async () => {
    const clock = new ManualClock(Date.parse('2026-12-06T14:02:00Z'));
    const reads = new StaleReads({ clock });
    await reads.read(rex, async () => ['dose 1']);
    clock.set(clock.now() + 400);
    // Fresh answers always reach the caller; this one is not kept (the kept one is 400 ms old).
    expect(await reads.read(rex, async () => ['dose 1', 'dose 2'])).toEqual({
      value: ['dose 1', 'dose 2'],
      degraded: false,
    });
    clock.set(clock.now() + 100);
    expect(await reads.read(rex, outage)).toMatchObject({
      value: ['dose 1'],
      asOf: new Date('2026-12-06T14:02:00Z'),
    });
    clock.set(clock.now() + 500);
    await reads.read(rex, async () => ['dose 1', 'dose 2']);
    expect(await reads.read(rex, outage)).toMatchObject({
      value: ['dose 1', 'dose 2'],
      asOf: new Date('2026-12-06T14:02:01Z'),
    });
    // refreshIntervalMs 0: every answer is kept.
    const every = new StaleReads({ clock, refreshIntervalMs: 0 });
    await every.read(rex, async () => 1);
    await every.read(rex, async () => 2);
    expect(await every.read(rex, outage)).toMatchObject({ value: 2 });
  });

  it('holds at most maxEntries answers', async () => {
    const reads = new StaleReads({ maxEntries: 5 });
    for (let i = 0; i < 50; i++) await reads.read({ ...rex, input: { animalId: `a${i}` } }, async () => i);
    expect(reads.size).toBe(5);
  });
});

describe('SessionCache.lastVerified', () => {
  const user = {
    id: 'u1',
    email: 'a@example.test',
    name: 'A',
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };

  it('remembers a verified token past its time to live, for outages only, up to staleTtlMs', () => {
    const sessions = new SessionCache(30_000, 100, 600_000);
    sessions.set('token-1', user, 0);
    expect(sessions.get('token-1', 31_000)).toBeUndefined();
    expect(sessions.lastVerified('token-1', 31_000)).toEqual(user);
    expect(sessions.lastVerified('token-1', 630_001)).toBeUndefined();
    expect(sessions.get('token-1', 630_001)).toBeUndefined();
  });

  it('forgets a token signed out on this instance at once', () => {
    const sessions = new SessionCache();
    sessions.set('token-1', user, 0);
    sessions.delete('token-1');
    expect(sessions.lastVerified('token-1', 1)).toBeUndefined();
  });
});
