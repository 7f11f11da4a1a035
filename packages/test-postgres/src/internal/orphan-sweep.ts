import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Every server's directory lives in `<tmpdir>/<ROOT_PREFIX>XXXXXX`; nothing else is ever swept. */
export const ROOT_PREFIX = 'db-safeguards-pg-';
const OWNER_FILE = 'owner.pid';

/** Records which Node process owns a server directory, so a later run can tell a leftover from a sibling. */
export async function writeOwnerFile(rootDir: string): Promise<void> {
  await writeFile(join(rootDir, OWNER_FILE), String(process.pid));
}

/**
 * Whether `pid` runs. A zombie counts as gone: an orphaned postmaster is re-parented to PID 1, and in a
 * container PID 1 may reap its children late or never, while `kill(pid, 0)` still succeeds.
 */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * The `exit` hooks cover failed tests and normal shutdowns, but a test runner killed with SIGKILL leaves
 * its PostgreSQL running and its data directory behind. The next run cleans up after it: a directory
 * whose owner process is gone gets its postmaster stopped (only if that pid really runs from this
 * directory, so a recycled pid is never signalled) and is removed.
 */
export async function sweepOrphans(): Promise<void> {
  const base = tmpdir();
  const names = (await readdir(base).catch(() => [])).filter((name) => name.startsWith(ROOT_PREFIX));
  for (const name of names) {
    const rootDir = join(base, name);
    const owner = await readPid(join(rootDir, OWNER_FILE));
    if (owner === undefined || isProcessAlive(owner)) continue;
    const postmaster = await readPid(join(rootDir, 'data', 'postmaster.pid'));
    if (postmaster !== undefined && isProcessAlive(postmaster)) {
      const cmdline = await readFile(`/proc/${postmaster}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.includes(rootDir)) continue;
      process.kill(postmaster, 'SIGQUIT');
      for (let i = 0; i < 50 && isProcessAlive(postmaster); i++) await sleep(50);
    }
    await rm(rootDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
