import type { Clock, TimerHandle } from './clock.js';

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). */
export const maxTimerDelayMs = 2_147_483_647;

/** Something that must happen at `dueAt` unless it is cancelled first. Entries link themselves in. */
export interface DueEntry {
  dueAt: number;
  onDue(): void;
  /** @internal list links, owned by DueTimers */
  dueNext?: DueEntry | undefined;
  /** @internal */
  duePrev?: DueEntry | undefined;
  /** @internal */
  dueListed?: boolean;
}

/**
 * Many deadlines behind one clock timer. Arming a timer per operation would cost more than the rest
 * of the pipeline together, so entries go into an intrusive list (O(1) to add and remove, no
 * allocation) and one timer is armed at the earliest due time. A timer that fires with nothing due
 * re-arms for the next entry; deadlines usually grow (now + the same timeout), so it rarely re-arms.
 */
export class DueTimers {
  private head: DueEntry | undefined;
  private handle: TimerHandle | undefined;
  private armedAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  add(entry: DueEntry): void {
    if (entry.dueListed) this.delete(entry);
    entry.dueListed = true;
    entry.duePrev = undefined;
    entry.dueNext = this.head;
    if (this.head) this.head.duePrev = entry;
    this.head = entry;
    if (entry.dueAt < this.armedAt) this.arm(entry.dueAt);
  }

  /** Cancels `entry`. The armed timer stays: it is unref'd, and re-arming per operation is what this avoids. */
  delete(entry: DueEntry): void {
    if (!entry.dueListed) return;
    entry.dueListed = false;
    if (entry.duePrev) entry.duePrev.dueNext = entry.dueNext;
    else this.head = entry.dueNext;
    if (entry.dueNext) entry.dueNext.duePrev = entry.duePrev;
    entry.dueNext = entry.duePrev = undefined;
  }

  private arm(at: number): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    // Longer delays overflow setTimeout, which then fires after 1 ms, again and again. A clamped timer
    // fires early with nothing due and re-arms for what is left.
    const delay = Math.min(maxTimerDelayMs, Math.max(0, at - this.clock.now()));
    this.handle = this.clock.setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: DueEntry[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (let entry = this.head; entry; entry = entry.dueNext) {
      if (entry.dueAt <= now) due.push(entry);
      else if (entry.dueAt < earliest) earliest = entry.dueAt;
    }
    for (const entry of due) this.delete(entry);
    if (earliest !== Number.POSITIVE_INFINITY && earliest < this.armedAt) this.arm(earliest);
    for (const entry of due) entry.onDue();
  }
}
