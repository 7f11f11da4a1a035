import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, itImportsEveryBuiltEntryPoint, runNode } from '../../../tooling/built-entry-points.js';

const packageDir = resolve(import.meta.dirname, '..');

describe('built entry points (turbo builds before tests)', () => {
  itImportsEveryBuiltEntryPoint(packageDir, {
    '.': [
      'createSafeguards',
      'withDatabaseSafeguards',
      'Priority',
      'SafeguardError',
      'ErrorType',
      'classifyError',
      'toUserFriendlyError',
    ],
    './testing': ['ManualClock', 'driverErrorSamples'],
  });

  it('the main entry runs a protected operation end to end', () => {
    const output = runNode(
      packageDir,
      `import { createSafeguards, Priority } from '@db-safeguards/core';
       const sg = createSafeguards();
       console.log(await sg.run(async (scope) => scope.attempt + ':' + Priority.HIGH, { operationType: 'read' }));`,
    );
    expect(output.trim()).toBe('1:3');
  });

  it('the main entry imports no Node built-in and no package (it must load on edge runtimes)', () => {
    const { files, external } = importGraph(join(packageDir, 'dist/index.js'));
    expect(files.size).toBeGreaterThan(20);
    expect(external).toEqual([]);
  });

  it('no timer keeps a process alive: a script with pending deadlines exits as soon as its work is done', () => {
    const script = `
      import { createSafeguards } from '@db-safeguards/core';
      const sg = createSafeguards({ defaultTimeoutMs: 600000, queue: { maxConcurrentConnections: 1, reservedForCritical: 0, timeoutMs: 600000 } });
      await sg.run(async () => 1, { operationType: 'read' });
      // A waiter whose operation never gets a slot: its 10-minute timers must not hold the process.
      sg.run(() => new Promise(() => {})).catch(() => {});
      sg.run(async () => 2).catch(() => {});
      await sg.health();
      console.log('done');`;
    const started = Date.now();
    // runNode throws unless the script exits with status 0 within its 20 s timeout.
    expect(runNode(packageDir, script).trim()).toBe('done');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
