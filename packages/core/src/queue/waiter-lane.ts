/** Anything that can sit in a lane and later leave it from anywhere. */
export interface LaneEntry {
  /** Set once the entry has left the queue (granted, timed out, aborted, displaced). */
  settled: boolean;
}

/**
 * A FIFO of waiters for one priority. Leaving from the middle (abort, timeout) only marks the entry
 * settled; settled entries are skipped at either end and compacted away when they pile up, so every
 * operation is O(1) amortised.
 */
export class WaiterLane<T extends LaneEntry> {
  private items: T[] = [];
  private head = 0;
  private settledInside = 0;
  /** Entries not yet settled. */
  size = 0;

  push(entry: T): void {
    this.items.push(entry);
    this.size++;
  }

  /** The oldest waiting entry, or undefined. */
  peekOldest(): T | undefined {
    this.trimHead();
    return this.items[this.head];
  }

  /** Removes and returns the newest waiting entry (used to displace the latest arrival). */
  popNewest(): T | undefined {
    this.trimTail();
    if (this.items.length <= this.head) return undefined;
    const entry = this.items.pop()!;
    this.size--;
    return entry;
  }

  /** Removes and returns the oldest waiting entry. */
  shiftOldest(): T | undefined {
    const entry = this.peekOldest();
    if (entry === undefined) return undefined;
    this.head++;
    this.size--;
    this.maybeReset();
    return entry;
  }

  /** Call after settling an entry that is still inside the lane. */
  noteSettled(): void {
    this.size--;
    this.settledInside++;
    if (this.settledInside > 32 && this.settledInside > this.size) this.compact();
  }

  /** Iterates waiting entries, oldest first. */
  *entries(): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) {
      const entry = this.items[i]!;
      if (!entry.settled) yield entry;
    }
  }

  private trimHead(): void {
    while (this.head < this.items.length && this.items[this.head]!.settled) {
      this.head++;
      this.settledInside--;
    }
    this.maybeReset();
  }

  private trimTail(): void {
    while (this.items.length > this.head && this.items[this.items.length - 1]!.settled) {
      this.items.pop();
      this.settledInside--;
    }
  }

  private maybeReset(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      this.settledInside = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private compact(): void {
    this.items = this.items.slice(this.head).filter((entry) => !entry.settled);
    this.head = 0;
    this.settledInside = 0;
  }
}
