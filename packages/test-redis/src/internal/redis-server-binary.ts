import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { RedisServerMissingError } from '../redis-server-missing-error.js';

const run = promisify(execFile);

/** Debian puts the binary in /usr/bin; source builds and Homebrew use /usr/local/bin. */
function candidateDirectories(): string[] {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return [...new Set([...fromPath, '/usr/bin', '/usr/local/bin', '/usr/sbin'])];
}

async function findBinary(directories: readonly string[]): Promise<string | undefined> {
  for (const dir of directories) {
    const file = join(dir, 'redis-server');
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/**
 * `apt-get install` as root. Parallel test processes may race for dpkg's lock, so apt waits for it;
 * a stale package list (a fresh container) gets one `apt-get update` and a second try.
 */
async function installWithApt(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    run(
      'apt-get',
      ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', 'redis-server'],
      {
        env,
        timeout: 600_000,
      },
    );
  try {
    await install();
  } catch {
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env, timeout: 600_000 });
    await install();
  }
}

let found: Promise<string> | undefined;

/**
 * The path of `redis-server` (`TEST_REDIS_SERVER_BIN` when set), installing Debian's package first when it is missing and this process
 * runs as root. Otherwise rejects with {@link RedisServerMissingError}. Resolved once per process.
 */
export function redisServerBinary(): Promise<string> {
  found ??= (async () => {
    const explicit = process.env.TEST_REDIS_SERVER_BIN;
    if (explicit !== undefined && explicit !== '') {
      const usable = await access(explicit, constants.X_OK).then(
        () => true,
        () => false,
      );
      if (!usable)
        throw new RedisServerMissingError([explicit], 'TEST_REDIS_SERVER_BIN names no executable file');
      return explicit;
    }
    const directories = candidateDirectories();
    const existing = await findBinary(directories);
    if (existing) return existing;
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      throw new RedisServerMissingError(directories, 'this process is not root, so it cannot install it');
    }
    try {
      await installWithApt();
    } catch (error) {
      throw new RedisServerMissingError(
        directories,
        `\`apt-get install -y redis-server\` failed: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    const installed = await findBinary(directories);
    if (!installed)
      throw new RedisServerMissingError(directories, 'apt-get installed no redis-server binary');
    return installed;
  })();
  found.catch(() => {
    found = undefined;
  });
  return found;
}
