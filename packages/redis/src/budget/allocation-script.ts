import {
  type AllocationReply,
  type AllocationRequest,
  type AllocationStatus,
  bandCount,
  growthHoldMs,
  type RedisEnvironment,
  type Suspect,
  suspectsPerReply,
} from './allocation.js';
import { budgetKeys, decodeBudgetState, storedBudgetLua } from './stored-budget.js';

// Still importable from here, where they were before the stored format had a file of its own.
export { budgetKeys, decodeBudgetState };

/**
 * `allocate` (allocation.ts) as a Lua script, so one call is one atomic step in Redis. Keep the two in
 * lockstep: `allocation-lockstep.test.ts` runs random calls through both, on a real Redis, and compares
 * every answer and the whole stored state. Keys and formats: stored-budget.ts.
 *
 * ARGV: id, seq, enforcing, inUse, w0..w4, leaving (0/1), capacity, leaseMs, then three overrides that
 * are empty in production: now, runId, uptimeMs (the lockstep test sets them to drive time by hand),
 * then clientId, staleMs, checksSuspects (0/1).
 * All three keys expire after two leases without a call, so an abandoned budget leaves nothing behind.
 */
export const allocationLua = `
local leasesKey, expiryKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local id = ARGV[1]
local seq = tonumber(ARGV[2])
local enforcing = tonumber(ARGV[3])
local inUse = tonumber(ARGV[4])
local wants = {}
for band = 1, 5 do wants[band] = tonumber(ARGV[4 + band]) end
local leaving = ARGV[10] == '1'
local capacity = tonumber(ARGV[11])
local leaseMs = tonumber(ARGV[12])
local clientId = tonumber(ARGV[16])
local staleMs = tonumber(ARGV[17])
local checksSuspects = ARGV[18] == '1'
${storedBudgetLua}
local now, runId, uptimeMs = readEnvironment(ARGV[13], ARGV[14], ARGV[15])

local meta = readMeta(metaKey)
if not meta then
  local stray = redis.call('HLEN', leasesKey) > 0
  redis.call('DEL', leasesKey, expiryKey)
  meta = { runId = runId, learningUntil = 0, reserved = 0, wants = { 0, 0, 0, 0, 0 }, wanting = { 0, 0, 0, 0, 0 },
    instances = 0, starving = 0, suspectsAt = 0, suspectCursor = 0 }
  if stray then
    meta.learningUntil = now + leaseMs
  elseif uptimeMs < leaseMs then
    meta.learningUntil = now - uptimeMs + leaseMs
  end
elseif meta.runId ~= runId then
  meta.runId = runId
  meta.learningUntil = math.max(meta.learningUntil, now + leaseMs)
end

local expired = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', now)
for _, expiredId in ipairs(expired) do
  local text = redis.call('HGET', leasesKey, expiredId)
  if text then
    subtractLease(meta, parseLease(text))
    redis.call('HDEL', leasesKey, expiredId)
  end
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', expiryKey, '-inf', now) end

local function saveMeta()
  writeMeta(metaKey, meta)
  local ttl = leaseMs * 2
  redis.call('PEXPIRE', metaKey, ttl)
  if redis.call('EXISTS', leasesKey) == 1 then
    redis.call('PEXPIRE', leasesKey, ttl)
    redis.call('PEXPIRE', expiryKey, ttl)
  end
end

local function reply(status, grant, reserved, expiresAt, suspects)
  local totalWants = 0
  for band = 1, 5 do totalWants = totalWants + meta.wants[band] end
  local learning = 0
  if now < meta.learningUntil then learning = 1 end
  return { status, grant, reserved, learning, meta.instances, totalWants,
    string.format('%d', now), string.format('%d', expiresAt), string.format('%d', meta.learningUntil),
    suspects or {} }
end

-- leasesByExpiry in allocation.ts: the first few leases with after < expiresAt <= upTo, as { id, lease }.
local function leasesByExpiry(after, upTo)
  local found = {}
  local ids = redis.call('ZRANGEBYSCORE', expiryKey, after, string.format('%d', upTo), 'LIMIT', 0, ${suspectsPerReply})
  for _, leaseId in ipairs(ids) do
    local text = redis.call('HGET', leasesKey, leaseId)
    if text then found[#found + 1] = { leaseId, parseLease(text) } end
  end
  return found
end

-- findSuspects in allocation.ts: round robin over the leases unrenewed for staleMs.
local function findSuspects()
  meta.suspectsAt = now
  local latest = now + leaseMs - staleMs
  local looked = leasesByExpiry('(' .. string.format('%d', meta.suspectCursor), latest)
  if #looked == 0 and meta.suspectCursor > 0 then looked = leasesByExpiry('-inf', latest) end
  if #looked > 0 then meta.suspectCursor = looked[#looked][2].expiresAt else meta.suspectCursor = 0 end
  local suspects = {}
  for _, entry in ipairs(looked) do
    local lease = entry[2]
    if lease.clientId > 0 and lease.renewedAt <= now - staleMs then
      suspects[#suspects + 1] = entry[1]
      suspects[#suspects + 1] = string.format('%d', lease.clientId)
      suspects[#suspects + 1] = string.format('%d', lease.seq)
    end
  end
  return suspects
end

local ownText = redis.call('HGET', leasesKey, id)
local ownGrant = 0
local ownGrantSince = nil
if ownText then
  local own = parseLease(ownText)
  ownGrant = own.grant
  ownGrantSince = own.grantSince
  if seq <= own.seq then
    saveMeta()
    return reply('stale', own.grant, own.reserved, own.expiresAt)
  end
  subtractLease(meta, own)
  redis.call('HDEL', leasesKey, id)
  redis.call('ZREM', expiryKey, id)
end
if leaving then
  saveMeta()
  return reply('released', 0, 0, now)
end

local capped = {}
for band = 1, 5 do capped[band] = math.min(wants[band], capacity) end
local grant
local starving = 0
if now < meta.learningUntil then
  grant = math.min(enforcing, capacity)
else
  local remaining = capacity
  local target = 0
  local entitled = 0
  for band = 5, 1, -1 do
    local mine = capped[band]
    local all = meta.wants[band] + mine
    if all > 0 then
      if all <= remaining then
        target = target + mine
        entitled = entitled + mine
        remaining = remaining - all
      else
        if mine > 0 then
          local sharers = meta.wanting[band] + 1
          local owed = 1
          if sharers < remaining then
            owed = 1 + math.floor(((remaining - sharers) * (mine - 1)) / (all - sharers))
          end
          target = target + math.max(math.min(mine, math.ceil((remaining * mine) / all)), owed)
          entitled = entitled + owed
        end
        remaining = 0
      end
    end
    if remaining <= 0 then break end
  end
  local free = capacity - meta.reserved
  local open = math.max(math.min(entitled, free), free - meta.starving)
  -- Doubling waits until the grant has been held growthHoldMs (allocation.ts).
  local growFrom = ownGrant
  if ownGrantSince ~= nil and now - ownGrantSince >= ${growthHoldMs} then growFrom = 2 * ownGrant end
  local growth = math.max(growFrom, math.ceil(capacity / (meta.instances + 1)))
  grant = math.max(0, math.min(target, open, growth))
  starving = math.max(0, entitled - grant)
end
local lease = { seq = seq, grant = grant, reserved = math.max(grant, enforcing, inUse), wants = capped,
  expiresAt = now + leaseMs, starving = starving, clientId = clientId, renewedAt = now, grantSince = now }
if ownGrantSince ~= nil and grant <= ownGrant then lease.grantSince = ownGrantSince end
addLease(meta, lease)
redis.call('HSET', leasesKey, id, formatLease(lease))
redis.call('ZADD', expiryKey, lease.expiresAt, id)
local suspects = {}
-- suspectsDue in allocation.ts: at most once per quarter of staleMs, fleet-wide.
if checksSuspects and clientId > 0 and now >= meta.learningUntil
  and (now - meta.suspectsAt >= math.ceil(staleMs / 4) or now < meta.suspectsAt) then
  suspects = findSuspects()
end
saveMeta()
return reply('granted', grant, lease.reserved, lease.expiresAt, suspects)
`;

