import { describe, expect, it } from 'vitest';
import { SafeguardsConfigError, safeguardsOptionsFromEnv } from './env-config.js';

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
