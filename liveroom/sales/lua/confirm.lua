-- Payment confirmation for a hold, idempotent by order id.
-- ARGV: hold_id, order_id, now_ms. Returns {outcome, hold JSON or ""} where outcome is
-- "ok", "duplicate" or an error code; a due hold found here is expired on the spot.
local hold_id, order_id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local h = hgetall(B .. ':h:' .. hold_id)
if not h then return {'no_such_hold', ''} end
local other = redis.call('HGET', B .. ':orders', order_id)
if other and other ~= hold_id then return {'order_conflict', cjson.encode(h)} end
if h.status == 'paid' then
  if h.order_id == order_id then return {'duplicate', cjson.encode(h)} end
  return {'already_paid', cjson.encode(h)}
end
if h.status == 'cancelled' then return {'hold_cancelled', cjson.encode(h)} end
if h.status == 'expired' or is_due(h, now) then
  if is_due(h, now) then end_hold(h, 'expired', now) end
  return {'hold_expired', cjson.encode(h)}
end
redis.call('HSET', B .. ':orders', order_id, hold_id)
end_hold(h, 'paid', now, order_id)
return {'ok', cjson.encode(h)}
