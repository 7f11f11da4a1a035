import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNode } from '../../../tooling/built-entry-points.js';

const packageDir = resolve(import.meta.dirname, '..');

/**
 * Scripts run with plain Node on the built package, whose only pending work is what the test is about:
 * the process must neither be held open by housekeeping timers nor exit while a caller still awaits.
 */
describe('process lifetime (built output)', () => {
  it('a retry wait keeps the process alive: the retry runs and the operation settles before exit', () => {
    const script = `
      import { createSafeguards } from '@db-safeguards/core';
      const sg = createSafeguards({ retry: { baseDelayMs: 200, jitter: 'none' } });
      let calls = 0;
      sg.run(async () => {
        calls++;
        if (calls === 1) {
          throw Object.assign(new Error('terminating connection due to administrator command'), { name: 'error', code: '57P01' });
        }
        return 'ok';
      }, { operationType: 'read' }).then(
        (value) => console.log('settled', value, 'after', calls, 'calls'),
        (error) => console.log('failed', error.type),
      );`;
    // runNode throws unless the script exits with status 0.
    expect(runNode(packageDir, script).trim()).toBe('settled ok after 2 calls');
  });

  it('a deadline weeks away arms no overflowing timer (no TimeoutOverflowWarning, no 1 ms re-firing)', () => {
    const script = `
      import { createSafeguards } from '@db-safeguards/core';
      process.on('warning', (warning) => console.log('warning:', warning.name));
      const sg = createSafeguards({ defaultTimeoutMs: 40 * 24 * 3600 * 1000 });
      console.log(await sg.run(() => new Promise((resolve) => setTimeout(() => resolve('done'), 50))));`;
    expect(runNode(packageDir, script).trim()).toBe('done');
  });

  it('close() keeps the process alive while it drains, and ends its drain timer once idle', () => {
    // The operation never settles and holds no handle: only close()'s own drain wait is pending.
    const hung = `
      import { createSafeguards } from '@db-safeguards/core';
      const sg = createSafeguards();
      sg.run(() => new Promise(() => {}), { operationType: 'read' }).catch(() => {});
      await sg.close({ drainTimeoutMs: 200 });
      console.log('closed');`;
    expect(runNode(packageDir, hung).trim()).toBe('closed');
    // Idle at once: a drain timer left armed would hold the process for a minute (the test would time out).
    const idle = `
      import { createSafeguards } from '@db-safeguards/core';
      const sg = createSafeguards();
      await sg.run(async () => 1, { operationType: 'read' });
      await sg.close({ drainTimeoutMs: 60_000 });
      console.log('closed', process.uptime() < 30);`;
    expect(runNode(packageDir, idle).trim()).toBe('closed true');
  }, 40_000);
});
