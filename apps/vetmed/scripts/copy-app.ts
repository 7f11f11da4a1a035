/**
 * Makes a standalone copy of this app, one that npm installs, builds and starts outside this workspace
 * (README: "Copying this app"). From the repository root, after `npx -y pnpm@10 install`:
 *
 *   npx -y pnpm@10 --filter @db-safeguards/vetmed copy-app /path/to/my-app
 *
 * The app as it is here needs the workspace: its package.json names the @db-safeguards packages as
 * "workspace:*" and its other dependencies as "catalog:", its tsconfigs extend the repository's
 * tsconfig.base.json, its tests and screenshots script use the repository's test-postgres and test-redis
 * packages, and pnpm patches its postgres.js (`patchedDependencies` in pnpm-workspace.yaml). The copy:
 * - has the @db-safeguards packages built and packed by pnpm into `vendor/` (pnpm replaces their own
 *   "workspace:*" with the version) and depends on those tarballs through `file:`;
 * - has every "catalog:" replaced with the catalog's version;
 * - has postgres.js as the workspace installs it, with the patch applied, packed into `vendor/` too (and
 *   the patch itself in `patches/`, to read), so npm installs the patched driver;
 * - leaves out test/, scripts/, vitest.config.ts and turbo.json, the devDependencies only they use, and
 *   the scripts that run them; the unit tests next to the sources stay (`npm test`);
 * - has tsconfig.base.json copied in and its tsconfigs extending that copy;
 * - has the npm `overrides` that lets @trpc/tanstack-react-query use the app's tRPC 11.25.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const appDir = fileURLToPath(new URL('..', import.meta.url));
export const repoRoot = resolve(appDir, '../..');

/** Top-level entries of the app not copied: build output and local data, and what needs the repository. */
const notCopied = new Set([
  'node_modules',
  'dist',
  '.data',
  '.turbo',
  'coverage',
  // Tests that start a real PostgreSQL or Redis through the repository's test-postgres / test-redis.
  'test',
  // screenshots.ts (test-postgres and test/'s helpers) and this script.
  'scripts',
  // Both extend the repository's own configuration (tooling/vitest.shared.ts, the root turbo.json).
  'vitest.config.ts',
  'turbo.json',
]);

/** devDependencies that only test/ and scripts/screenshots.ts use. */
const testOnlyDevDependencies = [
  '@db-safeguards/test-postgres',
  '@db-safeguards/test-redis',
  'fast-check',
  'playwright-core',
];

/** Scripts that run what is not copied. */
const droppedScripts = ['test:security', 'screenshots', 'copy-app'];

/**
 * The workspace points imports of its own packages at their TypeScript sources with this condition (no
 * build needed in between). The copy installs the packages, so it imports their built `dist`.
 */
const sourceCondition = '@db-safeguards/source';

/**
 * One top-level map of pnpm-workspace.yaml (`catalog`, `patchedDependencies`): its `key: value` lines,
 * indented, up to the next unindented line. Enough for this file's flat maps; no YAML dependency.
 */
export function readWorkspaceMap(yaml: string, section: string): Record<string, string> {
  const lines = yaml.split('\n');
  const start = lines.findIndex((line) => line.trimEnd() === `${section}:`);
  if (start === -1) throw new Error(`pnpm-workspace.yaml has no "${section}:" map`);
  const map: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (!/^\s/.test(line)) break;
    const match = line.match(/^\s+("[^"]+"|[^:\s]+):\s*(\S+)\s*$/);
    if (!match) throw new Error(`pnpm-workspace.yaml: cannot read "${line.trim()}" in ${section}`);
    map[match[1]!.replace(/^"|"$/g, '')] = match[2]!.replace(/^"|"$/g, '');
  }
  return map;
}

type PackageJson = {
  name: string;
  exports?: Record<string, Record<string, string>>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  overrides?: Record<string, unknown>;
  [key: string]: unknown;
};

/**
 * The copy's package.json. `vendored` maps a dependency to its tarball in the copy (`vendor/….tgz`):
 * every "workspace:" dependency must be there; so may a "catalog:" one (the patched postgres.js).
 */
