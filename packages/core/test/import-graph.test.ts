import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importGraph } from '../../../tooling/built-entry-points.js';
import { importCycles } from '../../../tooling/import-cycles.js';

/**
 * The smoke test's scan of built imports. Regression: it only saw `import … from` and
 * `export … from`, so a bare `import 'node:…'` or an `import()` in the main entry went unnoticed.
 */
describe('importGraph', () => {
  let dir: string;
  const write = (name: string, source: string) => writeFileSync(join(dir, name), source);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'import-graph-'));
    mkdirSync(join(dir, 'lib'));
    write(
      'index.js',
      [
        "import { a } from './lib/a.js';",
        "export * from './lib/b.js';",
        "export { c } from './lib/c.js';",
        "import 'node:process';",
        "import './lib/side-effect.js';",
        'export async function later() {',
        "  const fs = await import('node:fs');",
        '  const lazy = await import(`./lib/lazy.js`);',
        '  return import.meta.url + fs + lazy + a;',
        '}',
      ].join('\n'),
    );
    write('lib/a.js', "import {\n  join,\n} from 'node:path';\nexport const a = join('x');");
    write('lib/b.js', 'export const b = 1;');
    write('lib/c.js', 'export const c = 2;');
    write('lib/side-effect.js', "globalThis.seen = true;\nimport 'side-package';");
    write('lib/lazy.js', 'export default 3;\nexport const load = (name) => import(name);');
    write(
      'comments.js',
      [
        "/** Loads nothing: `import('node:fs')` and import 'node:os' appear only in this comment. */",
        "// import x from 'node:crypto';",
        "export const url = 'postgres://host/db';",
      ].join('\n'),
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows static, side-effect and dynamic imports, and reports every bare specifier', () => {
    const { files, external } = importGraph(join(dir, 'index.js'));
    expect([...files].map((file) => file.slice(dir.length + 1)).sort()).toEqual([
      'index.js',
      'lib/a.js',
      'lib/b.js',
      'lib/c.js',
      'lib/lazy.js',
      'lib/side-effect.js',
    ]);
    expect(external.sort()).toEqual(['import(name)', 'node:fs', 'node:path', 'node:process', 'side-package']);
  });

  it('does not count imports that only appear in comments', () => {
    expect(importGraph(join(dir, 'comments.js')).external).toEqual([]);
  });
});

/**
 * No import cycle in the core's sources, type-only imports included: a cycle means two files that
 * cannot be read, or changed, one without the other. Regression: `pipeline/` was five files that
 * imported each other (mostly `import type`), held together by a shared `Pipeline` class.
 */
describe('importCycles (sources, type-only imports included)', () => {
  let dir: string;
  const write = (name: string, source: string) => writeFileSync(join(dir, name), source);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'import-cycles-'));
    mkdirSync(join(dir, 'inner'));
    write('leaf.ts', 'export interface Leaf { n: number }');
    write(
      'a.ts',
      "import type { B } from './inner/b.js';\nimport type { Leaf } from './leaf.js';\nexport class A { b?: B; leaf?: Leaf }",
    );
    write('inner/b.ts', "export type { A as B } from '../a.js';");
    write('c.ts', "import { A } from './a.js';\nexport const c = new A();");
    write('self.ts', "export type Self = import('./self.js').Other;\nexport type Other = number;");
    write('a.test.ts', "import { c } from './c.js';\nexport { c };");
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a cycle made only of type-only imports and re-exports, and a file that imports itself', () => {
    expect(importCycles(dir).sort()).toEqual([['a.ts', join('inner', 'b.ts')], ['self.ts']]);
  });

  it('packages/core/src has none', () => {
    expect(importCycles(resolve(import.meta.dirname, '../src'))).toEqual([]);
  });
});
