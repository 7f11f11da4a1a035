import {
  type AllocationReply,
  type AllocationRequest,
  type AllocationStatus,
  type BudgetState,
  bandCount,
  type LeaseRecord,
  type RedisEnvironment,
} from './allocation.js';

/**
 * `allocate` (allocation.ts) as a Lua script, so one call is one atomic step in Redis. Keep the two in
 * lockstep: `allocation-lockstep.test.ts` runs random calls through both, on a real Redis, and compares
 * every answer and the whole stored state.
 *
 * Keys (one hash tag, so a Redis Cluster keeps them in one slot):
 * - KEYS[1] `{key}:leases`, hash: instance id → "seq grant reserved w0 w1 w2 w3 w4 expiresAt starving"
 *   (a lease written before `starving` existed has nine fields and reads as not starving)
 * - KEYS[2] `{key}:expiry`, sorted set: instance id scored by expiresAt (finds expired leases in O(log n))
 * - KEYS[3] `{key}:meta`, hash: runId, learningUntil, reserved, w0..w4, n0..n4 (leases wanting any slot
 *   per band), instances, starving
 *
 * ARGV: id, seq, enforcing, inUse, w0..w4, leaving (0/1), capacity, leaseMs, then three overrides that
 * are empty in production: now, runId, uptimeMs (the lockstep test sets them to drive time by hand).
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

local now, runId, uptimeMs
if ARGV[13] ~= '' then
  now = tonumber(ARGV[13])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if ARGV[14] ~= '' then
  runId = ARGV[14]
  uptimeMs = tonumber(ARGV[15])
else
  local info = redis.call('INFO', 'server')
  runId = string.match(info, 'run_id:(%w+)')
  uptimeMs = tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) * 1000
end

local function parseLease(text)
  local f = {}
  for field in string.gmatch(text, '%S+') do f[#f + 1] = tonumber(field) end
  return { seq = f[1], grant = f[2], reserved = f[3], wants = { f[4], f[5], f[6], f[7], f[8] }, expiresAt = f[9],
    starving = f[10] or 0 }
end

local function formatLease(lease)
  local w = lease.wants
  return string.format('%d %d %d %d %d %d %d %d %d %d', lease.seq, lease.grant, lease.reserved,
    w[1], w[2], w[3], w[4], w[5], lease.expiresAt, lease.starving)
end

local metaFields = redis.call('HMGET', metaKey, 'runId', 'learningUntil', 'reserved', 'w0', 'w1', 'w2', 'w3', 'w4', 'instances', 'starving',
  'n0', 'n1', 'n2', 'n3', 'n4')
local meta
if not metaFields[1] then
  local stray = redis.call('HLEN', leasesKey) > 0
  redis.call('DEL', leasesKey, expiryKey)
  meta = { runId = runId, learningUntil = 0, reserved = 0, wants = { 0, 0, 0, 0, 0 }, wanting = { 0, 0, 0, 0, 0 }, instances = 0, starving = 0 }
  if stray then
    meta.learningUntil = now + leaseMs
  elseif uptimeMs < leaseMs then
    meta.learningUntil = now - uptimeMs + leaseMs
  end
else
  meta = {
    runId = metaFields[1],
    learningUntil = tonumber(metaFields[2]),
    reserved = tonumber(metaFields[3]),
    wants = { tonumber(metaFields[4]), tonumber(metaFields[5]), tonumber(metaFields[6]), tonumber(metaFields[7]), tonumber(metaFields[8]) },
    instances = tonumber(metaFields[9]),
    starving = tonumber(metaFields[10]) or 0,
    wanting = {},
  }
  for band = 1, 5 do meta.wanting[band] = tonumber(metaFields[10 + band]) or 0 end
  if meta.runId ~= runId then
    meta.runId = runId
    meta.learningUntil = math.max(meta.learningUntil, now + leaseMs)
  end
end

local function subtract(lease)
  meta.reserved = meta.reserved - lease.reserved
  for band = 1, 5 do
    meta.wants[band] = meta.wants[band] - lease.wants[band]
    if lease.wants[band] > 0 then meta.wanting[band] = meta.wanting[band] - 1 end
  end
  meta.instances = meta.instances - 1
  meta.starving = meta.starving - lease.starving
end

local function add(lease)
  meta.reserved = meta.reserved + lease.reserved
  for band = 1, 5 do
    meta.wants[band] = meta.wants[band] + lease.wants[band]
    if lease.wants[band] > 0 then meta.wanting[band] = meta.wanting[band] + 1 end
  end
  meta.instances = meta.instances + 1
  meta.starving = meta.starving + lease.starving
end

local expired = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', now)
for _, expiredId in ipairs(expired) do
  local text = redis.call('HGET', leasesKey, expiredId)
  if text then
    subtract(parseLease(text))
    redis.call('HDEL', leasesKey, expiredId)
  end
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', expiryKey, '-inf', now) end

local function saveMeta()
  redis.call('HSET', metaKey, 'runId', meta.runId, 'learningUntil', string.format('%d', meta.learningUntil),
    'reserved', meta.reserved, 'w0', meta.wants[1], 'w1', meta.wants[2], 'w2', meta.wants[3],
    'w3', meta.wants[4], 'w4', meta.wants[5], 'instances', meta.instances, 'starving', meta.starving,
    'n0', meta.wanting[1], 'n1', meta.wanting[2], 'n2', meta.wanting[3], 'n3', meta.wanting[4], 'n4', meta.wanting[5])
  local ttl = leaseMs * 2
  redis.call('PEXPIRE', metaKey, ttl)
  if redis.call('EXISTS', leasesKey) == 1 then
    redis.call('PEXPIRE', leasesKey, ttl)
    redis.call('PEXPIRE', expiryKey, ttl)
  end
end

local function reply(status, grant, reserved, expiresAt)
  local totalWants = 0
  for band = 1, 5 do totalWants = totalWants + meta.wants[band] end
  local learning = 0
  if now < meta.learningUntil then learning = 1 end
  return { status, grant, reserved, learning, meta.instances, totalWants,
    string.format('%d', now), string.format('%d', expiresAt), string.format('%d', meta.learningUntil) }
end

local ownText = redis.call('HGET', leasesKey, id)
local ownGrant = 0
if ownText then
  local own = parseLease(ownText)
  ownGrant = own.grant
  if seq <= own.seq then
    saveMeta()
    return reply('stale', own.grant, own.reserved, own.expiresAt)
  end
  subtract(own)
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
  local growth = math.max(2 * ownGrant, math.ceil(capacity / (meta.instances + 1)))
  grant = math.max(0, math.min(target, open, growth))
  starving = math.max(0, entitled - grant)
end
local lease = { seq = seq, grant = grant, reserved = math.max(grant, enforcing, inUse), wants = capped,
  expiresAt = now + leaseMs, starving = starving }
add(lease)
redis.call('HSET', leasesKey, id, formatLease(lease))
redis.call('ZADD', expiryKey, lease.expiresAt, id)
saveMeta()
return reply('granted', grant, lease.reserved, lease.expiresAt)
`;

/** The three keys of a budget named `key`. */
export function budgetKeys(key: string): [leases: string, expiry: string, meta: string] {
  const tagged = `{${key}}`;
  return [`${tagged}:leases`, `${tagged}:expiry`, `${tagged}:meta`];
}

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
  ];
}

