// Finds the Chromium the browser tests drive (through playwright-core), installing Debian's package
// when it is missing and the process may (root, with apt-get). Used by the tests themselves and by
// .ci/run; run alone it prints the executable's path:
//   node tooling/ensure-chromium.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Where Debian's and Ubuntu's packages put the browser. */
const candidates = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const howToInstall =
  'Install it (Debian or Ubuntu: `sudo apt-get install -y chromium`), or set CHROMIUM_PATH to a Chromium or Chrome executable.';

/** Thrown when no Chromium can be found or installed; its message says what to do. */
export class ChromiumUnavailableError extends Error {
  name = 'ChromiumUnavailableError';
}

function installed() {
  return candidates.find((path) => existsSync(path));
}

function hasAptGet() {
  return spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The path of a Chromium executable: CHROMIUM_PATH when set, else Debian's `chromium`, installed
 * with apt-get first when it is missing and the process runs as root. Throws a
 * ChromiumUnavailableError that says how to install it otherwise.
 */
export function ensureChromium(env = process.env) {
  const chosen = env.CHROMIUM_PATH;
  if (chosen) {
    if (!existsSync(chosen))
      throw new ChromiumUnavailableError(`CHROMIUM_PATH is ${chosen}, which does not exist.`);
    return chosen;
  }
  const found = installed();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !hasAptGet())
    throw new ChromiumUnavailableError(
      `The browser tests need Chromium, which is not installed (looked at ${candidates.join(', ')}). ${howToInstall}`,
    );
  console.error('Chromium is missing: installing Debian\'s "chromium" package with apt-get (once)…');
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits for another apt-get (another tool installing its own package) rather than failing on its lock.
  const apt = (...args) =>
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: aptEnv,
    });
  const install = () => apt('install', '-y', '-qq', '--no-install-recommends', 'chromium');
  try {
    try {
      install();
    } catch {
      // The package lists may be missing or stale: fetch them, then try again.
      apt('update', '-qq');
      install();
    }
  } catch (error) {
    throw new ChromiumUnavailableError(
      `apt-get could not install chromium (${error.message}). ${howToInstall}`,
    );
  }
  const now = installed();
  if (!now)
    throw new ChromiumUnavailableError(
      `apt-get installed chromium, but it is not at ${candidates.join(' or ')}.`,
    );
  return now;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    console.log(ensureChromium());
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
