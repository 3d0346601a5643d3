-- sale_sweep: expire due holds and coupons, and run due sale transitions (started, ended)
-- for one room.
-- Any process may run it at any time: each hold and each transition happens once.
-- include: lib_sale
-- KEYS[1] sale_base: the room's sale key base (every sale key derives from it, see lib_sale)
-- KEYS[2] stream: the room's commerce event stream
-- ARGV[1] stream_cap: the stream's approximate cap
-- ARGV[2] now_ms: the time of the sweep
-- ARGV[3] limit: how many holds to expire at most
-- ARGV[4] check_idle: '1' (a full sweep) to list the ends whose listeners are still to be
--   told and say whether the room has nothing left for a sweep (rules.sale.room_idle:
--   every sale ended, no hold or coupon open, every end told)
-- Returns: JSON {expired = [hold...], started = [sale id], ended = [sale id],
--   untold = [sale id], idle = bool}.

local R = sale_room(KEYS[1], KEYS[2], ARGV[1])
local now, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local expired, started, ended = {}, {}, {}
for _, hold_id in ipairs(redis.call('ZRANGEBYSCORE', R.due, '-inf', now, 'LIMIT', 0, limit)) do
  local h = hgetall(hold_key(R, hold_id))
  if h and is_due(h, now) then
    expired[#expired + 1] = end_hold(R, h, 'expired', now)
  else
    redis.call('ZREM', R.due, hold_id)
  end
end
for _, sale_id in ipairs(redis.call('ZRANGEBYSCORE', R.timers, '-inf', now)) do
  local skey = sale_key(R, sale_id)
  local s = hgetall(skey)
  if s then
    if s.started ~= '1' and now >= tonumber(s.starts_at) then
      s.started = '1'
      redis.call('HSET', skey, 'started', '1')
      emit_sale(R, s, 'started', now)
      started[#started + 1] = sale_id
    end
    local ends_at = tonumber(s.ends_at)
    if s.ended_at == '0' and ends_at > 0 and now >= ends_at then
      s.ended_at = s.ends_at
      redis.call('HSET', skey, 'ended_at', s.ends_at)
      sale_ended(R, s, now)
      ended[#ended + 1] = sale_id
    end
    local next_at = 0
    if s.started ~= '1' then next_at = tonumber(s.starts_at)
    elseif s.ended_at == '0' and ends_at > 0 then next_at = ends_at end
    if next_at > 0 then redis.call('ZADD', R.timers, next_at, sale_id)
    else redis.call('ZREM', R.timers, sale_id) end
  else
    redis.call('ZREM', R.timers, sale_id)
  end
end
local untold, idle = {}, false
if ARGV[4] == '1' then untold = redis.call('SMEMBERS', R.untold) end
if ARGV[4] == '1' and #expired < limit and redis.call('ZCARD', R.due) == 0
    and #untold == 0 then
  idle = true
  for _, sale_id in ipairs(redis.call('ZRANGE', R.sales, 0, -1)) do
    if redis.call('HGET', sale_key(R, sale_id), 'ended_at') == '0' then
      idle = false
      break
    end
  end
end
return cjson.encode({
  expired = expired, started = started, ended = ended, untold = untold, idle = idle,
})
