import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UserFriendlyErrorData } from '@db-safeguards/trpc';
import { sql } from 'drizzle-orm';
import type { RunningVetmed } from '../../src/start-vetmed.js';
import { type Actor, createHouseholdWithAnimal, outcome, signUp } from '../app/app-client.js';
import { queryRows, stockOf } from '../support/ledger.js';

export interface LoadUser extends Actor {
  world: Awaited<ReturnType<typeof createHouseholdWithAnimal>>;
  /** The household's stock of the regimen's medication once set up, before any load. */
  stockBefore: number;
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
  /**
   * What a successful call answered, when it is not the usual answer: a recording accepted for later
   * (with its receipt), or a read answered from the last good copy. Undefined for the usual answers.
   */
  degraded?: { kind: 'accepted-for-later'; receiptId: string } | { kind: 'stale'; asOf: Date };
}

export async function createLoadUsers(app: RunningVetmed, count: number): Promise<LoadUser[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const actor = await signUp(app.url, `fault-${i}`);
      const world = await createHouseholdWithAnimal(actor);
      return { ...actor, world, stockBefore: await stockOf(app, { world }) };
    }),
  );
}

/** The fields of a recording's or a history's answer that say it is degraded. */
interface DegradableAnswer {
  status?: string;
  degraded?: boolean;
  receiptId?: string;
  asOf?: Date;
}

/** The procedure the steady load writes with. */
const writeProcedure = 'administrations.record';

/** A server-side retry the app's safeguards made. */
export interface ObservedRetry {
  /** The tRPC procedure the retried operation ran for. */
  label: string | undefined;
  reason: string;
  type: string;
  delayMs: number;
}

/**
 * Records every retry the app's safeguards make from now on. A retry event names the procedure but
 * not the operation: the reads a write procedure makes first (its access check) are retried under
 * the same label. Whether the server ever ran a write again is settled at the database instead
 * (`FaultTarget.committedAttempts`, checked by {@link checkLedger}).
 */
export function watchRetries(app: RunningVetmed) {
  const retries: ObservedRetry[] = [];
  const subscription = app.safeguards.onRetry((event) =>
    retries.push({
      label: event.label,
      reason: event.error.reason,
      type: event.error.type,
      delayMs: event.delayMs,
    }),
  );
  return {
    retries,
    /** Retries made for the write procedure (its reads, or its write when the attempt was not applied). */
    inWriteProcedure: () => retries.filter((retry) => retry.label === writeProcedure),
    stop: () => subscription.dispose(),
  };
}

/**
 * Calls at a steady rate (open loop: a stalled server does not slow the arrivals), alternating dose
 * recordings (each with a fresh idempotency key) and history reads. Calls go to the users two at a
 * time, so every user both records and reads whatever the number of users.
 */
export function startSteadyLoad(users: readonly LoadUser[], ratePerSecond: number) {
  const records: CallRecord[] = [];
  const pending = new Set<Promise<void>>();
  let readsInFlight = 0;
  let sent = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * ratePerSecond) / 1000);
    while (sent < due) {
      const userIndex = Math.floor(sent / 2) % users.length;
      const user = users[userIndex]!;
      const kind: CallRecord['kind'] = sent % 2 === 0 ? 'record' : 'read';
      sent++;
      const key = kind === 'record' ? randomUUID() : undefined;
      const startedAt = Date.now();
      if (kind === 'read') readsInFlight++;
      const call: Promise<unknown> =
        kind === 'record'
          ? user.client.administrations.record.mutate({
              regimenId: user.world.regimen.id,
              idempotencyKey: key!,
            })
          : user.client.administrations.history.query({ animalId: user.world.animal.id, limit: 20 });
      const tracked: Promise<void> = outcome(call).then((result) => {
        if (kind === 'read') readsInFlight--;
        const answer = result.ok ? (result.value as DegradableAnswer) : undefined;
        records.push({
          kind,
          user: userIndex,
          key,
          startedAt,
          endedAt: Date.now(),
          ok: result.ok,
          status: result.ok ? 200 : result.status,
          userFriendly: result.ok ? undefined : result.userFriendly,
          ...(answer?.status === 'accepted-for-later' && answer.receiptId
            ? { degraded: { kind: 'accepted-for-later' as const, receiptId: answer.receiptId } }
            : answer?.degraded === true && answer.asOf
              ? { degraded: { kind: 'stale' as const, asOf: answer.asOf } }
              : {}),
        });
        pending.delete(tracked);
      });
      pending.add(tracked);
    }
  }, 5);
  return {
    /** Reads sent and not answered yet. */
    readsInFlight: (): number => readsInFlight,
    /** The calls answered so far (a copy), while the load goes on. */
    answered: (): CallRecord[] => [...records],
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
  /** Doses missing from the administrations table after the clients' retries. */
  lost: number;
  /** Doses stored more than once, by regimen and idempotency key or by stock drawn down beyond the doses acknowledged. */
  duplicated: number;
  /** Unacknowledged writes that were applied anyway (outcome unknown to the client), before its retry. */
  appliedDespiteError: number;
  /** Failed writes still not acknowledged after the clients' retries. */
  stillUnacknowledged: number;
  /** Doses' worth of stock drawn down, over every user's household. */
  stockDrawn: number;
  /** Distinct doses acknowledged to their clients in the end, over every user. */
  distinctDoses: number;
  /** Users whose stock drawn down differs from their acknowledged doses. */
  stockMismatches: Array<{ user: number; drawn: number; doses: number }>;
  /**
   * Doses the database executed and committed more than once before any client sent them again: the
   * server retried a write whose first attempt had been applied.
   */
  reExecuted: number;
}

