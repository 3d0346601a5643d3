-- show_transition: move a show to a status if its current one allows it (compare-and-set).
-- KEYS[1] show: hash of the show (rec, status, started_at, ended_at, created_at)
-- ARGV[1] target: the new status
-- ARGV[2] now: unix ms
-- ARGV[3] rec: the merchant's settings to store with it, or '' to keep them
-- ARGV[4] rec_default: the settings of a show created by this call when ARGV[3] is ''
-- ARGV[5...] sources: the statuses it may come from ('-' for a room with no show yet)
-- Returns: {'ok', previous status or '-'} | {'refused', current status or '-'}

local current = redis.call('HGET', KEYS[1], 'status') or '-'
local allowed = false
for i = 5, #ARGV do
  if ARGV[i] == current then
    allowed = true
  end
end
if not allowed then
  return {'refused', current}
end
local target, now = ARGV[1], ARGV[2]
redis.call('HSET', KEYS[1], 'status', target)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'rec', ARGV[3])
else
  redis.call('HSETNX', KEYS[1], 'rec', ARGV[4])
end
redis.call('HSETNX', KEYS[1], 'created_at', now)
if target == 'live' then
  redis.call('HSET', KEYS[1], 'started_at', now)
elseif target == 'ended' or target == 'cancelled' then
  redis.call('HSET', KEYS[1], 'ended_at', now)
end
return {'ok', current}
