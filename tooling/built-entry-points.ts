import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';

interface Manifest {
  name: string;
  exports: Record<string, string | Record<string, string>>;
}

/** Reads a package's manifest and the sub-paths of its `exports` map that point at code. */
export function readEntryPoints(packageDir: string): {
  manifest: Manifest;
  entryPoints: Array<[string, Record<string, string>]>;
} {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as Manifest;
  const entryPoints = Object.entries(manifest.exports).filter(
    (entry): entry is [string, Record<string, string>] => typeof entry[1] === 'object',
  );
  return { manifest, entryPoints };
}

/** Runs an ES module snippet with plain Node (no test-runner transforms) from the package directory. */
export function runNode(packageDir: string, code: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 20_000,
  });
}

/**
 * Every way built ES modules load another: `import x from 'm'` / `export … from 'm'`, the bare
 * side-effect `import 'm'`, and `import('m')`. A dynamic import whose argument is not a string
 * literal cannot be followed; it is reported as the external `import(<expression>)` so a check for
 * "no external imports" fails rather than passing blind.
 */
const importForms = [
  /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*(?:['"]([^'"]+)['"]|`([^`$]+)`|([^)]*))\s*\)/g,
];

/** Comments in emitted JavaScript (JSDoc kept by tsc) may mention imports that never run. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
}

/** Package-relative files the built JavaScript of `entry` imports, and the bare specifiers it imports. */
export function importGraph(entry: string): { files: Set<string>; external: string[] } {
  const files = new Set<string>();
  const external: string[] = [];
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = withoutComments(readFileSync(file, 'utf8'));
    for (const form of importForms) {
      for (const match of source.matchAll(form)) {
        const specifier = match[1] ?? match[2];
        if (specifier === undefined) external.push(`import(${(match[3] ?? '').trim()})`);
        else if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
        else external.push(specifier);
      }
    }
  };
  visit(entry);
  return { files, external };
}

/** The conditions of an entry point that select JavaScript (not types, not the workspace's sources). */
export function codeConditions(conditions: Record<string, string>): Array<[string, string]> {
  return Object.entries(conditions).filter(
    ([condition]) => condition !== 'types' && condition !== '@db-safeguards/source',
  );
}

/**
 * The smoke tests every library runs on its built output: each entry point of the `exports` map has
 * the JavaScript of every condition (`node`, `default`, ...) and its declarations in dist; the file of
 * each condition imports with plain Node and they all export the same names; the package specifier
 * (which plain Node resolves) exports at least `expected`.
 */
export function itImportsEveryBuiltEntryPoint(packageDir: string, expected: Record<string, string[]>): void {
  const { manifest, entryPoints } = readEntryPoints(packageDir);
  it.each(entryPoints)(
    '%s has the JavaScript of every condition and type declarations in dist',
    (_subpath, conditions) => {
      expect(conditions.default).toBeDefined();
      for (const [, file] of codeConditions(conditions))
        expect(existsSync(join(packageDir, file))).toBe(true);
      expect(existsSync(join(packageDir, conditions.types!))).toBe(true);
    },
  );
  it.each(entryPoints)(
    '%s imports with plain Node and exports what the docs promise',
    (subpath, conditions) => {
      const exportedNames = (code: string) =>
        JSON.parse(
          runNode(packageDir, `${code} console.log(JSON.stringify(Object.keys(m).sort()));`),
        ) as string[];
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      const names = exportedNames(`const m = await import('${specifier}');`);
      expect(names).toEqual(expect.arrayContaining(expected[subpath] ?? []));
      expect(names.length).toBeGreaterThan(0);
      for (const [, file] of codeConditions(conditions)) {
        const url = pathToFileURL(join(packageDir, file)).href;
        expect(exportedNames(`const m = await import('${url}');`)).toEqual(names);
      }
    },
  );
}
