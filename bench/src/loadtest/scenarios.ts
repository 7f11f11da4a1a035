import { randomUUID } from 'node:crypto';
import type { PriorityName } from '@db-safeguards/core';
import type { AppRouter } from '@db-safeguards/vetmed';
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import { fetchKeepingStatus } from './http-status-error.js';

/** What a virtual user does, and the priority the app gives it. */
export const scenarioPriority = {
  /** Record a dose: `administrations.record` (HIGH, "recording" limit). */
  record: 'HIGH',
  /** Read a dose history: `administrations.history` (NORMAL). */
  list: 'NORMAL',
  /** An adherence report: `reports.adherence` (LOW, "reports" limit). */
  report: 'LOW',
  /** A bulk import of {@link importRows} past doses: `imports.administrations` (BATCH, "heavy" limit). */
  import: 'BATCH',
} as const satisfies Record<string, PriorityName>;

/** Past doses in one bulk import (the `import` scenario). */
export const importRows = 20;

export type ScenarioName = keyof typeof scenarioPriority;
export const scenarioNames = Object.keys(scenarioPriority) as ScenarioName[];

export type VetmedClient = ReturnType<typeof createClient>;

export interface VirtualUser {
  client: VetmedClient;
  /** The user's request headers (bearer token, forwarded address): a client of another instance uses them too. */
  headers: Record<string, string>;
  householdId: string;
  animalId: string;
  regimenId: string;
}

/** A tRPC client of the sample app over HTTP, one request per call, keeping the status of non-tRPC answers. */
export function createClient(baseUrl: string, headers: Record<string, string> = {}) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${baseUrl}/api/trpc`, transformer: superjson, headers, fetch: fetchKeepingStatus }),
    ],
  });
}

/** One call of a scenario by one user. */
export function runScenario(name: ScenarioName, user: VirtualUser): Promise<unknown> {
  switch (name) {
    case 'record':
      return user.client.administrations.record.mutate({
        regimenId: user.regimenId,
        idempotencyKey: randomUUID(),
      });
    case 'list':
      return user.client.administrations.history.query({ animalId: user.animalId, limit: historyPage });
    case 'report':
      return user.client.reports.adherence.query({ householdId: user.householdId, days: 30 });
    case 'import': {
      const now = Date.now();
      const rows = Array.from({ length: importRows }, (_, i) => ({
        regimenId: user.regimenId,
        idempotencyKey: randomUUID(),
        recordedAt: new Date(now - (i + 1) * 3_600_000),
      }));
      return user.client.imports.administrations.mutate({ householdId: user.householdId, rows });
    }
  }
}

/**
 * Runs a setup call again while the app answers that it is busy (a retryable QUEUE_FULL or RATE_LIMIT,
 * which ran nothing), after the Retry-After it gave, as a well-behaved client does: setting up many
 * users at once (each sign-up hashes a password) can load the app enough that it sheds new calls.
 */
async function patiently<T>(call: () => Promise<T>): Promise<T> {
  // A shared machine can keep the app busy for many seconds: keep at it for a minute.
  const giveUpAt = Date.now() + 60_000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const busy = (
        error as {
          data?: { userFriendly?: { type?: string; retryable?: boolean; retryAfterMs?: number | null } };
        }
      ).data?.userFriendly;
      const refused = busy?.retryable === true && (busy.type === 'QUEUE_FULL' || busy.type === 'RATE_LIMIT');
      if (!refused || Date.now() >= giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(busy.retryAfterMs ?? 1000, 5000)));
    }
  }
}

/** Doses a history read returns at most (`limit` of the `list` scenario). */
export const historyPage = 50;

export interface CreateVirtualUsersOptions {
  /**
   * Past doses each user starts with, imported in one call (default {@link historyPage}): a user who
   * has used the app a while. From empty, the history reads grew towards a full page as a run went
   * on, so a later phase did more work per read than an earlier one (measured: 2.4 ms of the app's
   * CPU per answered call in the first 10 s, 3.3–3.7 ms from the fourth on) and phases compared
   * within a run were not alike.
   */
  doses?: number;
}

/**
 * Creates `count` users over the API, each with a household, an animal, a medication, a regimen and
 * stock. Each signs up from its own address (X-Forwarded-For), so the app must trust the load tool as
 * a proxy (TRUST_PROXY=127.0.0.1) or allow more sign-ups per address (RATE_LIMIT_AUTH_MAX).
 */
export async function createVirtualUsers(
  baseUrl: string,
  count: number,
  options: CreateVirtualUsersOptions = {},
): Promise<VirtualUser[]> {
  const doses = options.doses ?? historyPage;
  const users: VirtualUser[] = [];
  for (let start = 0; start < count; start += 10) {
    const batch = Array.from({ length: Math.min(10, count - start) }, async (_, offset) => {
      const index = start + offset;
      const ip = `203.0.${Math.floor(index / 250) % 250}.${(index % 250) + 1}`;
      const session = await patiently(() =>
        createClient(baseUrl, { 'x-forwarded-for': ip }).auth.signUp.mutate({
          email: `load-${randomUUID().slice(0, 12)}@example.test`,
          name: `Load user ${index}`,
          password: 'load-test-password',
        }),
      );
      const headers = { authorization: `Bearer ${session.token}`, 'x-forwarded-for': ip };
      const client = createClient(baseUrl, headers);
      const household = await patiently(() =>
        client.households.create.mutate({ name: `Load household ${index}` }),
      );
      const animal = await patiently(() =>
        client.animals.create.mutate({
          householdId: household.id,
          name: `Animal ${index}`,
          species: 'dog',
        }),
      );
      const medication = await patiently(() =>
        client.medications.create.mutate({
          householdId: household.id,
          name: `Medication ${index}`,
          form: 'tablet',
        }),
      );
      const regimen = await patiently(() =>
        client.regimens.create.mutate({
          animalId: animal.id,
          medicationId: medication.id,
          doseAmount: 1,
          doseUnit: 'tablet',
          schedule: { kind: 'times_per_day', timesPerDay: 2 },
          // Started a month ago: the imports backfill doses of the past days, never before the start.
          startsAt: new Date(Date.now() - 30 * 24 * 3_600_000),
        }),
      );
      await patiently(() =>
        client.inventory.adjust.mutate({
          householdId: household.id,
          medicationId: medication.id,
          delta: 1_000_000,
          unit: 'tablet',
        }),
      );
      if (doses > 0) {
        // A day back and hourly before that: the doses recorded during a run come first in the history.
        const now = Date.now();
        const rows = Array.from({ length: doses }, (_, i) => ({
          regimenId: regimen.id,
          idempotencyKey: randomUUID(),
          recordedAt: new Date(now - (24 + i) * 3_600_000),
        }));
        await patiently(() => client.imports.administrations.mutate({ householdId: household.id, rows }));
      }
      return { client, headers, householdId: household.id, animalId: animal.id, regimenId: regimen.id };
    });
    users.push(...(await Promise.all(batch)));
  }
  return users;
}
