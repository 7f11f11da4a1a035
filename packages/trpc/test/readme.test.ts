import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');

/** The ```ts blocks of the README's "Example" section, by the file name on their first line. */
function readmeExample(): Record<string, string> {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const section = readme.split('\n## Example\n')[1]?.split('\n## ')[0] ?? '';
  const blocks: Record<string, string> = {};
  for (const [, block] of section.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const name = /^\/\/ (\S+\.ts)\n/.exec(block!)?.[1];
    if (name === undefined) throw new Error('each README example block starts with // <file>.ts');
    blocks[name] = block!;
  }
  return blocks;
}

/**
 * Type-checks in-memory files as if they were files of this package (placed in its directory, so its
 * imports resolve as a user's would), with the package's own tsconfig. Returns the errors per file.
 */
function typeErrors(sources: Record<string, string>): Record<string, string[]> {
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
  const errors: Record<string, string[]> = {};
  for (const [name, path] of Object.keys(sources).map((name) => [name, join(packageDir, name)] as const)) {
    const file = program.getSourceFile(path);
    errors[name] = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(
      (diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    );
  }
  errors.global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map((diagnostic) =>
    ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
  );
  return errors;
}

describe('the README example', () => {
  let errors: Record<string, string[]>;
  const example = readmeExample();
  beforeAll(() => {
    // The extra file proves the check can fail: it uses a name the example does not declare.
    errors = typeErrors({ ...example, 'broken.ts': `${example['client.ts']}\nshowToast('x');\n` });
  }, 60_000);

  it('is a 20-line server and a client of a dozen lines', () => {
    expect(Object.keys(example).sort()).toEqual(['client.ts', 'server.ts']);
    expect(example['server.ts']!.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
    expect(example['client.ts']!.trimEnd().split('\n').length).toBeLessThanOrEqual(12);
  });

  it('type-checks against this package, every name declared', () => {
    expect(errors['server.ts']).toEqual([]);
    expect(errors['client.ts']).toEqual([]);
    expect(errors.global).toEqual([]);
  });

  it('the check can fail: an undeclared name is reported', () => {
    expect(errors['broken.ts']).toContain("Cannot find name 'showToast'.");
  });
});

/** The names an entry file exports (values and types), from its explicit export lists. */
function exportedNames(entry: string): string[] {
  const text = readFileSync(join(packageDir, entry), 'utf8');
  return [...text.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((match) =>
    match[1]!
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.length > 0),
  );
}

describe('the README reference', () => {
  const headings = readFileSync(join(packageDir, 'README.md'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('#'));

  it.each(['src/index.ts', 'src/client/index.ts'])('has a heading for every export of %s', (entry) => {
    const names = exportedNames(entry);
    expect(names.length).toBeGreaterThan(5);
    const missing = names.filter(
      (name) => !headings.some((heading) => new RegExp(`\`${name}[\`<(]`).test(heading)),
    );
    expect(missing).toEqual([]);
  });
});
