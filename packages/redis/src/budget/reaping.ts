import { type BudgetState, type RedisEnvironment, type Suspect, subtractLease } from './allocation.js';

/**
 * Dropping the leases of dead instances before they run out, as a pure function over the state kept
 * in Redis; `reaping-script.ts` is its Lua port, kept in lockstep with it by the same property test as
 * `allocate`.
 *
 * An instance handed suspects by `allocate` asks Redis which of their connections are gone and passes
 * those here. Between that question and this call the suspect may have renewed (over a new connection,
 * or the check raced a late renewal): a lease is dropped only if it is unchanged since it was handed
 * out (same `seq` and client id) and still unrenewed for `staleMs`. Its owner, if alive, saw its
 * connection close and stops using its grant `staleMs` after its last renewal was sent, before this can
 * drop it. Dropping takes the lease out of the totals exactly as expiry does.
 *
 * Nothing is dropped while the budget is learning, or when Redis is not the run the state was written
 * by (a restart or failover between the check and this call): client ids belong to one run of one
 * server, so a connection missing from another says nothing.
 */

export interface ReapRequest {
  /** Suspects whose connections the caller found gone, as `allocate` handed them out. */
  leases: readonly Suspect[];
  /** The caller's `staleMs`: a lease renewed within it is kept. */
  staleMs: number;
}

export interface ReapReply {
  /** Instances whose leases were dropped. */
  reaped: string[];
  /** Redis time of the call. */
  now: number;
}

/** Applies one reap to `state` (mutated in place). */
export function reap(
  state: BudgetState,
  request: ReapRequest,
  env: Pick<RedisEnvironment, 'now' | 'runId'>,
): ReapReply {
  const { now } = env;
  const meta = state.meta;
  const reaped: string[] = [];
  if (meta === undefined || meta.runId !== env.runId || now < meta.learningUntil) return { reaped, now };
  for (const suspect of request.leases) {
    const lease = state.leases.get(suspect.instanceId);
    if (
      lease === undefined ||
      lease.clientId <= 0 ||
      lease.clientId !== suspect.clientId ||
      lease.seq !== suspect.seq ||
      lease.renewedAt > now - request.staleMs
    )
      continue;
    subtractLease(meta, lease);
    state.leases.delete(suspect.instanceId);
    reaped.push(suspect.instanceId);
  }
  return { reaped, now };
}
