import { randomUUID } from 'node:crypto';
import type { UserFriendlyErrorData } from '@db-safeguards/trpc';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../src/routers/app-router.js';

export type VetmedClient = ReturnType<typeof vetmedClient>;

/** A tRPC client over HTTP (no batching: every call is its own request), as one user from one IP. */
export function vetmedClient(baseUrl: string, options: { token?: string; ip?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/api/trpc`, transformer: superjson, headers })],
  });
}

/** The outcome of a call: its value, or its typed error (status and userFriendly data). */
export type Outcome<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      status: number | undefined;
      userFriendly: UserFriendlyErrorData | undefined;
      error: unknown;
    };

export async function outcome<T>(call: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call };
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const data = (error as TRPCClientError<AppRouter>).data;
      return { ok: false, status: data?.httpStatus, userFriendly: data?.userFriendly, error };
    }
    return { ok: false, status: undefined, userFriendly: undefined, error };
  }
}

/** Expects a typed failure and returns it. */
export async function failure(call: Promise<unknown>) {
  const result = await outcome(call);
  if (result.ok) throw new Error('expected the call to fail');
  return result;
}

let ipCounter = 1;
/** A fresh client address per actor, so the per-IP `auth` limit (5 per 15 minutes) does not mix tests. */
export function nextIp(): string {
  ipCounter++;
  return `198.51.${Math.floor(ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`;
}

/** The password every test user signs up with. */
export const testPassword = 'correct horse battery';

export interface Actor {
  ip: string;
  email: string;
  token: string;
  userId: string;
  client: VetmedClient;
}

/** Signs up a new user over HTTP and returns a client acting as them. */
export async function signUp(baseUrl: string, label: string): Promise<Actor> {
  const ip = nextIp();
  const email = `${label}-${randomUUID().slice(0, 8)}@example.test`;
  const session = await vetmedClient(baseUrl, { ip }).auth.signUp.mutate({
    email,
    name: label,
    password: testPassword,
  });
  return {
    ip,
    email,
    token: session.token,
    userId: session.user.id,
    client: vetmedClient(baseUrl, { token: session.token, ip }),
  };
}

/** A household with one animal, a medication, an active regimen and some stock, created over HTTP. */
export async function createHouseholdWithAnimal(actor: Actor, name = 'Home') {
  const household = await actor.client.households.create.mutate({ name });
  const animal = await actor.client.animals.create.mutate({
    householdId: household.id,
    name: 'Rex',
    species: 'dog',
    weightKg: 21.5,
  });
  const medication = await actor.client.medications.create.mutate({
    householdId: household.id,
    name: `Med ${randomUUID().slice(0, 6)}`,
    form: 'tablet',
    strength: 50,
    strengthUnit: 'mg',
  });
  const regimen = await actor.client.regimens.create.mutate({
    animalId: animal.id,
    medicationId: medication.id,
    doseAmount: 1,
    doseUnit: 'tablet',
    schedule: { kind: 'times_per_day', timesPerDay: 2 },
    // Started a month ago, so tests may record and import doses of the past days (never before the start).
    startsAt: new Date(Date.now() - 30 * 24 * 3_600_000),
  });
  await actor.client.inventory.adjust.mutate({
    householdId: household.id,
    medicationId: medication.id,
    delta: 10_000,
    unit: 'tablet',
  });
  return { household, animal, medication, regimen };
}

/** A dose recording that was applied now (not accepted for later): its administration, or the test fails. */
export function applied<T extends { status: string }>(recording: T): Extract<T, { status: 'applied' }> {
  if (recording.status !== 'applied')
    throw new Error(`expected the dose to be applied, got ${recording.status}`);
  return recording as Extract<T, { status: 'applied' }>;
}
