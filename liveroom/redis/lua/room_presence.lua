-- room_presence: record this process's viewer count until now + ttl and return the sum over
-- processes whose reports are still live; expired reports (a crashed process) are removed.
-- include: lib_room
-- KEYS[1] presence: hash node_id -> "count expiry_ms"
-- ARGV[1] node_id: the reporting process
-- ARGV[2] count: its viewers in the room (0 removes its report)
-- ARGV[3] ttl_ms: how long the report counts
-- Returns: the room's viewers over every live process.

local now = now_ms()
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (now + ttl))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local sum = presence_sum(KEYS[1], now, true)
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return sum
