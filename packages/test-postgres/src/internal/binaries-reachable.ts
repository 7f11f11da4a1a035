import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BinariesUnreachableError } from '../binaries-unreachable-error.js';

const OTHERS_MAY_ENTER = 0o001;

/** The first directory from `start` up that other users cannot enter, with its mode; else undefined. */
export function firstClosedDirectory(start: string): { directory: string; mode: number } | undefined {
  let directory = start;
  for (;;) {
    const { mode } = statSync(directory);
    if ((mode & OTHERS_MAY_ENTER) === 0) return { directory, mode };
    const parent = dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}

/** Throws {@link BinariesUnreachableError} for the first directory from `start` up that others cannot enter. */
export function assertOthersMayEnter(start: string): void {
  const closed = firstClosedDirectory(start);
  if (closed) throw new BinariesUnreachableError(closed.directory, closed.mode);
}
