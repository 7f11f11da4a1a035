import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, readPidFile, sweepOrphanDirectories } from '../orphan-directories.js';

/** Every server's directory lives in `<tmpdir>/<ROOT_PREFIX>XXXXXX`; nothing else is ever swept. */
export const ROOT_PREFIX = 'db-safeguards-pg-';

/**
 * The next run cleans up after a runner killed with SIGKILL (see orphan-directories.ts): a leftover
 * postmaster is stopped only if that pid really runs from the directory, so a recycled pid is never
 * signalled.
 */
export function sweepOrphans(): Promise<void> {
  return sweepOrphanDirectories({
    prefix: ROOT_PREFIX,
    async stopServer(rootDir) {
      const postmaster = await readPidFile(join(rootDir, 'data', 'postmaster.pid'));
      if (postmaster === undefined || !isProcessAlive(postmaster)) return true;
      const cmdline = await readFile(`/proc/${postmaster}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.includes(rootDir)) return false;
      process.kill(postmaster, 'SIGQUIT');
      for (let i = 0; i < 50 && isProcessAlive(postmaster); i++) await sleep(50);
      return true;
    },
  });
}
