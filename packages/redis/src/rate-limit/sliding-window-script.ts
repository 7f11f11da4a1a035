/**
 * An exact sliding-window log: one sorted set per key, one member per allowed hit, scored by its time.
 * A hit at time t counts while t > now - windowMs. Denied hits are not recorded, so hammering past the
 * limit does not extend a lockout. Decide-and-count is one atomic script.
 *
 * KEYS[1] the window (sorted set), KEYS[2] a sequence that makes members unique when two hits share a
 * millisecond. ARGV: limit, windowMs, now ('' = Redis's own TIME), ttlMs for the keys.
 * Reply: { allowed (0/1), count, resetAt, retryAfterMs }.
 */
export const slidingWindowLua = `
local windowKey, sequenceKey = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttlMs = tonumber(ARGV[4])

redis.call('ZREMRANGEBYSCORE', windowKey, '-inf', now - windowMs)
local count = redis.call('ZCARD', windowKey)
if count < limit then
  local n = redis.call('INCR', sequenceKey)
  redis.call('ZADD', windowKey, now, string.format('%d:%d', now, n))
  redis.call('PEXPIRE', windowKey, ttlMs)
  redis.call('PEXPIRE', sequenceKey, ttlMs)
  local newest = redis.call('ZRANGE', windowKey, -1, -1, 'WITHSCORES')
  return { 1, count + 1, string.format('%d', tonumber(newest[2]) + windowMs), 0 }
end
local oldestToLeave = redis.call('ZRANGE', windowKey, count - limit, count - limit, 'WITHSCORES')
local newest = redis.call('ZRANGE', windowKey, -1, -1, 'WITHSCORES')
local retryAfterMs = math.max(1, tonumber(oldestToLeave[2]) + windowMs - now)
return { 0, count, string.format('%d', tonumber(newest[2]) + windowMs), string.format('%d', retryAfterMs) }
`;
