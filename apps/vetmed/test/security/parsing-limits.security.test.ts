import { createSafeguards } from '@db-safeguards/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/env.js';
import type { AppServer } from '../../src/server/app-server.js';
import { exceedsJsonDepth, maxJsonDepth } from '../../src/server/request-body-guard.js';
import { type Actor, signUp } from '../app/app-client.js';
import { sharedPglite } from '../support/shared-pglite.js';

describe('exceedsJsonDepth', () => {
  it('counts brackets outside strings only, escapes included', () => {
    expect(exceedsJsonDepth('[[[1]]]', 3)).toBe(false);
    expect(exceedsJsonDepth('[[[[1]]]]', 3)).toBe(true);
    expect(exceedsJsonDepth(JSON.stringify({ a: '[[[[[[[[[[' }), 2)).toBe(false);
    expect(exceedsJsonDepth(JSON.stringify({ a: 'quote \\" [[[[[[' }), 2)).toBe(false);
    expect(exceedsJsonDepth(`{"a":[${'{"b":1},'.repeat(1000)}1]}`, 3)).toBe(false);
    expect(exceedsJsonDepth('['.repeat(maxJsonDepth + 1))).toBe(true);
  });
});

const shared = sharedPglite();
let app: AppServer;
let actor: Actor;

beforeAll(async () => {
  app = await shared.serve(createSafeguards(loadEnv({}).safeguards), { bodyLimitBytes: 1024 * 1024 });
  actor = await signUp(app.url, 'parser');
}, 60_000);

async function post(path: string, body: string) {
  const response = await fetch(`${app.url}/api/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${actor.token}`, 'content-type': 'application/json' },
    body,
  });
  const json = (await response.json()) as {
    error?: { json: { data: { userFriendly: { type: string; reason: string } } } };
  };
  return { status: response.status, userFriendly: json.error?.json.data.userFriendly };
}

describe('parsing limits (issue 11)', () => {
  it('a 1 MiB body nested 520,000 levels deep is refused before any parse, typed, and the server keeps answering', async () => {
    const depth = 520_000;
    const body = `{"json":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(body.length).toBeGreaterThan(1_000_000);
    const refused = await post('imports.administrations', body);
    expect(refused).toMatchObject({
      status: 400,
      userFriendly: { type: 'VALIDATION', reason: 'bad-request' },
    });
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
  });

  it('only imports take large bodies: 200 KiB to an ordinary mutation is a typed 413, to an import it is read', async () => {
    const big = JSON.stringify({ json: { name: 'x'.repeat(200 * 1024) } });
    const refused = await post('households.create', big);
    expect(refused).toMatchObject({
      status: 413,
      userFriendly: { type: 'VALIDATION', reason: 'payload-too-large' },
    });
    // The same size to an import passes the body limit and reaches input validation (a 400 of zod's).
    const imported = await post('imports.administrations', big);
    expect(imported.status).toBe(400);
    expect(imported.userFriendly?.reason).not.toBe('payload-too-large');
    // Nothing was created by the refused call, and ordinary calls still work.
    expect(await actor.client.households.list.query()).toEqual([]);
  });

  it('a deep GET input is refused too', async () => {
    const input = encodeURIComponent(`{"0":{"json":${'['.repeat(100)}${']'.repeat(100)}}}`);
    const response = await fetch(`${app.url}/api/trpc/households.list?batch=1&input=${input}`, {
      headers: { authorization: `Bearer ${actor.token}` },
    });
    expect(response.status).toBe(400);
  });
});