/** Reads the script's array reply. */
export function parseAllocationReply(raw: unknown): AllocationReply {
  if (!Array.isArray(raw) || raw.length !== 9) {
    throw new TypeError(`Unexpected reply from the budget script: ${JSON.stringify(raw)}`);
  }
  const [status, grant, reserved, learning, instances, totalWants, now, expiresAt, learningUntil] = raw;
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
  };
}

/** Decodes the stored state (HGETALL of the leases and meta keys) into the shape `allocate` works on. */
export function decodeBudgetState(leases: Record<string, string>, meta: Record<string, string>): BudgetState {
  const decoded = new Map<string, LeaseRecord>();
  for (const [id, text] of Object.entries(leases)) {
    const f = text.split(' ').map(Number);
    decoded.set(id, {
      seq: f[0]!,
      grant: f[1]!,
      reserved: f[2]!,
      wants: f.slice(3, 8),
      expiresAt: f[8]!,
      starving: f[9] ?? 0,
    });
  }
  return {
    meta:
      meta.runId === undefined
        ? undefined
        : {
            runId: meta.runId,
            learningUntil: Number(meta.learningUntil),
            reserved: Number(meta.reserved),
            wants: [meta.w0, meta.w1, meta.w2, meta.w3, meta.w4].map(Number),
            wanting: [meta.n0, meta.n1, meta.n2, meta.n3, meta.n4].map((n) => Number(n ?? 0)),
            instances: Number(meta.instances),
            starving: Number(meta.starving ?? 0),
          },
    leases: decoded,
  };
}
