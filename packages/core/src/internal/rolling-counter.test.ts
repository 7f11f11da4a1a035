import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import { RollingCounter } from './rolling-counter.js';

describe('RollingCounter', () => {
  it('sums the events of the window and forgets the ones that left it', async () => {
    const clock = new ManualClock(0);
    const counter = new RollingCounter(clock, 10_000, 10);
    counter.add(2);
    await clock.advance(5_000);
    counter.add(3);
    expect(counter.total()).toBe(5);
    await clock.advance(6_000);
    expect(counter.total()).toBe(3);
    await clock.advance(20_000);
    expect(counter.total()).toBe(0);
  });

  it('counts an event stamped in an earlier bucket without erasing the newer ones', async () => {
    const clock = new ManualClock(0);
    const counter = new RollingCounter(clock, 10_000, 10);
    const startedAt = clock.now() + 900; // an operation that started in bucket 0...
    await clock.advance(1_500);
    counter.add(1); // ...another event lands in bucket 1...
    counter.add(1, startedAt); // ...then the first one is recorded with its start time.
    expect(counter.total()).toBe(2);
    counter.add(1);
    expect(counter.total()).toBe(3);
  });

  it('counts an event stamped before the window in its oldest bucket, the first to expire', async () => {
    const clock = new ManualClock(0);
    const counter = new RollingCounter(clock, 10_000, 10);
    await clock.advance(30_000);
    counter.add(1);
    counter.add(5, 1_000); // e.g. a call that started 29 s ago and ended now
    expect(counter.total()).toBe(6);
    await clock.advance(999);
    expect(counter.total()).toBe(6);
    await clock.advance(1);
    expect(counter.total()).toBe(1);
  });
});
