/**
 * Priorities of the one connection budget, highest first. CRITICAL is for health checks and system
 * status (it may use the reserved slot), HIGH for what a user is waiting on (saving a form), NORMAL
 * for ordinary calls, LOW for background work and reports, BATCH for bulk imports.
 */
export const Priority = {
  CRITICAL: 4,
  HIGH: 3,
  NORMAL: 2,
  LOW: 1,
  BATCH: 0,
} as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

/** The names of {@link Priority}, e.g. for metric labels. */
export type PriorityName = keyof typeof Priority;

/** Every priority, highest first. */
export const priorities: readonly Priority[] = [4, 3, 2, 1, 0];

const names: Readonly<Record<Priority, PriorityName>> = {
  4: 'CRITICAL',
  3: 'HIGH',
  2: 'NORMAL',
  1: 'LOW',
  0: 'BATCH',
};

export function priorityName(priority: Priority): PriorityName {
  return names[priority];
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 4;
}

/** Accepts a priority number or name (`'HIGH'`, case-insensitive); `undefined` when it is neither. */
export function parsePriority(value: unknown): Priority | undefined {
  if (isPriority(value)) return value;
  if (typeof value === 'string') {
    const key = value.toUpperCase() as PriorityName;
    return Object.hasOwn(Priority, key) ? Priority[key] : undefined;
  }
  return undefined;
}
