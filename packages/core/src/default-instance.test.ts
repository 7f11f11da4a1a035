import { afterEach, describe, expect, it } from 'vitest';
import { SafeguardsConfigError } from './config/env-config.js';
import { getDefaultSafeguards, setDefaultSafeguards, withDatabaseSafeguards } from './default-instance.js';
import { isSafeguardError } from './errors/safeguard-error.js';

const variable = 'QUEUE_MAX_CONNECTIONS';
const saved = process.env[variable];

afterEach(async () => {
  if (saved === undefined) delete process.env[variable];
  else process.env[variable] = saved;
  setDefaultSafeguards(undefined);
});

describe('the default instance', () => {
  it('regression: with bad configuration withDatabaseSafeguards returns a rejected promise, it does not throw', async () => {
    process.env[variable] = 'abc';
    setDefaultSafeguards(undefined);
    let returned: Promise<unknown> | undefined;
    expect(() => {
      returned = withDatabaseSafeguards(async () => 1);
    }).not.toThrow();
    expect(returned).toBeInstanceOf(Promise);
    await expect(returned).rejects.toThrow(new SafeguardsConfigError(variable, 'abc', 'an integer >= 1'));
    // A configuration error, not a database one: nothing a client should be shown or may retry.
    const error = await returned?.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SafeguardsConfigError);
    expect(isSafeguardError(error)).toBe(false);
    expect((error as Error).message).toMatch(/QUEUE_MAX_CONNECTIONS="abc"/);
  });

  it('getDefaultSafeguards is the start-up check: it fails at once on bad configuration', () => {
    process.env[variable] = '0';
    setDefaultSafeguards(undefined);
    expect(() => getDefaultSafeguards()).toThrow(/QUEUE_MAX_CONNECTIONS="0"/);
  });

  it('with good configuration it runs on one process-wide budget from the environment', async () => {
    process.env[variable] = '3';
    setDefaultSafeguards(undefined);
    const instance = getDefaultSafeguards();
    expect(instance.queue.options.maxConcurrentConnections).toBe(3);
    await expect(withDatabaseSafeguards(async () => 'ok', { operationType: 'read' })).resolves.toBe('ok');
    expect(getDefaultSafeguards()).toBe(instance);
    await instance.close();
  });
});
