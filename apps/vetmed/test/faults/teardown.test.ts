import { describe, expect, it } from 'vitest';
import { createTeardown } from './teardown.js';

describe('createTeardown', () => {
  it('closes what was registered last first, each once', async () => {
    const teardown = createTeardown();
    const order: string[] = [];
    const first = teardown.add('first', { name: 'a' }, (resource) => order.push(resource.name));
    teardown.add('second', { name: 'b' }, async (resource) => {
      await Promise.resolve();
      order.push(resource.name);
    });
    expect(first).toEqual({ name: 'a' });
    await teardown.close();
    await teardown.close();
    expect(order).toEqual(['b', 'a']);
    expect(teardown.closed).toEqual(['second', 'first']);
  });

  it('goes on closing after a close fails, then rejects with that error', async () => {
    const teardown = createTeardown();
    let serverClosed = false;
    teardown.add('server', null, () => {
      serverClosed = true;
    });
    teardown.add('app', null, () => Promise.reject(new Error('app did not stop')));
    await expect(teardown.close()).rejects.toThrow('app did not stop');
    expect(serverClosed).toBe(true);
    expect(teardown.closed).toEqual(['app', 'server']);
  });

  it('reports every failed close when several fail', async () => {
    const teardown = createTeardown();
    teardown.add('one', null, () => {
      throw new Error('one failed');
    });
    teardown.add('two', null, () => Promise.reject(new Error('two failed')));
    const error = await teardown.close().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual([
      'two failed',
      'one failed',
    ]);
  });
});
