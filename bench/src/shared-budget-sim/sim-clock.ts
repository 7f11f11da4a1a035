import type { Clock } from '@db-safeguards/core';

interface Entry {
  at: number;
  order: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * Simulated time for the shared-budget simulation: a binary heap of timers, run in time order. After
 * each timer the promise callbacks it released run too, so the real budget code (async) advances
 * exactly as it would between two real timers.
 */
export class SimClock implements Clock {
  private current = 0;
  private order = 0;
  private heap: Entry[] = [];
  events = 0;

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const entry: Entry = {
      at: this.current + Math.max(0, ms),
      order: this.order++,
      callback,
      cancelled: false,
    };
    this.push(entry);
    return entry;
  }

  clearTimeout(handle: unknown): void {
    if (handle) (handle as Entry).cancelled = true;
  }

  /** Runs every timer due up to `until`, in order. */
  async run(until: number): Promise<void> {
    while (this.heap.length > 0 && this.heap[0]!.at <= until) {
      const entry = this.pop()!;
      if (entry.cancelled) continue;
      this.current = entry.at;
      this.events += 1;
      entry.callback();
      for (let i = 0; i < 12; i++) await Promise.resolve();
    }
    this.current = until;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.less(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && this.less(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An exponentially distributed duration with the given mean. */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}
