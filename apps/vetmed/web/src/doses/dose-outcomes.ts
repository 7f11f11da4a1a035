import { useSyncExternalStore } from 'react';

/** How the last dose recorded for a regimen ended, for the regimen's row to say. */
export type DoseOutcome =
  | { status: 'recorded'; recordedAt: Date; doseText: string; answeredAt: number }
  | { status: 'refused'; error: unknown; answeredAt: number }
  /** The server could not reach its database and kept the dose to record later: `receiptId` says how it went. */
  | {
      status: 'accepted-for-later';
      receiptId: string;
      recordedAt: Date;
      doseText: string;
      answeredAt: number;
    };

const listeners = new Set<() => void>();
let outcomes: ReadonlyMap<string, DoseOutcome> = new Map();

/** The last answer per regimen, in memory: a reload starts afresh (the history shows what was recorded). */
export const doseOutcomes = {
  set(regimenId: string, outcome: DoseOutcome): void {
    outcomes = new Map(outcomes).set(regimenId, outcome);
    for (const listener of listeners) listener();
  },
  clear(regimenId: string): void {
    if (!outcomes.has(regimenId)) return;
    const next = new Map(outcomes);
    next.delete(regimenId);
    outcomes = next;
    for (const listener of listeners) listener();
  },
  get: (regimenId: string): DoseOutcome | undefined => outcomes.get(regimenId),
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useDoseOutcome(regimenId: string): DoseOutcome | undefined {
  return useSyncExternalStore(doseOutcomes.subscribe, () => outcomes.get(regimenId));
}
