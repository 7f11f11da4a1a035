import { Priority } from '../priority.js';

/**
 * Keeps the event loop from saturating by admitting only a share of NORMAL calls while it is busier
 * than a target, and no LOW or BATCH call at all. A saturated loop does not show as lag first: new
 * requests wait unread in the kernel's socket buffers, urgent ones with the rest, and every answer
 * is late. Refusing all of a priority at a mark (what the marks do) swings between too much work
 * and none; a share that falls while the loop stays too busy and rises while it has room settles
 * near the most work the process can do with room to read new requests promptly.
 *
 * Background work (LOW and BATCH) is held back once the loop has been busier than the target for
 * `engageAfter` readings, whatever its turns: it waits for a quieter moment. NORMAL calls, which a
 * user is waiting for, are held back only while the loop's turns are also longer than `delayMs` (a
 * loop busy with many short callbacks still reads each new request within a turn).
 * The share falls in proportion to how far past the target a reading is (halved at a fully busy
 * loop); it grows while the loop has room (below `target - 0.05`, or turns at most half of
 * `delayMs`) towards the share that would fill the loop to the target, by at most half again and
 * at least by a tenth per reading. Admissions are spread evenly (a share of 0.3 admits 3 calls in
 * every 10), not drawn at random, so the admitted rate is steady.
 */
export class UtilizationThrottle {
  /** Share of NORMAL calls admitted, 1 when the throttle is not acting. */
  private admitted = 1;
  private credit = 0;
  private lastReading: number | undefined;

  /** Never below this share: some NORMAL work always goes on, and its outcome keeps being seen. */
  static readonly minimumShare = 0.05;
  private static readonly recoveryStep = 0.1;
  private static readonly recoveryGap = 0.05;

  /** Readings in a row past the target (utilisation and turns) so far, while not yet acting. */
  private busyReadings = 0;
  /** Readings in a row busier than the target (utilisation alone) so far. */
  private busyLoopReadings = 0;
  private background = false;

  /**
   * @param target utilisation to hold the loop at or below (0..1)
   * @param engageAfter readings in a row past the target before the throttle starts acting: a burst
   *   of requests shorter than that (a page's batch, a fresh process warming up) is served in full.
   * @param delayMs turns no longer than this (event-loop delay p99) never count as past the target;
   *   0 judges utilisation alone.
   */
  constructor(
    private readonly target: number,
    private readonly engageAfter = 1,
    private readonly delayMs = 0,
  ) {}

  /** The share of NORMAL calls admitted now (1: all). */
  get share(): number {
    return this.admitted;
  }

  /** True while a share of NORMAL calls is being held back. */
  get active(): boolean {
    return this.admitted < 1;
  }

  /**
   * The highest priority held back now, -1 when none: NORMAL while a share of it is, LOW while only
   * background work is (LOW and BATCH are held back whenever NORMAL is).
   */
  get heldThrough(): Priority | -1 {
    return this.admitted < 1 ? Priority.NORMAL : this.background ? Priority.LOW : -1;
  }

  /** The reading the share was last set from (0..1), if any. */
  get utilization(): number | undefined {
    return this.lastReading;
  }

  get targetUtilization(): number {
    return this.target;
  }

  /**
   * Adjusts the share from the event loop's utilisation over the last window (0..1) and its delay
   * (p99 turn, ms; undefined when not measured: utilisation alone then decides).
   */
  update(utilization: number | undefined, delayMs?: number): void {
    if (utilization === undefined || !(utilization >= 0)) return;
    this.lastReading = utilization;
    this.busyLoopReadings = utilization > this.target ? this.busyLoopReadings + 1 : 0;
    if (this.busyLoopReadings >= this.engageAfter) this.background = true;
    else if (utilization < this.target - UtilizationThrottle.recoveryGap) this.background = false;
    const turnsKnown = delayMs !== undefined && delayMs >= 0;
    const past = utilization > this.target && (!turnsKnown || this.delayMs === 0 || delayMs > this.delayMs);
    if (this.admitted >= 1) {
      this.busyReadings = past ? this.busyReadings + 1 : 0;
      if (this.busyReadings < this.engageAfter) return;
    }
    const room =
      utilization < this.target - UtilizationThrottle.recoveryGap ||
      (turnsKnown && this.delayMs > 0 && delayMs <= this.delayMs / 2);
    if (past) {
      const overshoot = Math.min(1, (utilization - this.target) / Math.max(1e-6, 1 - this.target));
      this.admitted = Math.max(UtilizationThrottle.minimumShare, this.admitted * (1 - overshoot / 2));
    } else if (room) {
      // Room to spare: grow towards the share that would fill the loop to the target (if work
      // follows the share), by at most half again (a burst's backlog is slow to drain at the target,
      // so overshooting costs more than creeping up), and by at least a step so a quiet loop
      // recovers fast.
      const towardsTarget = this.admitted * Math.min(1.5, this.target / Math.max(utilization, 0.01));
      this.admitted = Math.min(1, Math.max(towardsTarget, this.admitted + UtilizationThrottle.recoveryStep));
      if (this.admitted >= 1) this.credit = 0;
    }
  }

  /** Whether the next NORMAL call may go on. */
  admitNormal(): boolean {
    if (this.admitted >= 1) return true;
    this.credit += this.admitted;
    if (this.credit >= 1) {
      this.credit -= 1;
      return true;
    }
    return false;
  }
}
