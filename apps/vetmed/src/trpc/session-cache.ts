import type { PublicUser } from '../db/index.js';

/**
 * Verified bearer tokens, kept for a short time so a client making many calls does not cost one
 * database lookup per call. Every hit checks the token's own expiry too (a token past it is dropped
 * at once, not `ttlMs` later); sign-out removes the token at once on this instance; other instances
 * notice within `ttlMs` (until a shared store exists). A token past `ttlMs` (but not past its own
 * expiry) is kept a while longer (`staleTtlMs`) for one use only: while the database is unavailable
 * to look it up again ({@link lastVerified}), so a caregiver signed in before an outage can
 * still read stale data and have a dose accepted for later.
 */
export class SessionCache {
  private readonly entries = new Map<
    string,
    { user: PublicUser; expiresAt: number; tokenExpiresAt: number }
  >();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
    private readonly staleTtlMs = 30 * 60_000,
  ) {}

  get(token: string, now = Date.now()): PublicUser | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      if (entry.tokenExpiresAt <= now || entry.expiresAt + this.staleTtlMs <= now) this.entries.delete(token);
      return undefined;
    }
    return entry.user;
  }

  /**
   * The user a token was last verified as, up to `ttlMs + staleTtlMs` ago and never past the token's
   * own expiry. Not proof that the token is still valid, so it is for two uses only:
   * - a call whose lookup failed because the database is unavailable: a token signed out on another
   *   instance during the outage is honoured until the database answers again, which is all that can
   *   be known then;
   * - whom the HTTP edge charges a call to and refuses it for (rate limit, load) before the token is
   *   looked up again: a refusal grants nothing, and a call the edge lets through is looked up as
   *   usual. Without it, a token past `ttlMs` skipped the edge, and every user whose entry had just
   *   expired sent their calls down the whole tRPC path until a lookup of theirs got through a full
   *   queue: under overload that took the app's CPU for seconds (urgent calls waited 0.5-4 s).
   * A token signed out on this instance, or found unknown by a lookup, is gone.
   */
  lastVerified(token: string, now = Date.now()): PublicUser | undefined {
    const entry = this.entries.get(token);
    if (!entry || entry.tokenExpiresAt <= now || entry.expiresAt + this.staleTtlMs <= now) return undefined;
    return entry.user;
  }

  /** Caches a verified token until `ttlMs` from now, or until the token expires if sooner. */
  set(token: string, user: PublicUser, now = Date.now(), tokenExpiresAt = Number.POSITIVE_INFINITY): void {
    this.entries.delete(token);
    if (tokenExpiresAt <= now) return;
    this.entries.set(token, { user, expiresAt: Math.min(now + this.ttlMs, tokenExpiresAt), tokenExpiresAt });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(token: string): void {
    this.entries.delete(token);
  }

  private readonly blocked = new Map<string, number>();

  /** While `ip` is over its limit of unknown tokens: the ms left, else undefined. */
  isBlocked(ip: string | undefined, now = Date.now()): number | undefined {
    if (ip === undefined) return undefined;
    const until = this.blocked.get(ip);
    if (until === undefined) return undefined;
    if (until <= now) {
      this.blocked.delete(ip);
      return undefined;
    }
    return until - now;
  }

  /** Marks `ip` as over its limit of unknown tokens until `until` (epoch ms). */
  block(ip: string | undefined, until: number): void {
    if (ip === undefined) return;
    this.blocked.set(ip, until);
    if (this.blocked.size > this.maxEntries) this.blocked.delete(this.blocked.keys().next().value as string);
  }

  /** Blocked IPs with a token lookup running now. */
  private readonly lookingUp = new Set<string>();

  /**
   * Claims the one token lookup a blocked `ip` may have running; false while another is running.
   * Pair a true with {@link endBlockedLookup}.
   */
  beginBlockedLookup(ip: string | undefined): boolean {
    if (ip === undefined) return true;
    if (this.lookingUp.has(ip)) return false;
    this.lookingUp.add(ip);
    return true;
  }

  endBlockedLookup(ip: string | undefined): void {
    if (ip !== undefined) this.lookingUp.delete(ip);
  }
}
