import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../internal/validate.js';
import { createSafeguards } from '../safeguards.js';
import { ManualClock } from '../testing/manual-clock.js';
import {
  environmentVariables,
  SafeguardsConfigError,
  safeguardsOptionsFromEnv,
  toConfigError,
} from './env-config.js';
import type { SafeguardsOptions } from './safeguards-options.js';

/** The options object a variable's value stands for, built from its documented option path. */
function optionsFor(variable: keyof typeof environmentVariables, value: number): SafeguardsOptions {
  const path = environmentVariables[variable].split('.');
  const leaf = path.pop()!;
  const root: Record<string, unknown> = {};
  let node = root;
  for (const key of path) {
    node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[leaf] = value;
  // A policy override carries its window (the environment changes only the limit).
  if (path[1] === 'policies') node.windowMs = 60_000;
  return root as SafeguardsOptions;
}

function accepts(create: () => unknown): boolean {
  try {
    create();
    return true;
  } catch {
    return false;
  }
}

describe('safeguardsOptionsFromEnv', () => {
  it('reads the source design variables', () => {
    expect(
      safeguardsOptionsFromEnv({
        QUEUE_MAX_CONNECTIONS: '4',
        QUEUE_MAX_SIZE: '50',
        QUEUE_TIMEOUT_MS: '1000',
        CIRCUIT_FAILURE_THRESHOLD: '7',
        CIRCUIT_SUCCESS_THRESHOLD: '3',
        CIRCUIT_TIMEOUT_MS: '5000',
        DB_RETRY_DELAY_MS: '2000',
        DB_MAX_ATTEMPTS: '5',
        RATE_LIMIT_API_MAX: '300',
        RATE_LIMIT_AUTH_MAX: '10',
        RATE_LIMIT_REPORTS_MAX: '50',
      }),
    ).toEqual({
      queue: { maxConcurrentConnections: 4, maxQueueSize: 50, timeoutMs: 1000 },
      breakers: { primary: { failureThreshold: 7, successThreshold: 3, openDurationMs: 5000 } },
      retry: { baseDelayMs: 2000, maxAttempts: 5 },
      rateLimits: {
        policies: {
          api: { limit: 300, windowMs: 60_000 },
          auth: { limit: 10, windowMs: 900_000 },
          reports: { limit: 50, windowMs: 60_000 },
        },
      },
    });
  });

  it('leaves defaults alone when variables are unset or empty', () => {
    expect(safeguardsOptionsFromEnv({ QUEUE_MAX_CONNECTIONS: '' })).toEqual({});
  });

  it('fails with a message naming the variable and the value', () => {
    expect(() => safeguardsOptionsFromEnv({ QUEUE_MAX_CONNECTIONS: 'abc' })).toThrow(
      new SafeguardsConfigError('QUEUE_MAX_CONNECTIONS', 'abc', 'an integer >= 1'),
    );
    expect(() => safeguardsOptionsFromEnv({ QUEUE_TIMEOUT_MS: '-5' })).toThrow(
      'Invalid environment variable QUEUE_TIMEOUT_MS="-5": expected an integer >= 1',
    );
    expect(() => safeguardsOptionsFromEnv({ DB_MAX_ATTEMPTS: '2.5' })).toThrow(/DB_MAX_ATTEMPTS="2.5"/);
    expect(() => safeguardsOptionsFromEnv({ CIRCUIT_TIMEOUT_MS: '1e9' })).toThrow(/CIRCUIT_TIMEOUT_MS/);
  });
});

describe('safeguardsOptionsFromEnv checks what createSafeguards checks', () => {
  it('regression: DB_MAX_ATTEMPTS=500 fails at start, naming the variable, not retry.maxAttempts later', () => {
    expect(() => safeguardsOptionsFromEnv({ DB_MAX_ATTEMPTS: '500' })).toThrow(
      new SafeguardsConfigError('DB_MAX_ATTEMPTS', '500', 'an integer between 1 and 100'),
    );
    expect(safeguardsOptionsFromEnv({ DB_MAX_ATTEMPTS: '100' })).toEqual({ retry: { maxAttempts: 100 } });
  });

  it('accepts a value exactly when the option it sets would be accepted (property, every variable)', () => {
    const clock = new ManualClock();
    const variables = Object.keys(environmentVariables) as Array<keyof typeof environmentVariables>;
    fc.assert(
      fc.property(
        fc.constantFrom(...variables),
        fc.oneof(fc.integer({ min: -3, max: 120 }), fc.constantFrom(0, 1, 99, 100, 101, 2 ** 40)),
        (variable, value) => {
          const fromEnv = accepts(() => safeguardsOptionsFromEnv({ [variable]: String(value) }));
          const asOption = accepts(() => createSafeguards({ ...optionsFor(variable, value), clock }));
          expect({ variable, value, fromEnv }).toEqual({ variable, value, fromEnv: asOption });
        },
      ),
      { numRuns: 600 },
    );
  });

  it('every refusal names the variable and the value as given', () => {
    for (const variable of Object.keys(environmentVariables)) {
      for (const raw of ['abc', '-1', '1.5', ' 1e3 ', '99999999999999999999']) {
        let thrown: unknown;
        try {
          safeguardsOptionsFromEnv({ [variable]: raw });
        } catch (error) {
          thrown = error;
        }
        // Some variables accept -1's neighbours; none accepts any of these.
        expect(thrown, `${variable}=${raw}`).toBeInstanceOf(SafeguardsConfigError);
        expect((thrown as SafeguardsConfigError).message).toContain(`${variable}="${raw}"`);
        expect(thrown).toMatchObject({ variable, value: raw });
      }
    }
  });
});

describe("toConfigError (a resolver's refusal, told as the variable's)", () => {
  it("names the variable of the option a resolver refused, with the resolver's range", () => {
    const refusal = new OptionError('queue.timeoutMs', 'an integer >= 5', 3);
    expect(refusal.message).toBe('Expected queue.timeoutMs to be an integer >= 5, got 3 (number)');
    const error = toConfigError({ QUEUE_TIMEOUT_MS: '3', DB_MAX_ATTEMPTS: '2' }, refusal);
    expect(error).toEqual(new SafeguardsConfigError('QUEUE_TIMEOUT_MS', '3', 'an integer >= 5'));
    expect(error.cause).toBe(refusal);
  });

  it('a rule across options names every variable set in that group, with its value', () => {
    const refusal = new OptionError('queue.reservedForCritical', 'an integer between 0 and 1', 1);
    const error = toConfigError(
      { QUEUE_MAX_CONNECTIONS: '2', QUEUE_MAX_SIZE: '5', DB_MAX_ATTEMPTS: '2' },
      refusal,
    );
    expect(error.variable).toBe('QUEUE_MAX_CONNECTIONS, QUEUE_MAX_SIZE');
    expect(error.message).toContain('QUEUE_MAX_CONNECTIONS, QUEUE_MAX_SIZE="2", "5"');
    expect(error.message).toContain(refusal.message);
  });
});
