import type { HealthReport, Safeguards } from '@db-safeguards/core';

/** Options of {@link createHealthCache}. */
export interface HealthCacheOptions {
  /**
   * How long one report (and so one database probe) answers every health check, in ms. Default 1000.
   * 0 keeps no report, but callers arriving while a probe runs still share it.
   */
  maxAgeMs?: number;
  /** The clock, in ms. Default `Date.now`. */
  now?: () => number;
}

/** The health report of the process, shared by every caller. */
export interface HealthCache {
  /**
   * A report at most `maxAgeMs` old. When there is none, one `safeguards.health({ probe: true })`
   * runs and every caller arriving meanwhile waits for that same one.
   */
  report(): Promise<HealthReport>;
  /**
   * The kept report and when it was made, however old, without starting a probe (undefined before the
   * first report and after {@link invalidate}). For readers that must answer at once even while the
   * database is slow, such as the dashboard.
   */
  latest(): { report: HealthReport; madeAt: number } | undefined;
  /** Drops the kept report, so the next caller sees a change an operator has just made. */
  invalidate(): void;
  /** Reports made so far (each ran the database probe once). */
  readonly reportsMade: number;
}

export const defaultHealthCacheMs = 1000;

/**
 * Shares the health report, because each report runs a database probe on the CRITICAL reserve, and
 * CRITICAL is served before every user call: without sharing, a crowd of health checks (load
 * balancers, uptime monitors, or anyone with curl in a loop) would take the connection budget from the
 * users. With it, any number of health checks cost at most one probe per `maxAgeMs`.
 */
export function createHealthCache(safeguards: Safeguards, options: HealthCacheOptions = {}): HealthCache {
  const maxAgeMs = options.maxAgeMs ?? defaultHealthCacheMs;
  if (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 0)
    throw new TypeError(`Expected maxAgeMs to be an integer >= 0, got ${String(maxAgeMs)}`);
  const now = options.now ?? Date.now;
  let kept: { report: HealthReport; madeAt: number } | undefined;
  let pending: Promise<HealthReport> | undefined;
  // Bumped by invalidate(): a report started before it must not be kept after it.
  let generation = 0;
  let reportsMade = 0;

  const start = (): Promise<HealthReport> => {
    const startedIn = generation;
    reportsMade++;
    const made = safeguards.health({ probe: true }).then((report) => {
      if (startedIn === generation) kept = { report, madeAt: now() };
      return report;
    });
    pending = made;
    const clear = () => {
      if (pending === made) pending = undefined;
    };
    made.then(clear, clear);
    return made;
  };

  return {
    report() {
      if (kept && now() - kept.madeAt < maxAgeMs) return Promise.resolve(kept.report);
      return pending ?? start();
    },
    latest() {
      return kept;
    },
    invalidate() {
      generation++;
      kept = undefined;
      pending = undefined;
    },
    get reportsMade() {
      return reportsMade;
    },
  };
}
