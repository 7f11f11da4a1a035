import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWorkspaceMap, repoRoot, writeStandaloneApp } from '../scripts/copy-app.js';

// The copy's files only: packing needs pnpm, a build and the network, so the tarballs are names here.
const vendored = {
  '@db-safeguards/core': 'vendor/db-safeguards-core-0.1.0.tgz',
  '@db-safeguards/drizzle': 'vendor/db-safeguards-drizzle-0.1.0.tgz',
  '@db-safeguards/redis': 'vendor/db-safeguards-redis-0.1.0.tgz',
  '@db-safeguards/trpc': 'vendor/db-safeguards-trpc-0.1.0.tgz',
  postgres: 'vendor/postgres-3.4.9-patched.tgz',
};
const target = mkdtempSync(join(tmpdir(), 'vetmed-copy-'));
writeStandaloneApp(target, vendored);
afterAll(() => rmSync(target, { recursive: true, force: true }));

type Pkg = {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  overrides: Record<string, unknown>;
};
const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as Pkg;

function filesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesIn(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe('copy-app: a standalone copy of the app', () => {
  it('has no workspace: or catalog: specifier; the @db-safeguards packages come from vendor/', () => {
    const specs = { ...pkg.dependencies, ...pkg.devDependencies };
    expect(Object.entries(specs).filter(([, spec]) => /^(workspace|catalog):/.test(spec))).toEqual([]);
    for (const [name, tarball] of Object.entries(vendored)) expect(specs[name]).toBe(`file:${tarball}`);
    const catalog = readWorkspaceMap(readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8'), 'catalog');
    expect(pkg.dependencies.zod).toBe(catalog.zod);
    expect(pkg.devDependencies.vite).toBe(catalog.vite);
  });

  it('drops the repository-only test packages, the tests that use them and their scripts', () => {
    const specs = { ...pkg.dependencies, ...pkg.devDependencies };
    expect(Object.keys(specs).filter((name) => name.startsWith('@db-safeguards/test-'))).toEqual([]);
    expect(existsSync(join(target, 'test'))).toBe(false);
    expect(existsSync(join(target, 'scripts'))).toBe(false);
    expect(existsSync(join(target, 'vitest.config.ts'))).toBe(false);
    expect(Object.keys(pkg.scripts)).not.toContain('screenshots');
    expect(Object.values(pkg.scripts).join('\n')).not.toContain('@db-safeguards/source');
    expect(pkg.overrides['@trpc/tanstack-react-query']).toEqual({
      '@trpc/client': '$@trpc/client',
      '@trpc/server': '$@trpc/server',
    });
  });

  it('extends only tsconfigs inside the copy and includes only what it has', () => {
    const tsconfigs = filesIn(target).filter((file) => /\/tsconfig[^/]*\.json$/.test(file));
    expect(tsconfigs.map((file) => relative(target, file)).sort()).toEqual([
      'tsconfig.base.json',
      'tsconfig.build.json',
      'tsconfig.json',
      'web/tsconfig.json',
    ]);
    for (const file of tsconfigs) {
      const config = JSON.parse(readFileSync(file, 'utf8')) as { extends?: string; include?: string[] };
      if (config.extends !== undefined) {
        const base = resolve(dirname(file), config.extends);
        expect(relative(target, base).startsWith('..'), `${file} extends ${base}`).toBe(false);
        expect(existsSync(base)).toBe(true);
      }
      for (const entry of config.include ?? []) expect(existsSync(join(dirname(file), entry))).toBe(true);
    }
    const base = JSON.parse(readFileSync(join(target, 'tsconfig.base.json'), 'utf8'));
    expect(base.compilerOptions.customConditions).toBeUndefined();
  });

  it('copies no build output, dependencies or local data', () => {
    for (const dir of ['node_modules', 'dist', '.data']) expect(existsSync(join(target, dir))).toBe(false);
  });
});
