-- wecom_pace: take one send from a group robot's window (WeCom: 20 messages a minute).
-- KEYS[1] window: sorted set of this robot's recent sends (member -> unix ms)
-- ARGV[1] now: unix ms
-- ARGV[2] window_ms: the window's length
-- ARGV[3] limit: sends allowed per window
-- ARGV[4] member: a unique name for this send
-- Returns: 0 when the send may go now, else ms to wait until a slot frees

local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
