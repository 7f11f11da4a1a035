import type { ReapReply, ReapRequest } from './reaping.js';

/**
 * What a `LeasedConnectionBudget` needs to take part in returning dead instances' slots early: the
 * identity of the Redis connection its calls travel on, word when that connection closes, and the two
 * steps of a check (which connections are gone, then the reaping script). Optional: without it the
 * budget sends client id 0, its lease ends only by expiry, and it checks nobody.
 *
 * Production: `RedisBudgetConnection` on a standalone ioredis client. The simulation in bench/ has its
 * own, over simulated connections.
 */
export interface BudgetConnection {
  /**
   * Redis's CLIENT ID of the connection the budget's calls travel on now; 0 while unknown (before the
   * first answer, and from a close until it has been asked again on the new connection).
   */
  readonly clientId: number;
  /**
   * Calls `listener` whenever that connection closes, before any call goes out on a new one. Returns a
   * function that stops it.
   */
  onClose(listener: () => void): () => void;
  /**
   * Which of `clientIds` Redis no longer has a connection for. `'unsupported'` when Redis cannot say
   * (CLIENT LIST ID needs Redis 6.2, and a provider or an ACL may refuse it): the budget then stops
   * checking. Rejects on a passing failure (the suspects come round again).
   */
  findGone(clientIds: readonly number[]): Promise<number[] | 'unsupported'>;
  /** Runs `reap` (reaping.ts) where the budget lives. */
  reap(request: ReapRequest): Promise<ReapReply>;
}
