import { type Clock, systemClock } from '../internal/clock.js';
import type { RequestIdentity } from '../operation-context.js';
import {
  type AdaptiveOptions,
  type LoadReading,
  nextMultiplier,
  resolveAdaptiveOptions,
  targetMultiplier,
} from './adaptive-limits.js';
import { ClientTightening } from './client-tightening.js';
import { MemoryRateLimitStore } from './memory-rate-limit-store.js';
import { rateLimitKey } from './rate-limit-key.js';
import { defaultRateLimitPolicies, type RateLimitPolicy, validatePolicy } from './rate-limit-policy.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit-store.js';

export interface RateLimitOptions {
  /** Named policies, merged over the defaults (api, auth, heavy, recording, upload, reports). */
  policies: Record<string, RateLimitPolicy>;
  /** Where counts live. Default: a {@link MemoryRateLimitStore} with `maxKeys`. */
  store?: RateLimitStore;
  /** Keys the default in-memory store keeps at most. Default 10 000. */
  maxKeys: number;
  /** Adaptive limits (tighten under load, relax afterwards); `false` turns them off. */
  adaptive: Partial<AdaptiveOptions> | false;
}

/** The outcome of one rate-limit check, with everything response headers need. */
export interface RateLimitResult {
  allowed: boolean;
  policy: string;
  key: string;
  /** The limit in force for this client (after its adaptive factor). */
  limit: number;
  remaining: number;
  /** When every hit now counted has left the window (epoch ms). */
  resetAt: number;
  /** How long to wait before a retry can succeed; 0 when allowed. */
  retryAfterMs: number;
}

export interface RateLimiterStats {
  /** The factor applied to clients above their fair share while load lasts (1: none tightened). */
  multiplier: number;
  /** Clients whose limits are tightened right now. */
  tightenedClients: number;
  checks: number;
  limited: number;
  keys: number | undefined;
  byPolicy: Record<string, { checks: number; limited: number }>;
}

/**
 * Sliding-window rate limits per key and named policy, with adaptive limits: under lasting load (not a
 * burst, and never because calls were refused) the limits of the clients above their fair share shrink
 * by a multiplier, and grow back gradually afterwards. Clients within their share keep the full limit.
 */
export class RateLimiter {
  readonly policies: Readonly<Record<string, RateLimitPolicy>>;
  readonly store: RateLimitStore;
  private readonly adaptive: AdaptiveOptions | undefined;
  private currentMultiplier = 1;
  private pressureSince: number | undefined;
  private readonly clients: ClientTightening;
  private lastAdjustedAt = Number.NEGATIVE_INFINITY;
  private readonly counts = new Map<string, { checks: number; limited: number }>();

  constructor(
    options: Partial<RateLimitOptions> = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.policies = { ...defaultRateLimitPolicies, ...options.policies };
    for (const [name, policy] of Object.entries(this.policies)) validatePolicy(name, policy);
    this.store = options.store ?? new MemoryRateLimitStore({ maxKeys: options.maxKeys ?? 10_000 });
    this.adaptive = options.adaptive === false ? undefined : resolveAdaptiveOptions(options.adaptive);
    this.clients = new ClientTightening(options.maxKeys ?? 10_000);
    for (const name of Object.keys(this.policies)) this.counts.set(name, { checks: 0, limited: 0 });
  }

  /** The factor (0..1] applied to the clients above their fair share right now (1: none). */
  get multiplier(): number {
    return this.currentMultiplier;
  }

  /**
   * The limit of `policy` in force right now for `identity`; without one, the limit of a client
   * within its fair share (the policy's own).
   */
  effectiveLimit(policy: string, identity?: RequestIdentity): number {
    const factor = identity === undefined ? 1 : this.clients.factor(rateLimitKey(policy, identity));
    return Math.max(1, Math.floor(this.requirePolicy(policy).limit * factor));
  }

  /**
   * Counts one request of `identity` against `policy`. Synchronous with the in-memory store, a promise
   * with an asynchronous store. Throws a TypeError for an unknown policy.
   */
  check(
    policy: string,
    identity: RequestIdentity,
    now = this.clock.now(),
  ): RateLimitResult | Promise<RateLimitResult> {
    const found = this.requirePolicy(policy);
    const key = rateLimitKey(policy, identity);
    let factor = 1;
    if (this.adaptive !== undefined) {
      this.clients.count(key);
      factor = this.clients.factor(key);
    }
    const limit = Math.max(1, Math.floor(found.limit * factor));
    const decision = this.store.hit(key, limit, found.windowMs, now);
    if (decision instanceof Promise)
      return decision.then((settled) => this.toResult(policy, key, limit, settled));
    return this.toResult(policy, key, limit, decision);
  }

  /** Forgets the count of `identity` under `policy`. */
  reset(policy: string, identity: RequestIdentity): void | Promise<void> {
    return this.store.reset(rateLimitKey(policy, identity));
  }

  /**
   * Adjusts the multiplier from load readings and ends the interval whose checks decide who is above
   * their fair share. Load that has lasted `sustainMs` tightens at once (the clients above their fair
   * share); once it eases the multiplier relaxes gradually. Returns the new multiplier. With adaptive
   * limits off, the multiplier stays 1.
   */
  adjustLimits(reading: LoadReading): number {
    if (!this.adaptive) return this.currentMultiplier;
    const now = this.clock.now();
    this.lastAdjustedAt = now;
    const target = targetMultiplier(reading, this.adaptive.minMultiplier);
    if (target < 1) this.pressureSince ??= now;
    else this.pressureSince = undefined;
    const lasting = this.pressureSince !== undefined && now - this.pressureSince >= this.adaptive.sustainMs;
    this.currentMultiplier = nextMultiplier(
      this.currentMultiplier,
      lasting ? target : 1,
      this.adaptive.relaxStep,
    );
    // Only lasting load tightens anyone; while the multiplier relaxes, tightened clients relax with it.
    this.clients.adjust(lasting ? this.currentMultiplier : 1, this.adaptive.relaxStep);
    return this.currentMultiplier;
  }

  /** True when adaptive limits are on and `intervalMs` has passed since the last adjustment. */
  isAdjustmentDue(now = this.clock.now()): boolean {
    return this.adaptive !== undefined && now - this.lastAdjustedAt >= this.adaptive.intervalMs;
  }

  stats(): RateLimiterStats {
    let checks = 0;
    let limited = 0;
    const byPolicy: RateLimiterStats['byPolicy'] = {};
    for (const [name, count] of this.counts) {
      byPolicy[name] = { ...count };
      checks += count.checks;
      limited += count.limited;
    }
    return {
      multiplier: this.currentMultiplier,
      tightenedClients: this.clients.size,
      checks,
      limited,
      keys: this.store.size,
      byPolicy,
    };
  }

  private requirePolicy(policy: string): RateLimitPolicy {
    const found = Object.hasOwn(this.policies, policy) ? this.policies[policy] : undefined;
    if (!found)
      throw new TypeError(
        `Unknown rate-limit policy "${policy}"; known policies: ${Object.keys(this.policies).join(', ')}`,
      );
    return found;
  }

  private toResult(policy: string, key: string, limit: number, decision: RateLimitDecision): RateLimitResult {
    const count = this.counts.get(policy)!;
    count.checks++;
    if (!decision.allowed) count.limited++;
    return {
      allowed: decision.allowed,
      policy,
      key,
      limit,
      remaining: Math.max(0, limit - decision.count),
      resetAt: decision.resetAt,
      retryAfterMs: decision.retryAfterMs,
    };
  }
}
