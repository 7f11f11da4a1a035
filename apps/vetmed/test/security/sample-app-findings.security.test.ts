import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { createSafeguards, type SafeguardsOptions } from '@db-safeguards/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashBearerToken } from '../../src/db/auth/tokens.js';
import { loadEnv } from '../../src/env.js';
import type { AppServerOptions } from '../../src/server/app-server.js';
import {
  createHouseholdWithAnimal,
  failure,
  nextIp,
  signUp,
  testPassword,
  vetmedClient,
} from '../app/app-client.js';
import { sharedPglite } from '../support/shared-pglite.js';

// The sample app's security findings of issue 11, each performed as the attack it stops, against a
// real server over HTTP on an in-memory PGlite.

const shared = sharedPglite();

async function serve(
  server: Partial<AppServerOptions> = {},
  options: SafeguardsOptions = loadEnv({}).safeguards,
) {
  const app = await shared.serve(createSafeguards(options), {
    bodyLimitBytes: 1024 * 1024,
    trustProxy: ['127.0.0.1'],
    ...server,
  });
  return app;
}

let app: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  app = await serve();
});

describe('household membership is an invitation the invitee accepts', () => {
  it('an owner learns nothing about who has an account, and nobody joins without accepting', async () => {
    const owner = await signUp(app.url, 'owner');
    const { household } = await createHouseholdWithAnimal(owner);
    const invitee = await signUp(app.url, 'invitee');
    const nobody = `nobody-${randomUUID().slice(0, 8)}@example.test`;
    const existing = await owner.client.households.invite.mutate({
      householdId: household.id,
      email: invitee.email,
      role: 'caregiver',
    });
    const missing = await owner.client.households.invite.mutate({
      householdId: household.id,
      email: nobody,
      role: 'caregiver',
    });
    // The same answer, field for field, whether the address has an account or not.
    expect(Object.keys(existing).sort()).toEqual(Object.keys(missing).sort());
    expect({ ...existing, email: '', expiresAt: 0 }).toEqual({ ...missing, email: '', expiresAt: 0 });
    // Not a member yet: the household is not theirs to read.
    expect(await failure(invitee.client.households.get.query({ householdId: household.id }))).toMatchObject({
      status: 404,
    });
    // Someone else cannot take the invitation: the same 404 as an unknown one.
    const [invitation] = await invitee.client.invitations.list.query();
    expect(invitation).toMatchObject({ householdId: household.id, role: 'caregiver' });
    const thief = await signUp(app.url, 'thief');
    const stolen = await failure(thief.client.invitations.accept.mutate({ invitationId: invitation!.id }));
    const unknown = await failure(thief.client.invitations.accept.mutate({ invitationId: randomUUID() }));
    expect(stolen.status).toBe(404);
    expect(stolen.userFriendly?.message).toBe(unknown.userFriendly?.message);
    // Accepted: a member with the invited role, and the invitation is gone.
    await expect(invitee.client.invitations.accept.mutate({ invitationId: invitation!.id })).resolves.toEqual(
      {
        householdId: household.id,
        role: 'caregiver',
      },
    );
    await expect(invitee.client.households.get.query({ householdId: household.id })).resolves.toMatchObject({
      role: 'caregiver',
    });
    expect(await invitee.client.invitations.list.query()).toEqual([]);
  });

  it('sign-up keeps the answer for a taken email to the one unavoidable fact, behind the per-IP limit', async () => {
    const taken = await signUp(app.url, 'taken');
    const again = await failure(
      vetmedClient(app.url, { ip: nextIp() }).auth.signUp.mutate({
        email: taken.email,
        name: 'Other',
        password: testPassword,
      }),
    );
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.userFriendly)).not.toContain(taken.userId);
  });
});

describe('a household never loses its last owner', () => {
  it('an owner demoting themselves is refused while they are the only owner, and allowed once another is', async () => {
    const owner = await signUp(app.url, 'sole-owner');
    const { household } = await createHouseholdWithAnimal(owner);
    const demote = await failure(
      owner.client.households.setRole.mutate({
        householdId: household.id,
        userId: owner.userId,
        role: 'caregiver',
      }),
    );
    expect(demote).toMatchObject({ status: 409, userFriendly: { type: 'CONFLICT', reason: 'last-owner' } });
    await expect(owner.client.households.get.query({ householdId: household.id })).resolves.toMatchObject({
      role: 'owner',
    });
    // With a second owner, the first may step down; the second may not then follow.
    const second = await signUp(app.url, 'second-owner');
    await owner.client.households.invite.mutate({
      householdId: household.id,
      email: second.email,
      role: 'owner',
    });
    const [invitation] = await second.client.invitations.list.query();
    await second.client.invitations.accept.mutate({ invitationId: invitation!.id });
    await owner.client.households.setRole.mutate({
      householdId: household.id,
      userId: owner.userId,
      role: 'vet',
    });
    expect(
      await failure(
        second.client.households.setRole.mutate({
          householdId: household.id,
          userId: second.userId,
          role: 'vet',
        }),
      ),
    ).toMatchObject({ status: 409, userFriendly: { reason: 'last-owner' } });
  });
});