export function standalonePackageJson(
  pkg: PackageJson,
  catalog: Record<string, string>,
  vendored: Record<string, string>,
): PackageJson {
  const specifier = (name: string, spec: string): string => {
    const tarball = vendored[name];
    if (tarball !== undefined) return `file:${tarball}`;
    if (spec.startsWith('workspace:')) throw new Error(`${name} (${spec}) was not packed into vendor/`);
    if (spec === 'catalog:') {
      const version = catalog[name];
      if (version === undefined) throw new Error(`${name} is not in pnpm-workspace.yaml's catalog`);
      return version;
    }
    if (spec.startsWith('catalog:')) throw new Error(`${name}: named catalogs (${spec}) are not supported`);
    return spec;
  };
  const rewrite = (deps: Record<string, string>, drop: string[] = []) =>
    Object.fromEntries(
      Object.entries(deps)
        .filter(([name]) => !drop.includes(name))
        .map(([name, spec]) => [name, specifier(name, spec)]),
    );

  const scripts = Object.fromEntries(
    Object.entries(pkg.scripts)
      .filter(([name]) => !droppedScripts.includes(name))
      .map(([name, command]) => [name, command.replaceAll(` --conditions=${sourceCondition}`, '')]),
  );
  const exports =
    pkg.exports &&
    Object.fromEntries(
      Object.entries(pkg.exports).map(([entry, conditions]) => [
        entry,
        typeof conditions === 'string'
          ? conditions
          : Object.fromEntries(Object.entries(conditions).filter(([name]) => name !== sourceCondition)),
      ]),
    );
  return {
    ...pkg,
    name: 'vetmed',
    ...(exports ? { exports } : {}),
    scripts,
    dependencies: rewrite(pkg.dependencies),
    devDependencies: rewrite(pkg.devDependencies, testOnlyDevDependencies),
    // pnpm-workspace.yaml's peerDependencyRules, for npm: @trpc/tanstack-react-query 11.22.1 asks for
    // exactly @trpc/client and @trpc/server 11.22.1, and npm refuses the app's 11.25 (ERESOLVE).
    overrides: {
      ...pkg.overrides,
      '@trpc/tanstack-react-query': { '@trpc/client': '$@trpc/client', '@trpc/server': '$@trpc/server' },
    },
  };
}

type Tsconfig = { extends?: string; include?: string[]; compilerOptions?: Record<string, unknown> };

/** The repository's tsconfig.base.json for the copy, without the workspace's source condition. */
export function standaloneTsconfigBase(base: Tsconfig): Tsconfig {
  const { customConditions: _, ...compilerOptions } = base.compilerOptions ?? {};
  return { ...base, compilerOptions };
}

/**
 * One of the app's tsconfigs (`file`, relative to the app) for the copy: an `extends` of the repository's
 * tsconfig.base.json points at the copy's, and `include` loses what is not copied.
 */
