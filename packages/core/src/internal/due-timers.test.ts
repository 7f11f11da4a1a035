import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import type { Clock } from './clock.js';
import { type DueEntry, DueTimers, maxTimerDelayMs } from './due-timers.js';

/** A ManualClock that remembers every delay it was asked for. */
class RecordingClock extends ManualClock implements Clock {
  readonly delays: number[] = [];

  override setTimeout(callback: () => void, ms: number) {
    this.delays.push(ms);
    return super.setTimeout(callback, ms);
  }
}

function entry(dueAt: number, fired: number[], clock: Clock): DueEntry {
  return { dueAt, onDue: () => fired.push(clock.now()) };
}

describe('DueTimers', () => {
  it('fires each entry at its due time, and not after it was deleted', async () => {
    const clock = new ManualClock(0);
    const timers = new DueTimers(clock);
    const fired: number[] = [];
    const late = entry(300, fired, clock);
    const cancelled = entry(200, fired, clock);
    timers.add(late);
    timers.add(entry(100, fired, clock));
    timers.add(cancelled);
    timers.delete(cancelled);
    await clock.advance(1000);
    expect(fired).toEqual([100, 300]);
  });

  it('clamps delays longer than setTimeout accepts and re-arms until the entry is due', async () => {
    const clock = new RecordingClock(0);
    const timers = new DueTimers(clock);
    const fired: number[] = [];
    const dueAt = 3 * maxTimerDelayMs + 5;
    timers.add(entry(dueAt, fired, clock));
    expect(Math.max(...clock.delays)).toBe(maxTimerDelayMs);
    await clock.advance(dueAt - 1);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([dueAt]);
    expect(clock.delays.every((ms) => ms <= maxTimerDelayMs)).toBe(true);
    expect(clock.delays).toHaveLength(4);
  });
});
