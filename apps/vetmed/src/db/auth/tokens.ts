import { createHash, randomBytes } from 'node:crypto';

/** A new bearer token: 32 random bytes, base64url (43 characters). Shown to the client once. */
export function createBearerToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the database stores for a token: its SHA-256, hex. A random 256-bit token needs no salt. */
export function hashBearerToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
