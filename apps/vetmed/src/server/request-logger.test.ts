import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { requestLogger } from './request-logger.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('requestLogger', () => {
  it('binds the request ID to every line logged through it, the child made once', () => {
    const { log, lines } = capture();
    let children = 0;
    const child = log.child.bind(log);
    log.child = ((...args: Parameters<typeof child>) => {
      children++;
      return child(...args);
    }) as typeof log.child;
    const requestLog = requestLogger(log, 'req-1');
    expect(children).toBe(0);
    requestLog.warn({ path: 'a.b' }, 'procedure failed');
    requestLog.info('second');
    expect(requestLog.isLevelEnabled('debug')).toBe(false);
    expect(children).toBe(1);
    expect(lines).toMatchObject([
      { requestId: 'req-1', path: 'a.b', msg: 'procedure failed', level: 40 },
      { requestId: 'req-1', msg: 'second', level: 30 },
    ]);
  });

  it('makes no child for a request that logs nothing through it', () => {
    const { log } = capture();
    let children = 0;
    log.child = (() => {
      children++;
      throw new Error('not expected');
    }) as typeof log.child;
    requestLogger(log, 'req-2');
    expect(children).toBe(0);
  });
});