/** A dose as the schema identifies it: its idempotency key is unique within its regimen only. */
export interface DoseKey {
  regimenId: string;
  idempotencyKey: string;
}

/** Committed executions of a dose insert for each dose asked about, in the same order, counted at the database. */
export type CommittedAttempts = (doses: readonly DoseKey[]) => Promise<number[]>;

/** How many administrations are stored for each dose asked about, in the same order (0: none). */
async function storedPerDose(app: RunningVetmed, doses: readonly DoseKey[]): Promise<number[]> {
  const counts = new Map<string, number>();
  for (let start = 0; start < doses.length; start += 500) {
    const chunk = doses.slice(start, start + 500);
    const rows = await queryRows<{ regimen: string; key: string; n: number }>(
      app,
      sql`select regimen_id::text as regimen, idempotency_key as key, count(*)::int as n from administrations
          where (regimen_id, idempotency_key) in (${sql.join(
            chunk.map((dose) => sql`(${dose.regimenId}::uuid, ${dose.idempotencyKey})`),
            sql`, `,
          )})
          group by regimen_id, idempotency_key`,
    );
    for (const row of rows)
      counts.set(doseId({ regimenId: row.regimen, idempotencyKey: row.key }), Number(row.n));
  }
  return doses.map((dose) => counts.get(doseId(dose)) ?? 0);
}

/** One string per dose, for sets and maps. */
export const doseId = (dose: DoseKey) => `${dose.regimenId}/${dose.idempotencyKey}`;

/**
 * The exactly-once check: every acknowledged dose is in the database exactly once; then every
 * unacknowledged one is sent again with the same key (what a client does after an error) and every
 * dose ends up there exactly once. A dose is its regimen and its idempotency key, as in the schema:
 * the same key on another regimen is another dose.
 *
 * The pair is unique in the schema, so counting rows per dose cannot see a dose applied twice. Two
 * independent checks can: each dose that is applied draws the household's stock down by its amount,
 * so the stock drawn down must equal the distinct doses acknowledged, user by user; and the
 * database's own count of committed executions per dose (`committedAttempts`) shows a write the
 * server ran again.
 */
export async function checkLedger(
  app: RunningVetmed,
  users: readonly LoadUser[],
  records: readonly CallRecord[],
  committedAttempts: CommittedAttempts,
): Promise<LedgerCheck> {
  const writes = records
    .filter((record) => record.kind === 'record')
    .map((record) => ({
      record,
      dose: { regimenId: users[record.user]!.world.regimen.id, idempotencyKey: record.key! },
    }));
  const acknowledged = writes.filter((w) => w.record.ok).map((w) => w.dose);
  const unacknowledged = writes.filter((w) => !w.record.ok).map((w) => w.dose);
  // Each dose was sent once so far: more than one committed execution is the server's doing.
  const attempts = await committedAttempts([...acknowledged, ...unacknowledged]);
  const reExecuted = attempts.filter((n) => n > 1).length;
  const before = await storedPerDose(app, unacknowledged);
  const appliedDespiteError = before.filter((n) => n > 0).length;

  // Retry the failed ones with their keys, as a client would, until each is acknowledged.
  const acknowledgedDoses = new Set(acknowledged.map(doseId));
  for (const { record, dose } of writes.filter((w) => !w.record.ok)) {
    const user = users[record.user]!;
    for (let attempt = 0; attempt < 20; attempt++) {
      const retried = await outcome(
        user.client.administrations.record.mutate({
          regimenId: dose.regimenId,
          idempotencyKey: dose.idempotencyKey,
        }),
      );
      if (retried.ok) {
        acknowledgedDoses.add(doseId(dose));
        break;
      }
      await sleep(250);
    }
  }
  // Nothing deletes doses, so one count afterwards settles both questions: a dose missing now was lost
  // (acknowledged ones are never resent; failed ones were resent until acknowledged), and a count above
  // 1 is a double whenever it happened.
  const counts = await storedPerDose(app, [...acknowledged, ...unacknowledged]);

  const stockMismatches: LedgerCheck['stockMismatches'] = [];
  let stockDrawn = 0;
  let excessDraws = 0;
  for (const [index, user] of users.entries()) {
    const doses = new Set(
      writes
        .filter((w) => w.record.user === index && acknowledgedDoses.has(doseId(w.dose)))
        .map((w) => doseId(w.dose)),
    ).size;
    const drawn = (user.stockBefore - (await stockOf(app, user))) / Number(user.world.regimen.doseAmount);
    stockDrawn += drawn;
    if (Math.abs(drawn - doses) > 1e-9) stockMismatches.push({ user: index, drawn, doses });
    excessDraws += Math.max(0, Math.round(drawn - doses));
  }
  return {
    acknowledged: acknowledged.length,
    unacknowledged: unacknowledged.length,
    lost: counts.filter((n) => n === 0).length,
    duplicated: Math.max(counts.filter((n) => n > 1).length, excessDraws),
    appliedDespiteError,
    stillUnacknowledged: unacknowledged.filter((dose) => !acknowledgedDoses.has(doseId(dose))).length,
    stockDrawn,
    distinctDoses: acknowledgedDoses.size,
    stockMismatches,
    reExecuted,
  };
}
