import { describe, expect, it } from 'vitest';
import { closedLoop, openLoop } from './workloads.js';

/** What postgres.js rejects with when the role is at its connection limit. */
const tooManyConnections = () =>
  Object.assign(new Error('too many connections for role "app"'), { name: 'PostgresError', code: '53300' });

describe('workloads count the CONNECTION failures by reason, apart from the others', () => {
  it('in a closed loop', async () => {
    let calls = 0;
    const result = await closedLoop(1, 30, async () => {
      calls++;
      if (calls % 2 === 0) throw tooManyConnections();
      if (calls % 3 === 0) throw Object.assign(new Error('duplicate key'), { code: '23505' });
    });
    expect(result.connectionReasons).toEqual({ 'too-many-connections': result.errorsByType.CONNECTION });
    expect(result.errorsByType.CONNECTION).toBeGreaterThan(0);
    expect(Object.keys(result.errorsByType).sort()).toEqual(['CONFLICT', 'CONNECTION']);
    expect(result.tooManyConnections).toBe(result.errorsByType.CONNECTION);
  });

  it('in an open loop, per class', async () => {
    const result = await openLoop(200, 50, [
      { name: 'refused', share: 1, operation: () => Promise.reject(tooManyConnections()) },
      { name: 'served', share: 1, operation: () => Promise.resolve() },
    ]);
    const refused = result.byClass.refused!;
    expect(refused.sent).toBeGreaterThan(0);
    expect(refused.connectionReasons).toEqual({ 'too-many-connections': refused.sent });
    expect(result.byClass.served!.connectionReasons).toEqual({});
  });
});
