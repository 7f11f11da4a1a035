import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UserFriendlyErrorData } from '@db-safeguards/trpc';
import type { RunningVetmed } from '../../src/start-vetmed.js';
import { type Actor, createHouseholdWithAnimal, outcome, signUp } from '../app/app-client.js';
import { countsByKey } from '../support/ledger.js';

export interface LoadUser extends Actor {
  world: Awaited<ReturnType<typeof createHouseholdWithAnimal>>;
}

/** One call made during a scenario. */
export interface CallRecord {
  kind: 'record' | 'read';
  /** Index of the user who made the call. */
  user: number;
  key: string | undefined;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  status: number | undefined;
  userFriendly: UserFriendlyErrorData | undefined;
}

export async function createLoadUsers(app: RunningVetmed, count: number): Promise<LoadUser[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const actor = await signUp(app.url, `fault-${i}`);
      return { ...actor, world: await createHouseholdWithAnimal(actor) };
    }),
  );
}

/**
 * Calls at a steady rate (open loop: a stalled server does not slow the arrivals), alternating dose
 * recordings (each with a fresh idempotency key) and history reads, spread over the users.
 */
export function startSteadyLoad(users: readonly LoadUser[], ratePerSecond: number) {
  const records: CallRecord[] = [];
  const pending = new Set<Promise<void>>();
  let sent = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * ratePerSecond) / 1000);
    while (sent < due) {
      const userIndex = sent % users.length;
      const user = users[userIndex]!;
      const kind: CallRecord['kind'] = sent % 2 === 0 ? 'record' : 'read';
      sent++;
      const key = kind === 'record' ? randomUUID() : undefined;
      const startedAt = Date.now();
      const call: Promise<unknown> =
        kind === 'record'
          ? user.client.administrations.record.mutate({
              regimenId: user.world.regimen.id,
              idempotencyKey: key!,
            })
          : user.client.administrations.history.query({ animalId: user.world.animal.id, limit: 20 });
      const tracked: Promise<void> = outcome(call).then((result) => {
        records.push({
          kind,
          user: userIndex,
          key,
          startedAt,
          endedAt: Date.now(),
          ok: result.ok,
          status: result.ok ? 200 : result.status,
          userFriendly: result.ok ? undefined : result.userFriendly,
        });
        pending.delete(tracked);
      });
      pending.add(tracked);
    }
  }, 5);
  return {
    /** Stops sending and waits for every call in flight. */
    async stop(): Promise<CallRecord[]> {
      clearInterval(timer);
      await Promise.all([...pending]);
      return records.sort((a, b) => a.startedAt - b.startedAt);
    },
  };
}

export interface LedgerCheck {
  acknowledged: number;
  unacknowledged: number;
  lost: number;
  duplicated: number;
  /** Unacknowledged writes that were applied anyway (outcome unknown to the client), before its retry. */
  appliedDespiteError: number;
}

/**
 * The exactly-once check: every acknowledged dose is in the database exactly once; then every
 * unacknowledged one is sent again with the same key (what a client does after an error) and every
 * dose ends up there exactly once.
 */
export async function checkLedger(
  app: RunningVetmed,
  users: readonly LoadUser[],
  records: readonly CallRecord[],
): Promise<LedgerCheck> {
  const writes = records.filter((record) => record.kind === 'record');
  const acknowledged = writes.filter((record) => record.ok).map((record) => record.key!);
  const unacknowledged = writes.filter((record) => !record.ok).map((record) => record.key!);
  const before = await countsByKey(app, unacknowledged);
  const appliedDespiteError = unacknowledged.filter((key) => (before.get(key) ?? 0) > 0).length;

  // Retry the failed ones with their keys, as a client would, until each is acknowledged.
  for (const record of writes.filter((r) => !r.ok)) {
    const user = users[record.user]!;
    for (let attempt = 0; attempt < 20; attempt++) {
      const retried = await outcome(
        user.client.administrations.record.mutate({
          regimenId: user.world.regimen.id,
          idempotencyKey: record.key!,
        }),
      );
      if (retried.ok) break;
      await sleep(250);
    }
  }
  // Nothing deletes doses, so one count afterwards settles both questions: a dose missing now was lost
  // (acknowledged ones are never resent; failed ones were resent until acknowledged), and a count above
  // 1 is a double whenever it happened.
  const after = [...(await countsByKey(app, [...acknowledged, ...unacknowledged])).values()];
  return {
    acknowledged: acknowledged.length,
    unacknowledged: unacknowledged.length,
    lost: after.filter((n) => n === 0).length,
    duplicated: after.filter((n) => n > 1).length,
    appliedDespiteError,
  };
}
