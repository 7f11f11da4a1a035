import { getDefaultSafeguards, setDefaultSafeguards, withDatabaseSafeguards } from '@db-safeguards/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const variables = [
  'QUEUE_MAX_CONNECTIONS',
  'QUEUE_MAX_SIZE',
  'QUEUE_TIMEOUT_MS',
  'CIRCUIT_FAILURE_THRESHOLD',
  'CIRCUIT_TIMEOUT_MS',
  'DB_MAX_ATTEMPTS',
] as const;

const lostConnection = () =>
  Promise.reject(Object.assign(new Error('connection lost'), { name: 'error', code: '08006' }));

describe('withDatabaseSafeguards: the default instance, configured from the environment', () => {
  const saved: Partial<Record<string, string>> = {};

  beforeEach(() => {
    for (const name of variables) saved[name] = process.env[name];
    setDefaultSafeguards(undefined);
  });

  afterEach(async () => {
    for (const name of variables) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    setDefaultSafeguards(undefined);
  });

  it('takes its budget, queue and breaker from the variables, and runs every call on that one instance', async () => {
    Object.assign(process.env, {
      QUEUE_MAX_CONNECTIONS: '3',
      QUEUE_MAX_SIZE: '50',
      QUEUE_TIMEOUT_MS: '4000',
      CIRCUIT_FAILURE_THRESHOLD: '2',
      CIRCUIT_TIMEOUT_MS: '60000',
      DB_MAX_ATTEMPTS: '1',
    });
    let running = 0;
    let peak = 0;
    const waiting: Array<() => void> = [];
    const op = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => waiting.push(resolve));
      running--;
    };
    const calls = Array.from({ length: 6 }, () => withDatabaseSafeguards(op, { operationType: 'read' }));
    await new Promise((resolve) => setImmediate(resolve));
    const safeguards = getDefaultSafeguards();
    // 3 connections, one of them kept for CRITICAL work: 2 run, 4 wait.
    expect(safeguards.queue.stats()).toMatchObject({
      maxConcurrentConnections: 3,
      maxQueueSize: 50,
      active: 2,
      queued: 4,
    });
    expect(safeguards.queue.options.timeoutMs).toBe(4000);
    while (waiting.length > 0 || safeguards.queue.queued > 0) {
      for (const resolve of waiting.splice(0)) resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(calls);
    expect(peak).toBe(2);

    // CIRCUIT_FAILURE_THRESHOLD=2 and DB_MAX_ATTEMPTS=1: two lost connections open the breaker.
    for (let i = 0; i < 2; i++) {
      await expect(withDatabaseSafeguards(lostConnection, { operationType: 'read' })).rejects.toMatchObject({
        type: 'CONNECTION',
      });
    }
    await expect(withDatabaseSafeguards(async () => 1, { operationType: 'read' })).rejects.toMatchObject({
      type: 'CIRCUIT_BREAKER',
      reason: 'circuit-open',
    });
    expect(safeguards.metrics().operations).toMatchObject({
      started: 9,
      succeeded: 6,
      failed: 2,
      rejected: 1,
    });
    expect(getDefaultSafeguards()).toBe(safeguards);
  });

  it('setDefaultSafeguards replaces the instance withDatabaseSafeguards uses', async () => {
    process.env.QUEUE_MAX_CONNECTIONS = '5';
    const first = getDefaultSafeguards();
    expect(first.queue.options.maxConcurrentConnections).toBe(5);
    setDefaultSafeguards(undefined);
    process.env.QUEUE_MAX_CONNECTIONS = '4';
    await withDatabaseSafeguards(async () => 1);
    const second = getDefaultSafeguards();
    expect(second).not.toBe(first);
    expect(second.queue.options.maxConcurrentConnections).toBe(4);
    expect(second.metrics().operations.succeeded).toBe(1);
    expect(first.metrics().operations.started).toBe(0);
  });
});
