import { useSyncExternalStore } from 'react';

/**
 * A dose the person recorded that the server has not answered yet. Its idempotency key is chosen once,
 * when the person records it, and every send of it (retries, a send after a reload) carries the same
 * key and the same fields, so the server records it once however many times it arrives.
 */
export interface PendingDose {
  idempotencyKey: string;
  /** Who recorded it: only their session sends it. */
  userId: string;
  regimenId: string;
  animalId: string;
  /** What the history shows while it is pending ("Carprofen 75 mg"). */
  label: string;
  doseAmount: string;
  doseUnit: string;
  notes: string | undefined;
  /** When the dose was given: the moment it was recorded, not the moment it reaches the server. */
  recordedAt: string;
}

const storageKey = 'vetmed.pendingDoses';

/**
 * A random UUID (v4). `crypto.randomUUID` exists only on secure pages (HTTPS or localhost);
 * `getRandomValues` everywhere.
 */
function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
const listeners = new Set<() => void>();

function read(): PendingDose[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(storageKey) ?? '[]');
    return Array.isArray(parsed) ? (parsed as PendingDose[]) : [];
  } catch {
    return [];
  }
}

let doses: readonly PendingDose[] = read();

function notify(): void {
  for (const listener of listeners) listener();
}

function write(next: readonly PendingDose[]): void {
  doses = next;
  // Written before anything is sent: a reload, a closed tab or a crash at any moment after this
  // leaves the dose and its key to be sent again.
  localStorage.setItem(storageKey, JSON.stringify(next));
  notify();
}

// Another tab recorded a dose, or heard the answer to one.
window.addEventListener('storage', (event) => {
  if (event.key !== storageKey) return;
  doses = read();
  notify();
});

/**
 * The doses waiting for the server's answer, in localStorage: they survive a reload, a closed tab and
 * a crashed browser, and are sent again, with their keys, by `PendingDoseSender` in every open tab
 * of the person who recorded them (the server records a key once, so two tabs sending the same dose
 * record it once). One per regimen at a time: recording a regimen's dose again while its last one is
 * unanswered is refused, in every tab, which is also what makes a double click record one dose.
 */
export const pendingDoses = {
  list: (): readonly PendingDose[] => doses,
  forRegimen: (regimenId: string): PendingDose | undefined =>
    doses.find((dose) => dose.regimenId === regimenId),
  /** Adds the dose, with a new key, unless its regimen already has one pending. Returns the pending one. */
  add(dose: Omit<PendingDose, 'idempotencyKey' | 'recordedAt'>): PendingDose {
    const existing = pendingDoses.forRegimen(dose.regimenId);
    if (existing) return existing;
    const added: PendingDose = {
      ...dose,
      idempotencyKey: newIdempotencyKey(),
      recordedAt: new Date().toISOString(),
    };
    write([...doses, added]);
    return added;
  },
  /** The server answered (recorded it, or refused it for good): the key is no longer needed. */
  remove(idempotencyKey: string): void {
    write(doses.filter((dose) => dose.idempotencyKey !== idempotencyKey));
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** The pending doses, re-rendering when one is added or answered. */
export function usePendingDoses(): readonly PendingDose[] {
  return useSyncExternalStore(pendingDoses.subscribe, pendingDoses.list);
}
