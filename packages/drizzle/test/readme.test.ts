import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The README examples are code users paste: they are type-checked here as files of this package (its
// imports resolve as a user's would). The root README's quick start also runs, as written, from an npm
// install of the packed packages: scripts/packed-install-check.mjs.

const packageDir = resolve(import.meta.dirname, '..');
const repoRoot = resolve(packageDir, '../..');

/** The schema the examples import as `./schema.js`. */
const schema = `import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
export const orders = pgTable('orders', { id: serial('id').primaryKey(), item: text('item').notNull(), qty: integer('qty').notNull() });
`;

function firstTsBlock(markdown: string): string {
  const block = /```ts\n([\s\S]*?)```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error('no ts block');
  return block;
}

function typeErrors(sources: Record<string, string>): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(packageDir, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (!config) throw new Error('tsconfig.json could not be read');
  const files = new Map(Object.entries(sources).map(([name, source]) => [join(packageDir, name), source]));
  const host = ts.createCompilerHost(config.options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const source = files.get(name);
    return source === undefined
      ? getSourceFile.call(host, name, language, ...rest)
      : ts.createSourceFile(name, source, language);
  };
  const program = ts.createProgram({ rootNames: [...files.keys()], options: config.options, host });
  return [...files.keys()].flatMap((path) => {
    const file = program.getSourceFile(path);
    return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(
      (diagnostic) => `${path}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`,
    );
  });
}

describe('README examples', () => {
  it('the package README example and the root README quick start type-check', () => {
    const packageExample = firstTsBlock(readFileSync(join(packageDir, 'README.md'), 'utf8'));
    const rootReadme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const quickStart = firstTsBlock(rootReadme.split('<!-- quick-start:drizzle -->')[1] ?? '');
    expect(quickStart).toContain("from '@db-safeguards/drizzle/postgres-js'");
    expect(quickStart.trim().split('\n').length).toBeLessThanOrEqual(10);
    expect(
      typeErrors({
        'readme-schema.ts': schema,
        'readme-example.ts': packageExample.replaceAll("'./schema.js'", "'./readme-schema.js'"),
        'readme-quick-start.ts': quickStart.replaceAll("'./schema.js'", "'./readme-schema.js'"),
      }),
    ).toEqual([]);
  });
});