export function standaloneTsconfig(config: Tsconfig, file: string): Tsconfig {
  const out = { ...config };
  if (config.extends !== undefined) {
    const from = dirname(join(appDir, file));
    if (resolve(from, config.extends) !== join(repoRoot, 'tsconfig.base.json'))
      throw new Error(`${file} extends ${config.extends}, which the copy does not have`);
    const base = relative(dirname(file), 'tsconfig.base.json').split(sep).join('/');
    out.extends = base.startsWith('.') ? base : `./${base}`;
  }
  if (config.include)
    out.include = config.include.filter((entry) => !notCopied.has(entry.split('/')[0] ?? entry));
  return out;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const writeJson = (file: string, value: unknown) =>
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

function tsconfigsIn(dir: string, under = ''): string[] {
  return readdirSync(join(dir, under), { withFileTypes: true }).flatMap((entry) => {
    const path = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsconfigsIn(dir, path);
    return /^tsconfig.*\.json$/.test(entry.name) ? [path] : [];
  });
}

/**
 * Copies the app's files into `target` and writes its standalone package.json and tsconfigs. Packs
 * nothing: `vendored` names the tarballs already in `target` (see `packInto`).
 */
export function writeStandaloneApp(target: string, vendored: Record<string, string>): void {
  cpSync(appDir, target, {
    recursive: true,
    filter: (source) => {
      const path = relative(appDir, source);
      return path === '' || !notCopied.has(path.split(sep)[0]!);
    },
  });
  const catalog = readWorkspaceMap(readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8'), 'catalog');
  writeJson(
    join(target, 'package.json'),
    standalonePackageJson(readJson(join(appDir, 'package.json')), catalog, vendored),
  );
  writeJson(
    join(target, 'tsconfig.base.json'),
    standaloneTsconfigBase(readJson(join(repoRoot, 'tsconfig.base.json'))),
  );
  for (const file of tsconfigsIn(appDir))
    writeJson(join(target, file), standaloneTsconfig(readJson(join(appDir, file)), file));
  // The repository's .gitignore covers these here; the copy is a project of its own.
  writeFileSync(join(target, '.gitignore'), 'node_modules/\ndist/\n.data/\n.env\n.env.local\n');
}

/** The environment without pnpm's npm_config_* settings (this runs under pnpm): npm warns of each. */
const withoutNpmConfig = () =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_config_')));

const npx = (args: string[], cwd: string) =>
  execFileSync('npx', args, {
    cwd,
    encoding: 'utf8',
    env: withoutNpmConfig(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });

/**
 * Builds and packs into `vendorDir` the app's @db-safeguards dependencies (with pnpm, which replaces
 * "workspace:*" with versions; the packages' prepack refuses npm), and packs each patched dependency as
 * pnpm installed it, patch applied. Returns each one's tarball, relative to the copy.
 */
export function packInto(vendorDir: string): Record<string, string> {
  mkdirSync(vendorDir, { recursive: true });
  const pkg = readJson<PackageJson>(join(appDir, 'package.json'));
  const vendored: Record<string, string> = {};

  const workspacePackages = Object.entries(pkg.dependencies)
    .filter(([, spec]) => spec.startsWith('workspace:'))
    .map(([name]) => name);
  npx(
    [
      '-y',
      'pnpm@10',
      'exec',
      'turbo',
      'run',
      'build',
      ...workspacePackages.map((name) => `--filter=${name}`),
      '--output-logs=errors-only',
    ],
    repoRoot,
  );
  for (const name of workspacePackages) {
    const dir = join(repoRoot, 'packages', name.replace('@db-safeguards/', ''));
    const out = npx(['-y', 'pnpm@10', 'pack', '--pack-destination', vendorDir], dir);
    vendored[name] = `vendor/${basename(out.trim().split('\n').at(-1)!.trim())}`;
  }

  const workspaceYaml = readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8');
  const catalog = readWorkspaceMap(workspaceYaml, 'catalog');
  const patches = readWorkspaceMap(workspaceYaml, 'patchedDependencies');
  for (const [name, spec] of Object.entries(pkg.dependencies)) {
    const version = spec === 'catalog:' ? catalog[name] : spec;
    const patch = patches[`${name}@${version}`];
    if (patch === undefined) continue;
    // pnpm installed this dependency with the patch applied; check it is that copy before packing it.
    const installed = join(appDir, 'node_modules', name);
    if (readJson<{ version: string }>(join(installed, 'package.json')).version !== version)
      throw new Error(`${installed} is not ${name}@${version}: run \`npx -y pnpm@10 install\` first`);
    const patchedFile = readFileSync(join(repoRoot, patch), 'utf8').match(/^\+\+\+ b\/(\S+)/m)?.[1];
    if (!patchedFile || !readFileSync(join(installed, patchedFile), 'utf8').includes('db-safeguards patch'))
      throw new Error(`${installed} does not have ${patch} applied: run \`npx -y pnpm@10 install\` first`);
    let tarball: string;
    // Packed from a copy without its `prepare` script, which rebuilds the package from sources its
    // release leaves out: npm lists it as an install script to approve, and approved it would fail.
    const staging = mkdtempSync(join(tmpdir(), 'vetmed-copy-'));
    try {
      cpSync(realpathSync(installed), staging, { recursive: true });
      const manifest = readJson<PackageJson>(join(staging, 'package.json'));
      delete manifest.scripts.prepare;
      writeJson(join(staging, 'package.json'), manifest);
      const out = execFileSync(
        'npm',
        ['pack', '--ignore-scripts', '--loglevel=warn', '--pack-destination', vendorDir],
        { cwd: staging, encoding: 'utf8', env: withoutNpmConfig() },
      );
      const packed = basename(out.trim().split('\n').at(-1)!.trim());
      tarball = packed.replace(/\.tgz$/, '-patched.tgz');
      renameSync(join(vendorDir, packed), join(vendorDir, tarball));
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    vendored[name] = `vendor/${tarball}`;
    mkdirSync(join(vendorDir, '..', 'patches'), { recursive: true });
    cpSync(join(repoRoot, patch), join(vendorDir, '..', 'patches', basename(patch)));
  }
  return vendored;
}

function main(args: string[]): void {
  const [target] = args.filter((arg) => arg !== '--');
  if (!target) {
    console.error('usage: npx -y pnpm@10 --filter @db-safeguards/vetmed copy-app <target-dir>');
    process.exit(2);
  }
  // pnpm runs the script in apps/vetmed; a relative target is meant from where the command was typed.
  const dest = resolve(process.env.INIT_CWD ?? process.cwd(), target);
  if (existsSync(dest) && readdirSync(dest).length > 0) {
    console.error(`${dest} exists and is not empty; give a new directory`);
    process.exit(2);
  }
  const vendored = packInto(join(dest, 'vendor'));
  writeStandaloneApp(dest, vendored);
  console.log(`VetMed copied to ${dest}. Then:\n  cd ${dest} && npm install && npm run build && npm start`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
