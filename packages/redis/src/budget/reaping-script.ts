import type { RedisEnvironment } from './allocation.js';
import type { ReapReply, ReapRequest } from './reaping.js';
import { storedBudgetLua } from './stored-budget.js';

/**
 * `reap` (reaping.ts) as a Lua script: one atomic step, so a renewal either lands before it (and the
 * lease is kept) or after it (and starts a new lease). Kept in lockstep with `reap` by the same property
 * test as the allocation script. Keys: those of the allocation script (stored-budget.ts).
 *
 * ARGV: staleMs, then two overrides empty in production (now, runId), then the suspects as triples:
 * instance id, client id, seq. It writes only when it drops a lease, and leaves the keys' expiry alone.
 */
export const reapLua = `
local leasesKey, expiryKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local staleMs = tonumber(ARGV[1])
${storedBudgetLua}
local now, runId = readEnvironment(ARGV[2], ARGV[3], '0')

local reaped = {}
local meta = readMeta(metaKey)
if meta and meta.runId == runId and now >= meta.learningUntil then
  for i = 4, #ARGV, 3 do
    local id = ARGV[i]
    local clientId = tonumber(ARGV[i + 1])
    local seq = tonumber(ARGV[i + 2])
    local text = redis.call('HGET', leasesKey, id)
    if text then
      local lease = parseLease(text)
      if lease.clientId > 0 and lease.clientId == clientId and lease.seq == seq and lease.renewedAt <= now - staleMs then
        subtractLease(meta, lease)
        redis.call('HDEL', leasesKey, id)
        redis.call('ZREM', expiryKey, id)
        reaped[#reaped + 1] = id
      end
    end
  end
  if #reaped > 0 then writeMeta(metaKey, meta) end
end
return { reaped, string.format('%d', now) }
`;

/** The script's ARGV for `request`; `env` overrides Redis's own clock and run id (tests only). */
export function reapArguments(request: ReapRequest, env?: Pick<RedisEnvironment, 'now' | 'runId'>): string[] {
  const args = [String(request.staleMs), env ? String(env.now) : '', env ? env.runId : ''];
  for (const suspect of request.leases)
    args.push(suspect.instanceId, String(suspect.clientId), String(suspect.seq));
  return args;
}

/** Reads the script's array reply. */
export function parseReapReply(raw: unknown): ReapReply {
  if (!Array.isArray(raw) || raw.length !== 2 || !Array.isArray(raw[0])) {
    throw new TypeError(`Unexpected reply from the reaping script: ${JSON.stringify(raw)}`);
  }
  return { reaped: (raw[0] as unknown[]).map(String), now: Number(raw[1]) };
}
