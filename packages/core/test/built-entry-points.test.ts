import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    './advanced': ['ConnectionQueue', 'CircuitBreaker', 'RateLimiter', 'MemoryRateLimitStore', 'RetryBudget'],
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

  it('the main entry (default condition) imports no Node built-in and no package (it must load on edge runtimes)', () => {
    const { files, external } = importGraph(join(packageDir, 'dist/index.js'));
    expect(files.size).toBeGreaterThan(20);
    expect(external).toEqual([]);
  });

  it('the node condition adds node:async_hooks and nothing else', () => {
    const { files, external } = importGraph(join(packageDir, 'dist/node.js'));
    expect(files).toContain(join(packageDir, 'dist/index.js'));
    expect(external).toEqual(['node:async_hooks']);
  });

  it('on Node without process.getBuiltinModule, the load sampler still measures the event loop', () => {
    const output = runNode(
      packageDir,
      `delete process.getBuiltinModule; // as on Node 20.0 to 20.15
       const { createProcessLoadSampler } = await import('@db-safeguards/core');
       const sampler = createProcessLoadSampler();
       await new Promise((resolve) => setTimeout(resolve, 50));
       const until = performance.now() + 150;
       while (performance.now() < until) {}
       await new Promise((resolve) => setTimeout(resolve, 50));
       const sample = sampler.sample();
       sampler.close();
       console.log(sample.eventLoopDelayMs >= 100, typeof sample.rssBytes);`,
    );
    expect(output.trim()).toBe('true number');
  });

  /** Nested runs on a one-slot budget: they complete only if they find the outer operation's slot. */
  const nestedOnOneSlot = (load: string) => `
    delete process.getBuiltinModule; // as on Node 20.0 to 20.15
    console.warn = (message) => console.log('warned: ' + message);
    const { createSafeguards } = await ${load};
    const sg = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0, timeoutMs: 300 } });
    const keepAlive = setTimeout(() => {}, 10_000); // the queue's own timers never hold the process
    const result = await sg
      .run(() => sg.run(async () => 'nested on the held slot'))
      .catch((error) => error.type + ' ' + error.reason);
    clearTimeout(keepAlive);
    console.log(result);`;

  it('on Node without process.getBuiltinModule, the package (node condition) still finds its slot', () => {
    const output = runNode(packageDir, nestedOnOneSlot(`import('@db-safeguards/core')`));
    expect(output.trim()).toBe('nested on the held slot');
  });

  it('there, the runtime-agnostic entry warns once that nested calls cannot find their slot', () => {
    const url = pathToFileURL(join(packageDir, 'dist/index.js')).href;
    const output = runNode(packageDir, nestedOnOneSlot(`import('${url}')`));
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^warned: \[db-safeguards\] no AsyncLocalStorage on Node 20\.\d+\.\d+: nested/);
    expect(lines[1]).toBe('TIMEOUT queue-timeout');
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