describe('tokens', () => {
  it('an expired token stops working at once, although it was verified (and cached) a moment before', async () => {
    const user = await signUp(app.url, 'expiring');
    // The token has 300 ms left when it is first verified (and cached, for up to 30 s).
    await shared.pglite.query(
      `update auth_tokens set expires_at = now() + interval '300 milliseconds' where token_hash = $1`,
      [hashBearerToken(user.token)],
    );
    const fresh = vetmedClient(app.url, { token: user.token, ip: user.ip });
    await expect(fresh.auth.me.query()).resolves.toMatchObject({ id: user.userId });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await failure(fresh.auth.me.query())).toMatchObject({ status: 401 });
  });

  it('a revoked token stops working at once', async () => {
    const user = await signUp(app.url, 'revoked');
    await user.client.auth.me.query();
    await user.client.auth.signOut.mutate();
    expect(await failure(user.client.auth.me.query())).toMatchObject({ status: 401 });
  });
});

describe('dose dates are bounded', () => {
  it('a dose in the future or before its regimen started is refused, single or imported, and nothing is written', async () => {
    const owner = await signUp(app.url, 'doses');
    const { household, regimen } = await createHouseholdWithAnimal(owner);
    const day = 24 * 3_600_000;
    for (const recordedAt of [
      new Date(Date.now() + day),
      new Date('2999-01-01'),
      new Date(Date.now() - 60 * day),
    ]) {
      const single = await failure(
        owner.client.administrations.record.mutate({
          regimenId: regimen.id,
          idempotencyKey: randomUUID(),
          recordedAt,
        }),
      );
      expect(single).toMatchObject({ status: 400, userFriendly: { type: 'VALIDATION' } });
      const imported = await failure(
        owner.client.imports.administrations.mutate({
          householdId: household.id,
          rows: [{ regimenId: regimen.id, idempotencyKey: randomUUID(), recordedAt }],
        }),
      );
      expect(imported).toMatchObject({ status: 400, userFriendly: { type: 'VALIDATION' } });
    }
    const exported = await owner.client.reports.export.query({ householdId: household.id });
    expect(exported).toEqual({ format: 'json', rows: [] });
    // A dose of an hour ago is fine.
    await expect(
      owner.client.administrations.record.mutate({
        regimenId: regimen.id,
        idempotencyKey: randomUUID(),
        recordedAt: new Date(Date.now() - 3_600_000),
      }),
    ).resolves.toMatchObject({ created: true });
  });
});

