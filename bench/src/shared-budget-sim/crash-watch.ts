import type { SimClock } from './sim-clock.js';
import type { SimulatedRedis } from './simulated-redis.js';

/** How long after a kill its slots were free for others, and how long until others held them. */
export interface CrashTimes {
  /** From each kill until Redis dropped the lease, ms. */
  freed: number[];
  /** How many of those leases a reap dropped (the rest ran out). */
  reaped: number;
  /**
   * From each kill until Redis's total reservation was back where it stood just before the lease was
   * dropped (the others took the slots up), ms; only kills for which that happened within 5 s.
   */
  takenUp: number[];
}

interface Kill {
  at: number;
  freedAt?: number;
  reaped?: boolean;
  /** Redis's reserved total just before the lease went (the dead lease's reservation included). */
  reservedBefore: number;
  takenUpAt?: number;
}

/** Follows killed instances' leases in the simulated Redis, after every call it runs. */
export class CrashWatch {
  private readonly kills: Kill[] = [];
  private readonly leaseHeld = new Map<string, Kill>();
  private readonly awaitingTakeUp = new Set<Kill>();
  private reservedBeforeCall = 0;

  constructor(
    private readonly sim: SimClock,
    private readonly redis: SimulatedRedis,
  ) {
    redis.observe((reaped) => this.afterCall(reaped));
  }

  /** The instance `id` was just killed. */
  killed(id: string): void {
    const kill: Kill = { at: this.sim.now(), reservedBefore: 0 };
    this.kills.push(kill);
    if (this.redis.state.leases.has(id)) this.leaseHeld.set(id, kill);
    else kill.freedAt = kill.at;
  }

  times(): CrashTimes {
    const freed = this.kills.filter((kill) => kill.freedAt !== undefined);
    return {
      freed: freed.map((kill) => kill.freedAt! - kill.at),
      reaped: freed.filter((kill) => kill.reaped).length,
      takenUp: this.kills
        .filter((kill) => kill.takenUpAt !== undefined)
        .map((kill) => kill.takenUpAt! - kill.at),
    };
  }

  private afterCall(reaped: readonly string[]): void {
    const now = this.sim.now();
    const reserved = this.redis.state.meta?.reserved ?? 0;
    for (const [id, kill] of this.leaseHeld) {
      if (this.redis.state.leases.has(id)) continue;
      this.leaseHeld.delete(id);
      kill.freedAt = now;
      kill.reaped = reaped.includes(id);
      kill.reservedBefore = this.reservedBeforeCall;
      this.awaitingTakeUp.add(kill);
    }
    for (const kill of this.awaitingTakeUp) {
      if (reserved >= kill.reservedBefore) {
        kill.takenUpAt = now;
        this.awaitingTakeUp.delete(kill);
      } else if (now - kill.freedAt! > 5000) this.awaitingTakeUp.delete(kill);
    }
    this.reservedBeforeCall = reserved;
  }
}