/** The script's ARGV for `request`; `env` overrides Redis's own clock and run id (tests only). */
export function allocationArguments(request: AllocationRequest, env?: RedisEnvironment): string[] {
  const wants = Array.from({ length: bandCount }, (_, band) => String(request.wants[band] ?? 0));
  return [
    request.instanceId,
    String(request.seq),
    String(request.enforcing),
    String(request.inUse),
    ...wants,
    request.leaving ? '1' : '0',
    String(request.capacity),
    String(request.leaseMs),
    env ? String(env.now) : '',
    env ? env.runId : '',
    env ? String(env.uptimeMs) : '',
    String(request.clientId),
    String(request.staleMs),
    request.checksSuspects ? '1' : '0',
  ];
}

/** Reads the script's array reply. */
export function parseAllocationReply(raw: unknown): AllocationReply {
  if (!Array.isArray(raw) || raw.length !== 10 || !Array.isArray(raw[9]) || raw[9].length % 3 !== 0) {
    throw new TypeError(`Unexpected reply from the budget script: ${JSON.stringify(raw)}`);
  }
  const [status, grant, reserved, learning, instances, totalWants, now, expiresAt, learningUntil] = raw;
  const flat = raw[9] as unknown[];
  const suspects: Suspect[] = [];
  for (let i = 0; i < flat.length; i += 3) {
    suspects.push({ instanceId: String(flat[i]), clientId: Number(flat[i + 1]), seq: Number(flat[i + 2]) });
  }
  return {
    status: String(status) as AllocationStatus,
    grant: Number(grant),
    reserved: Number(reserved),
    learning: Number(learning) === 1,
    instances: Number(instances),
    totalWants: Number(totalWants),
    now: Number(now),
    expiresAt: Number(expiresAt),
    learningUntil: Number(learningUntil),
    suspects,
  };
}
