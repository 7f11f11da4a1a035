import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password.js';
import { createBearerToken, hashBearerToken } from './tokens.js';

describe('passwords', () => {
  it('hashes with a random salt and verifies', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsE', a)).toBe(false);
  });

  it('refuses malformed hashes instead of throwing', async () => {
    for (const stored of ['', 'bcrypt$x', 'scrypt$a$b$c$d$e', 'scrypt$32768$8$1$$'])
      expect(await verifyPassword('x', stored)).toBe(false);
  });
});

describe('bearer tokens', () => {
  it('are 256-bit random strings stored as their SHA-256', () => {
    const token = createBearerToken();
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(createBearerToken()).not.toBe(token);
    expect(hashBearerToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashBearerToken(token)).toBe(hashBearerToken(token));
  });
});
