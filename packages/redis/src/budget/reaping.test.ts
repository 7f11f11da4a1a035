import { describe, expect, it } from 'vitest';
import {
  type AllocationRequest,
  allocate,
  type BudgetState,
  emptyBudgetState,
  type RedisEnvironment,
  suspectsPerReply,
} from './allocation.js';
import { reap } from './reaping.js';

const leaseMs = 5000;
const staleMs = 1500;

function request(
  instanceId: string,
  seq: number,
  overrides: Partial<AllocationRequest> = {},
): AllocationRequest {
  return {
    instanceId,
    seq,
    enforcing: 0,
    inUse: 0,
    wants: [0, 0, 8, 0, 0],
    leaving: false,
    capacity: 8,
    leaseMs,
    clientId: 0,
    staleMs,
    checksSuspects: false,
    ...overrides,
  };
}

function env(now: number, runId = 'run'): RedisEnvironment {
  return { now, runId, uptimeMs: 1e9 };
}

/** `dead` takes all 8 slots on connection 7 at t=1000 and never calls again. */
function withDeadHolder(): BudgetState {
  const state = emptyBudgetState();
  expect(allocate(state, request('dead', 1, { clientId: 7 }), env(1000)).grant).toBe(8);
  return state;
}

describe('allocate hands out suspects', () => {
  it('only once a lease with a client id has gone unrenewed for staleMs, and only to a caller that will check', () => {
    const checker = { clientId: 9, checksSuspects: true };
    expect(allocate(withDeadHolder(), request('live', 1, checker), env(2499)).suspects).toEqual([]);
    const state = withDeadHolder();
    expect(allocate(state, request('live', 1, { clientId: 9 }), env(2500)).suspects).toEqual([]);
    expect(allocate(state, request('live', 2, { checksSuspects: true }), env(2500)).suspects).toEqual([]);
    expect(allocate(state, request('live', 3, checker), env(2500)).suspects).toEqual([
      { instanceId: 'dead', clientId: 7, seq: 1 },
    ]);
  });

  it('never suspects a lease without a client id (a Cluster client, or a lease written before client ids)', () => {
    const state = emptyBudgetState();
    allocate(state, request('old', 1), env(1000));
    const reply = allocate(state, request('live', 1, { clientId: 9, checksSuspects: true }), env(4000));
    expect(reply.suspects).toEqual([]);
  });

  it('looks at most once per staleMs / 4 across all callers', () => {
    const state = withDeadHolder();
    const look = (id: string, seq: number, now: number) =>
      allocate(state, request(id, seq, { clientId: seq + 10, checksSuspects: true }), env(now)).suspects
        .length;
    expect(look('a', 1, 2500)).toBe(1);
    expect(look('b', 1, 2500 + 374)).toBe(0);
    expect(look('a', 2, 2500 + 375)).toBe(1);
  });

  it('hands out nothing while learning after a restart (client ids belong to the old run)', () => {
    const state = withDeadHolder();
    const reply = allocate(
      state,
      request('live', 1, { clientId: 9, checksSuspects: true }),
      env(3000, 'next'),
    );
    expect(reply.learning).toBe(true);
    expect(reply.suspects).toEqual([]);
  });

  it('goes round the suspects, so frozen instances that keep their connections do not hide a dead one', () => {
    const state = emptyBudgetState();
    // Twenty frozen instances, then one that dies later: with the oldest first it would come last.
    for (let i = 0; i < 20; i++)
      allocate(
        state,
        request(`frozen${String(i).padStart(2, '0')}`, 1, { clientId: 100 + i, wants: [0, 0, 0, 0, 0] }),
        env(1000 + i),
      );
    allocate(state, request('dead', 1, { clientId: 7, wants: [0, 0, 0, 0, 0] }), env(1100));
    const handedOut: string[] = [];
    let now = 2600;
    for (let seq = 1; seq <= 3; seq++) {
      const reply = allocate(state, request('live', seq, { clientId: 9, checksSuspects: true }), env(now));
      expect(reply.suspects.length).toBeLessThanOrEqual(suspectsPerReply);
      handedOut.push(...reply.suspects.map((suspect) => suspect.instanceId));
      now += 375;
    }
    expect(handedOut).toContain('dead');
    expect(new Set(handedOut).size).toBe(21);
  });
});

describe('reap', () => {
  it('drops a stale lease whose connection is gone, and its slots go to the next caller', () => {
    const state = withDeadHolder();
    expect(allocate(state, request('live', 1, { clientId: 9 }), env(2500)).grant).toBe(0);
    expect(
      reap(state, { leases: [{ instanceId: 'dead', clientId: 7, seq: 1 }], staleMs }, env(2501)),
    ).toEqual({
      reaped: ['dead'],
      now: 2501,
    });
    expect(state.meta).toMatchObject({ reserved: 0, instances: 1 });
    expect(allocate(state, request('live', 2, { clientId: 9 }), env(2502)).grant).toBe(8);
  });

  it('keeps a lease renewed since it was handed out, or not stale, or on another connection', () => {
    const state = withDeadHolder();
    const dead = { instanceId: 'dead', clientId: 7, seq: 1 };
    expect(reap(state, { leases: [dead], staleMs }, env(2499)).reaped).toEqual([]);
    expect(reap(state, { leases: [{ ...dead, clientId: 8 }], staleMs }, env(2500)).reaped).toEqual([]);
    // It renewed (over a new connection) between the check and the reap.
    allocate(state, request('dead', 2, { clientId: 8 }), env(2500));
    expect(reap(state, { leases: [dead], staleMs }, env(2501)).reaped).toEqual([]);
    expect(reap(state, { leases: [{ ...dead, seq: 2, clientId: 8 }], staleMs }, env(2501)).reaped).toEqual(
      [],
    );
    expect(state.leases.has('dead')).toBe(true);
  });

  it('does nothing while learning, or on a Redis that is not the run the state was written by', () => {
    const dead = { instanceId: 'dead', clientId: 7, seq: 1 };
    const restarted = withDeadHolder();
    expect(reap(restarted, { leases: [dead], staleMs }, env(3000, 'next')).reaped).toEqual([]);
    allocate(restarted, request('live', 1, { clientId: 9 }), env(3000, 'next'));
    expect(reap(restarted, { leases: [dead], staleMs }, env(3001, 'next')).reaped).toEqual([]);
    expect(reap(emptyBudgetState(), { leases: [dead], staleMs }, env(3000)).reaped).toEqual([]);
  });
});
