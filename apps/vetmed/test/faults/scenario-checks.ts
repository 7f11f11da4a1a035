import type { BreakerState } from '@db-safeguards/core';
import { expect } from 'vitest';
import type { RunningVetmed } from '../../src/start-vetmed.js';
import { recordScenario, type ScenarioFigures } from './fault-fixture.js';
import {
  type CallRecord,
  type CommittedAttempts,
  checkLedger,
  type LedgerCheck,
  type LoadUser,
  type watchRetries,
} from './steady-load.js';

/** Every failure a client saw carries typed userFriendly data. */
export function expectAllTyped(records: readonly CallRecord[]): void {
  for (const record of records.filter((r) => !r.ok)) {
    expect(record.userFriendly, `untyped failure (status ${record.status})`).toBeDefined();
    expect(record.status).toBeGreaterThanOrEqual(400);
  }
}

/**
 * How every load scenario ends: after the clients' retries, no acknowledged write is lost or doubled,
 * by key and by the stock each dose draws down, and the server never retried a write whose failed
 * attempt may have been applied. Then the scenario's figures are saved for docs/reliability.md;
 * `notes` may quote the ledger.
 */
export async function finishScenario(
  id: string,
  run: {
    app: RunningVetmed;
    /** Committed executions per key, counted at the database (`FaultTarget.committedAttempts`). */
    committedAttempts: CommittedAttempts;
    users: LoadUser[];
    records: CallRecord[];
    retries: ReturnType<typeof watchRetries>;
  },
  described: Pick<ScenarioFigures, 'scenario' | 'load' | 'faults' | 'recoveryMs'> & {
    notes: (ledger: LedgerCheck) => string[];
  },
): Promise<LedgerCheck> {
  const ledger = await checkLedger(run.app, run.users, run.records, run.committedAttempts);
  run.retries.stop();
  expect(ledger.stillUnacknowledged, 'every failed write is acknowledged once resent').toBe(0);
  expect(ledger.lost).toBe(0);
  expect(ledger.duplicated).toBe(0);
  expect(ledger.stockMismatches, 'stock drawn down = distinct acknowledged doses, per user').toEqual([]);
  expect(ledger.stockDrawn).toBe(ledger.distinctDoses);
  expect(ledger.reExecuted, 'no write executed again by the server after it had been applied').toBe(0);
  recordScenario(id, {
    scenario: described.scenario,
    load: described.load,
    faults: described.faults,
    requests: run.records.length,
    acknowledgedWrites: ledger.acknowledged,
    unacknowledgedWrites: ledger.unacknowledged,
    lostWrites: ledger.lost,
    duplicatedWrites: ledger.duplicated,
    stockDrawn: ledger.stockDrawn,
    distinctDoses: ledger.distinctDoses,
    recoveryMs: described.recoveryMs,
    notes: [
      ...described.notes(ledger),
      `${run.retries.retries.length} server-side retries (${run.retries.inWriteProcedure().length} inside dose recordings); no dose was executed twice by the database (${ledger.reExecuted} re-executed, counted by a trigger), and the stock drawn down (${ledger.stockDrawn} doses) equals the distinct doses acknowledged (${ledger.distinctDoses})`,
    ],
  });
  return ledger;
}

export const longest = (records: readonly CallRecord[]) =>
  Math.max(0, ...records.map((record) => record.endedAt - record.startedAt));

/**
 * The first call that started after `since` and was served live: how long after `since` it ended. A
 * degraded answer (a history from the last good copy, a recording accepted for later) is the app
 * coping without its database, not serving again, so it never counts as recovery.
 */
export function recoveryAfter(records: readonly CallRecord[], since: number): number | null {
  const first = records
    .filter((record) => record.ok && record.degraded === undefined && record.startedAt >= since)
    .sort((a, b) => a.endedAt - b.endedAt)[0];
  return first ? first.endedAt - since : null;
}

/** A breaker's state changes, in order, with the time the test saw them and its failure count then. */
export type BreakerTimeline = Array<{ to: BreakerState; at: number; failures: number }>;

/** The breaker's state for the whole of a call, or undefined when it changed while the call ran. */
export function stateThroughout(timeline: BreakerTimeline, call: CallRecord): BreakerState | undefined {
  const before = timeline.filter((t) => t.at <= call.startedAt).at(-1);
  const changedDuring = timeline.some((t) => t.at > call.startedAt && t.at <= call.endedAt);
  return before && !changedDuring ? before.to : undefined;
}

/** "503 CIRCUIT_BREAKER ×12, 504 TIMEOUT ×1": how calls failed, from what their clients saw. */
export function describeFailures(records: readonly CallRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of records.filter((record) => !record.ok)) {
    const label = `${r.status} ${r.userFriendly?.type ?? 'untyped'}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return counts.size === 0
    ? 'none'
    : [...counts]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, n]) => `${label} ×${n}`)
        .join(', ');
}
