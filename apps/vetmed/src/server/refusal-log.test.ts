import { Writable } from 'node:stream';
import { SafeguardError } from '@db-safeguards/core';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RefusalLog } from './refusal-log.js';

function capture(level: pino.Level) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}

const rateLimit = () => new SafeguardError({ type: 'RATE_LIMIT', reason: 'rate-limit' });
const overloaded = () => new SafeguardError({ type: 'QUEUE_FULL', reason: 'overloaded' });

/** A request refused whole, its one call refused with `error`. */
const refusedRequest = (error: SafeguardError) => ({
  path: 'administrations.history',
  first: error,
  refused: 1,
  byKind: { [`${error.type}:${error.reason}`]: 1 },
});

describe('RefusalLog', () => {
  it('logs the first few refused requests of each kind a second in full, with their request ID', () => {
    const { log, lines } = capture('info');
    let now = 0;
    const refusals = new RefusalLog(log, { fullLinesPerSecond: 2, now: () => now });
    for (let i = 0; i < 5; i++)
      refusals.record(refusedRequest(rateLimit()), log.child({ requestId: `r${i}` }));
    // Another kind has lines of its own: a flood of one cannot hide the first of another.
    refusals.record(refusedRequest(overloaded()), log.child({ requestId: 'q0' }));
    expect(lines.map((line) => line.requestId)).toEqual(['r0', 'r1', 'q0']);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'procedure failed',
      path: 'administrations.history',
      refused: 1,
      byKind: { 'RATE_LIMIT:rate-limit': 1 },
      error: { type: 'RATE_LIMIT', reason: 'rate-limit', errorId: expect.stringMatching(/^err_/) },
    });
    // A second later the kind is logged again.
    now = 1000;
    refusals.record(refusedRequest(rateLimit()), log.child({ requestId: 'r5' }));
    expect(lines.at(-1)).toMatchObject({ requestId: 'r5', msg: 'procedure failed' });
    refusals.flush();
  });

  it('counts the requests left out, by kind of call, in one summary line', () => {
    const { log, lines } = capture('warn');
    const refusals = new RefusalLog(log, { fullLinesPerSecond: 1, now: () => 0 });
    refusals.record(refusedRequest(rateLimit()), log);
    for (let i = 0; i < 3; i++) refusals.record(refusedRequest(rateLimit()), log);
    refusals.record(
      {
        path: 'a.b',
        first: rateLimit(),
        refused: 3,
        byKind: { 'RATE_LIMIT:rate-limit': 1, 'QUEUE_FULL:overloaded': 2 },
      },
      log,
    );
    expect(lines).toHaveLength(1);
    refusals.flush();
    expect(lines[1]).toMatchObject({
      level: 40,
      msg: 'refused requests not logged one by one',
      refusedRequests: 4,
    });
    expect(lines[1]!.byKind).toEqual({ 'RATE_LIMIT:rate-limit': 4, 'QUEUE_FULL:overloaded': 2 });
    // Nothing left out since: no line.
    refusals.flush();
    expect(lines).toHaveLength(2);
  });

  it('keeps lines apart for each rate-limit policy: a flood of one limit does not hide another', () => {
    const { log, lines } = capture('info');
    const refusals = new RefusalLog(log, { fullLinesPerSecond: 1, now: () => 0 });
    const limited = (policy: string) =>
      new SafeguardError({
        type: 'RATE_LIMIT',
        reason: 'rate-limit',
        rateLimit: { policy, limit: 1, remaining: 0, resetAt: 0, retryAfterMs: 1000 },
      });
    for (let i = 0; i < 3; i++)
      refusals.record(refusedRequest(limited('api')), log.child({ requestId: `a${i}` }));
    refusals.record(refusedRequest(limited('recording')), log.child({ requestId: 'rec' }));
    expect(lines.map((line) => line.requestId)).toEqual(['a0', 'rec']);
    refusals.flush();
  });

  it('writes the summary by itself after summaryEveryMs', async () => {
    const { log, lines } = capture('warn');
    const refusals = new RefusalLog(log, { fullLinesPerSecond: 0, summaryEveryMs: 20 });
    refusals.record(refusedRequest(rateLimit()), log);
    expect(lines).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(lines).toMatchObject([{ refusedRequests: 1 }]);
  });

  it('logs every refused request at debug, and none above warn', () => {
    const debug = capture('debug');
    const all = new RefusalLog(debug.log, { fullLinesPerSecond: 1, now: () => 0 });
    for (let i = 0; i < 4; i++) all.record(refusedRequest(rateLimit()), debug.log);
    expect(debug.lines).toHaveLength(4);

    const quiet = capture('error');
    const none = new RefusalLog(quiet.log, { fullLinesPerSecond: 1, now: () => 0 });
    for (let i = 0; i < 4; i++) none.record(refusedRequest(rateLimit()), quiet.log);
    none.flush();
    expect(quiet.lines).toHaveLength(0);
  });
});
