import { and, eq, gt, isNotNull, isNull, lt, or } from 'drizzle-orm';
import { hashPassword, verifyPassword } from '../auth/password.js';
import { createBearerToken, hashBearerToken } from '../auth/tokens.js';
import type { AppDatabase } from '../database.js';
import { authTokens, type User, users } from '../schema/index.js';

/** A user as the app may show it: never the password hash. */
export type PublicUser = Omit<User, 'passwordHash'>;

const publicColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

/** Default lifetime of a bearer token: 30 days. */
export const defaultTokenTtlMs = 30 * 24 * 60 * 60 * 1000;

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Creates a user. The password is hashed before the insert (no connection is held while scrypt runs).
 * An email already taken rejects with a SafeguardError of type CONFLICT (constraint `users_email_unique`).
 */
export async function createUser(
  db: AppDatabase,
  input: { email: string; name: string; password: string },
): Promise<PublicUser> {
  const passwordHash = await hashPassword(input.password);
  const [user] = await db
    .insert(users)
    .values({ email: normaliseEmail(input.email), name: input.name.trim(), passwordHash })
    .returning(publicColumns);
  return user!;
}

export interface SignInResult {
  user: PublicUser;
  /** The bearer token: returned once, stored only as its SHA-256. */
  token: string;
  expiresAt: Date;
}

/** Checks the credentials; on success issues a bearer token. Undefined for a wrong email or password. */
export async function signIn(
  db: AppDatabase,
  input: { email: string; password: string; ttlMs?: number },
): Promise<SignInResult | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(users.email, normaliseEmail(input.email)))
    .limit(1);
  // Hash anyway when the user does not exist, so timing does not tell which emails are registered.
  const valid = await verifyPassword(input.password, row?.passwordHash ?? dummyHash);
  if (!row || !valid) return undefined;
  const { passwordHash: _, ...user } = row;
  return issueToken(db, user, input.ttlMs);
}

/**
 * Issues a bearer token for `user`, whose credentials the caller has already established (sign-in
 * checked the password; sign-up just created the account). One insert; no password hashing.
 */
export async function issueToken(
  db: AppDatabase,
  user: PublicUser,
  ttlMs = defaultTokenTtlMs,
): Promise<SignInResult> {
  const token = createBearerToken();
  const expiresAt = new Date(Date.now() + ttlMs);
  await db.insert(authTokens).values({ userId: user.id, tokenHash: hashBearerToken(token), expiresAt });
  return { user, token, expiresAt };
}

/** A well-formed hash no password matches (zero salt, zero key): same cost as a real check. */
const dummyHash = `scrypt$32768$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`;

/** The user a bearer token belongs to, if the token exists, is not revoked and has not expired. One read. */
export async function authenticate(db: AppDatabase, token: string): Promise<PublicUser | undefined> {
  const [row] = await db
    .select(publicColumns)
    .from(authTokens)
    .innerJoin(users, eq(users.id, authTokens.userId))
    .where(
      and(
        eq(authTokens.tokenHash, hashBearerToken(token)),
        isNull(authTokens.revokedAt),
        gt(authTokens.expiresAt, new Date()),
      ),
    )
    .limit(1);
  return row;
}

/**
 * Like {@link authenticate}, with when the token expires: a cache of verified tokens must stop
 * accepting it then, however recently it was verified.
 */
export async function authenticateSession(
  db: AppDatabase,
  token: string,
): Promise<{ user: PublicUser; expiresAt: Date } | undefined> {
  const [row] = await db
    .select({ ...publicColumns, tokenExpiresAt: authTokens.expiresAt })
    .from(authTokens)
    .innerJoin(users, eq(users.id, authTokens.userId))
    .where(
      and(
        eq(authTokens.tokenHash, hashBearerToken(token)),
        isNull(authTokens.revokedAt),
        gt(authTokens.expiresAt, new Date()),
      ),
    )
    .limit(1);
  if (!row) return undefined;
  const { tokenExpiresAt, ...user } = row;
  return { user, expiresAt: tokenExpiresAt };
}

/** Revokes a token (sign-out). Resolves true when a live token was revoked. */
export async function revokeToken(db: AppDatabase, token: string): Promise<boolean> {
  const revoked = await db
    .update(authTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(authTokens.tokenHash, hashBearerToken(token)), isNull(authTokens.revokedAt)))
    .returning({ id: authTokens.id });
  return revoked.length > 0;
}

/** Deletes expired and revoked tokens (a periodic BATCH job). Resolves how many were deleted. */
export async function deleteStaleTokens(db: AppDatabase, now = new Date()): Promise<number> {
  const deleted = await db
    .delete(authTokens)
    .where(or(lt(authTokens.expiresAt, now), isNotNull(authTokens.revokedAt)))
    .returning({ id: authTokens.id });
  return deleted.length;
}
