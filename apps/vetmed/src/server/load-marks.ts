import type { LoadMarks, SheddablePriorityName } from '@db-safeguards/core';

const names: readonly SheddablePriorityName[] = ['BATCH', 'LOW', 'NORMAL', 'HIGH'];

/**
 * Reads load marks as written in an environment variable: `off`, or `PRIORITY=number` pairs joined by
 * commas, e.g. `LOW=50,NORMAL=200,HIGH=1000`, each number multiplied by `scale` (2^20 for
 * megabytes). Returns undefined for anything else: a priority that is not BATCH, LOW, NORMAL or HIGH,
 * a number that is not positive, a priority named twice, or marks that fall as priority rises.
 */
export function parseLoadMarks(value: string, scale = 1): LoadMarks | false | undefined {
  if (value.trim().toLowerCase() === 'off') return false;
  const marks: LoadMarks = {};
  for (const pair of value.split(',')) {
    const match = /^\s*([A-Za-z]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(pair);
    if (!match) return undefined;
    const name = match[1]!.toUpperCase() as SheddablePriorityName;
    const number = Number(match[2]);
    if (!names.includes(name) || name in marks || !(number > 0)) return undefined;
    marks[name] = number * scale;
  }
  let below = 0;
  for (const name of names) {
    const mark = marks[name];
    if (mark === undefined) continue;
    if (mark < below) return undefined;
    below = mark;
  }
  return marks;
}
