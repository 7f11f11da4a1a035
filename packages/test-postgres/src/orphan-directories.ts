import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Leftovers of a killed test runner. Every throwaway server of the test packages (PostgreSQL here,
 * Redis in @db-safeguards/test-redis) lives in its own `<tmpdir>/<prefix>XXXXXX` directory with an
 * owner file naming the Node process that started it. `exit` hooks clean up after failed tests and
 * normal shutdowns, but a runner killed with SIGKILL runs no hook: the next run finds the directory,
 * sees its owner is gone, stops the server and removes the directory.
 */
const OWNER_FILE = 'owner.pid';

/** Records that the current Node process owns `dir`, so a later run can tell a leftover from a sibling's. */
export async function writeOwnerFile(dir: string): Promise<void> {
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
}

/**
 * Whether `pid` runs. A zombie counts as gone: an orphaned server is re-parented to PID 1, and in a
 * container PID 1 may reap its children late or never, while `kill(pid, 0)` still succeeds.
 */
export function isProcessAlive(pid: number): boolean {
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

/** The first line of a pid file as a pid, or undefined when the file is missing or holds no pid. */
export async function readPidFile(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** What {@link sweepOrphanDirectories} needs to know about one kind of server. */
export interface OrphanSweepSpec {
  /** Directory name prefix in the temp directory; nothing else is ever swept. */
  prefix: string;
  /**
   * Stops the server left running in `dir`, if any, and resolves true; resolves false to leave the
   * directory alone when a live pid cannot be confirmed to be that server. It must make sure a pid it
   * signals really is that server (pids are recycled), e.g. by its `/proc/<pid>/cwd` or command line.
   */
  stopServer(dir: string): Promise<boolean>;
}

/** Stops the servers of every `<prefix>*` directory whose owner process is gone, and removes the directories. */
export async function sweepOrphanDirectories(spec: OrphanSweepSpec): Promise<void> {
  const base = tmpdir();
  const names = (await readdir(base).catch(() => [])).filter((name) => name.startsWith(spec.prefix));
  for (const name of names) {
    const dir = join(base, name);
    const owner = await readPidFile(join(dir, OWNER_FILE));
    if (owner === undefined || isProcessAlive(owner)) continue;
    if (!(await spec.stopServer(dir).catch(() => false))) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
