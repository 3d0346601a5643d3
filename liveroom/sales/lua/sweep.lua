-- Expire due holds and run due sale transitions (started, ended) for one room. Any
-- process may run it at any time: each hold and each transition happens once.
-- ARGV: now_ms, max holds. Returns JSON {expired = [hold...], started = [id], ended = [id]}.
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local expired, started, ended = {}, {}, {}
for _, hold_id in ipairs(redis.call('ZRANGEBYSCORE', B .. ':due', '-inf', now, 'LIMIT', 0, limit)) do
  local h = hgetall(B .. ':h:' .. hold_id)
  if h and is_due(h, now) then
    expired[#expired + 1] = end_hold(h, 'expired', now)
  else
    redis.call('ZREM', B .. ':due', hold_id)
  end
end
for _, sale_id in ipairs(redis.call('ZRANGEBYSCORE', B .. ':timers', '-inf', now)) do
  local skey = B .. ':s:' .. sale_id
  local s = hgetall(skey)
  if s then
    if s.started ~= '1' and now >= tonumber(s.starts_at) then
      s.started = '1'
      redis.call('HSET', skey, 'started', '1')
      emit_sale(s, 'sale_started', now)
      started[#started + 1] = sale_id
    end
    local ends_at = tonumber(s.ends_at)
    if s.ended_at == '0' and ends_at > 0 and now >= ends_at then
      s.ended_at = s.ends_at
      redis.call('HSET', skey, 'ended_at', s.ends_at)
      emit_sale(s, 'sale_ended', now)
      ended[#ended + 1] = sale_id
    end
    local next_at = 0
    if s.started ~= '1' then next_at = tonumber(s.starts_at)
    elseif s.ended_at == '0' and ends_at > 0 then next_at = ends_at end
    if next_at > 0 then redis.call('ZADD', B .. ':timers', next_at, sale_id)
    else redis.call('ZREM', B .. ':timers', sale_id) end
  else
    redis.call('ZREM', B .. ':timers', sale_id)
  end
end
return cjson.encode({expired = expired, started = started, ended = ended})
