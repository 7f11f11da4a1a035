import type { BudgetState, LeaseRecord } from './allocation.js';

/**
 * How a budget is stored in Redis: written by the allocation script and the reaping script, which
 * share the Lua below so that the format lives in one place, and read back by `decodeBudgetState` (the
 * lockstep test compares it with the TypeScript model).
 *
 * Keys (one hash tag, so a Redis Cluster keeps them in one slot):
 * - `{key}:leases`, hash: instance id → "seq grant reserved w0 w1 w2 w3 w4 expiresAt starving clientId
 *   renewedAt grantSince". Older leases have fewer fields: nine (before `starving`), ten (before
 *   `clientId` and `renewedAt`) or twelve (before `grantSince`); they read as not starving, with client
 *   id 0 (never suspect), renewedAt 0 and grantSince 0 (held long enough to grow).
 * - `{key}:expiry`, sorted set: instance id scored by expiresAt. It finds expired leases in O(log n),
 *   and, since every lease expires `leaseMs` after its renewal, stale ones too.
 * - `{key}:meta`, hash: runId, learningUntil, reserved, w0..w4, n0..n4 (leases wanting any slot per
 *   band), instances, starving, suspectsAt, suspectCursor.
 */

/** The three keys of a budget named `key`. */
export function budgetKeys(key: string): [leases: string, expiry: string, meta: string] {
  const tagged = `{${key}}`;
  return [`${tagged}:leases`, `${tagged}:expiry`, `${tagged}:meta`];
}

/**
 * Lua functions both scripts start with. `readEnvironment` takes the three override arguments (empty
 * in production; the lockstep test sets them to drive time and restarts by hand).
 */
export const storedBudgetLua = `
local function readEnvironment(nowArg, runIdArg, uptimeArg)
  local now, runId, uptimeMs
  if nowArg ~= '' then
    now = tonumber(nowArg)
  else
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  if runIdArg ~= '' then
    runId = runIdArg
    uptimeMs = tonumber(uptimeArg)
  else
    local info = redis.call('INFO', 'server')
    runId = string.match(info, 'run_id:(%w+)')
    uptimeMs = tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) * 1000
  end
  return now, runId, uptimeMs
end

local function parseLease(text)
  local f = {}
  for field in string.gmatch(text, '%S+') do f[#f + 1] = tonumber(field) end
  return { seq = f[1], grant = f[2], reserved = f[3], wants = { f[4], f[5], f[6], f[7], f[8] }, expiresAt = f[9],
    starving = f[10] or 0, clientId = f[11] or 0, renewedAt = f[12] or 0, grantSince = f[13] or 0 }
end

local function formatLease(lease)
  local w = lease.wants
  return string.format('%d %d %d %d %d %d %d %d %d %d %d %d %d', lease.seq, lease.grant, lease.reserved,
    w[1], w[2], w[3], w[4], w[5], lease.expiresAt, lease.starving, lease.clientId, lease.renewedAt,
    lease.grantSince)
end

-- The meta hash, or nil when there is none.
local function readMeta(metaKey)
  local f = redis.call('HMGET', metaKey, 'runId', 'learningUntil', 'reserved', 'w0', 'w1', 'w2', 'w3', 'w4',
    'instances', 'starving', 'n0', 'n1', 'n2', 'n3', 'n4', 'suspectsAt', 'suspectCursor')
  if not f[1] then return nil end
  local meta = {
    runId = f[1],
    learningUntil = tonumber(f[2]),
    reserved = tonumber(f[3]),
    wants = { tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), tonumber(f[7]), tonumber(f[8]) },
    instances = tonumber(f[9]),
    starving = tonumber(f[10]) or 0,
    wanting = {},
    suspectsAt = tonumber(f[16]) or 0,
    suspectCursor = tonumber(f[17]) or 0,
  }
  for band = 1, 5 do meta.wanting[band] = tonumber(f[10 + band]) or 0 end
  return meta
end

local function writeMeta(metaKey, meta)
  redis.call('HSET', metaKey, 'runId', meta.runId, 'learningUntil', string.format('%d', meta.learningUntil),
    'reserved', meta.reserved, 'w0', meta.wants[1], 'w1', meta.wants[2], 'w2', meta.wants[3],
    'w3', meta.wants[4], 'w4', meta.wants[5], 'instances', meta.instances, 'starving', meta.starving,
    'n0', meta.wanting[1], 'n1', meta.wanting[2], 'n2', meta.wanting[3], 'n3', meta.wanting[4], 'n4', meta.wanting[5],
    'suspectsAt', string.format('%d', meta.suspectsAt), 'suspectCursor', string.format('%d', meta.suspectCursor))
end

local function subtractLease(meta, lease)
  meta.reserved = meta.reserved - lease.reserved
  for band = 1, 5 do
    meta.wants[band] = meta.wants[band] - lease.wants[band]
    if lease.wants[band] > 0 then meta.wanting[band] = meta.wanting[band] - 1 end
  end
  meta.instances = meta.instances - 1
  meta.starving = meta.starving - lease.starving
end

local function addLease(meta, lease)
  meta.reserved = meta.reserved + lease.reserved
  for band = 1, 5 do
    meta.wants[band] = meta.wants[band] + lease.wants[band]
    if lease.wants[band] > 0 then meta.wanting[band] = meta.wanting[band] + 1 end
  end
  meta.instances = meta.instances + 1
  meta.starving = meta.starving + lease.starving
end
`;

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
      clientId: f[10] ?? 0,
      renewedAt: f[11] ?? 0,
      grantSince: f[12] ?? 0,
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
            suspectsAt: Number(meta.suspectsAt ?? 0),
            suspectCursor: Number(meta.suspectCursor ?? 0),
          },
    leases: decoded,
  };
}