describe('CSV export', () => {
  it('a note with a `;`-separated formula stays inside its quoted cell', async () => {
    const owner = await signUp(app.url, 'csv');
    const { household, regimen } = await createHouseholdWithAnimal(owner);
    await owner.client.administrations.record.mutate({
      regimenId: regimen.id,
      idempotencyKey: randomUUID(),
      notes: 'given;=HYPERLINK("http://evil.example","x")',
    });
    const { csv } = (await owner.client.reports.export.query({
      householdId: household.id,
      format: 'csv',
    })) as {
      csv: string;
    };
    const line = csv.split('\n')[1]!;
    expect(line).toContain('"given;=HYPERLINK(""http://evil.example"",""x"")"');
    // Read as a spreadsheet in many locales would (`;` and `,` both separate, quotes group): no cell
    // starts with a formula character.
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const char = line[i]!;
      if (quoted) {
        if (char === '"' && line[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (char === '"') quoted = false;
        else cell += char;
      } else if (char === '"') quoted = true;
      else if (char === ',' || char === ';') {
        cells.push(cell);
        cell = '';
      } else cell += char;
    }
    cells.push(cell);
    expect(cells).toContain('given;=HYPERLINK("http://evil.example","x")');
    for (const value of cells) expect(value).not.toMatch(/^[=+\-@]/);
  });
});

describe('response headers', () => {
  it('tRPC answers are never cached and never sniffed; HSTS only when the client came over TLS', async () => {
    const user = await signUp(app.url, 'headers');
    const plain = await fetch(`${app.url}/api/trpc/auth.me`, {
      headers: { authorization: `Bearer ${user.token}`, 'x-forwarded-for': user.ip },
    });
    expect(plain.headers.get('cache-control')).toBe('no-store');
    expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
    expect(plain.headers.get('strict-transport-security')).toBeNull();
    const signIn = await fetch(`${app.url}/api/trpc/auth.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': nextIp() },
      body: JSON.stringify({ json: { email: user.email, password: testPassword } }),
    });
    expect(signIn.status).toBe(200);
    expect(signIn.headers.get('cache-control')).toBe('no-store');
    // Through the trusted proxy (127.0.0.1 here) that terminated TLS.
    const tls = await fetch(`${app.url}/api/health`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(tls.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
    expect(tls.headers.get('x-content-type-options')).toBe('nosniff');
    // The same header from an untrusted peer says nothing.
    const untrusted = await serve({ trustProxy: ['10.0.0.0/8'] });
    const spoofed = await fetch(`${untrusted.url}/api/health`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(spoofed.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('slow clients', () => {
  it('a client sending headers a byte at a time is cut off at the header timeout, not 30 s later', async () => {
    // requestTimeoutMs 500: requests (headers included) must arrive within 5.5 s.
    const slow = await serve({ requestTimeoutMs: 500 });
    const { port } = new URL(slow.url);
    const socket = connect(Number(port), '127.0.0.1');
    const started = Date.now();
    socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.write('X-Slow: a\r\n'), 300);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    clearInterval(drip);
    const heldMs = Date.now() - started;
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    // 5.5 s plus one check interval (1 s), with room for a loaded machine: far under Node's 30 s.
    expect(heldMs).toBeLessThan(12_000);
  }, 30_000);

  it('one IP cannot hold more than its share of open connections', async () => {
    const capped = await serve({ maxConnectionsPerIp: 5, trustProxy: false });
    const { port } = new URL(capped.url);
    const sockets = Array.from({ length: 8 }, () => connect(Number(port), '127.0.0.1'));
    const closed = sockets.map(
      (socket) =>
        new Promise<boolean>((resolve) => {
          socket.on('close', () => resolve(true));
          socket.on('error', () => undefined);
          setTimeout(() => resolve(false), 1500);
        }),
    );
    const outcomes = await Promise.all(closed);
    expect(outcomes.filter(Boolean)).toHaveLength(3);
    for (const socket of sockets) socket.destroy();
    // Once they are gone, the IP is served again.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await fetch(`${capped.url}/api/health`)).status).toBe(200);
  });
});

describe('sign-in', () => {
  it('guessing one account’s password is slowed per account and IP, and the real user is not locked out', async () => {
    // The per-IP limit raised (a shared NAT): the per-account one still applies.
    const nat = await serve({}, { ...loadEnv({ RATE_LIMIT_AUTH_MAX: '100' }).safeguards });
    const victim = await signUp(nat.url, 'victim');
    const attacker = vetmedClient(nat.url, { ip: '203.0.113.99' });
    const statuses: Array<number | undefined> = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (await failure(attacker.auth.signIn.mutate({ email: victim.email, password: `guess-${i}-xx` })))
          .status,
      );
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    // Even the right password is refused from that IP now...
    expect(
      (await failure(attacker.auth.signIn.mutate({ email: victim.email, password: testPassword }))).status,
    ).toBe(429);
    // ...but the victim, from their own address, signs in.
    await expect(
      vetmedClient(nat.url, { ip: victim.ip }).auth.signIn.mutate({
        email: victim.email,
        password: testPassword,
      }),
    ).resolves.toMatchObject({ user: { id: victim.userId } });
    // An IPv6 attacker rotating addresses within its /64 shares one count.
    const v6 = (n: number) => vetmedClient(nat.url, { ip: `2001:db8:9:9::${n}` });
    const v6Statuses: Array<number | undefined> = [];
    for (let i = 1; i <= 6; i++)
      v6Statuses.push(
        (await failure(v6(i).auth.signIn.mutate({ email: victim.email, password: `x-${i}-guess` }))).status,
      );
    expect(v6Statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });
});

describe('TRUST_PROXY', () => {
  it('X-Forwarded-For is believed only from the listed proxies', async () => {
    // The test connects from 127.0.0.1, which is not listed: every forged address is ignored, so five
    // sign-ups (the auth limit) use up the one real address.
    const strict = await serve({ trustProxy: ['10.0.0.0/8', 'fd00::/8'] });
    const statuses: Array<number | undefined> = [];
    for (let i = 0; i < 6; i++) {
      const result = await vetmedClient(strict.url, { ip: `198.51.100.${i + 1}` })
        .auth.signUp.mutate({
          email: `forged-${i}-${randomUUID().slice(0, 6)}@example.test`,
          name: 'F',
          password: testPassword,
        })
        .then(
          () => 200,
          (error: { data?: { httpStatus?: number } }) => error.data?.httpStatus,
        );
      statuses.push(result);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // Listed (127.0.0.1 is the proxy here): each forwarded client has its own limit.
    const fresh = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        vetmedClient(app.url, { ip: nextIp() }).auth.signUp.mutate({
          email: `proxied-${i}-${randomUUID().slice(0, 6)}@example.test`,
          name: 'P',
          password: testPassword,
        }),
      ),
    );
    expect(fresh).toHaveLength(6);
  });

  it('a TRUST_PROXY entry that is not an address or CIDR range is refused at start', () => {
    expect(() => loadEnv({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
    expect(() => loadEnv({ TRUST_PROXY: 'fd00::/129' })).toThrow(/TRUST_PROXY/);
    expect(loadEnv({ TRUST_PROXY: '10.0.0.0/8, fd00::/8' }).server.trustProxy).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ]);
  });
});

describe('SEED_DEMO', () => {
  it('auto never seeds the published demo password in production', () => {
    expect(loadEnv({ NODE_ENV: 'production', PGLITE_DATA_DIR: 'memory://' }).seedDemo).toBe(false);
    expect(loadEnv({ NODE_ENV: 'production', SEED_DEMO: 'auto' }).seedDemo).toBe(false);
    expect(loadEnv({ NODE_ENV: 'development' }).seedDemo).toBe(true);
  });
});
