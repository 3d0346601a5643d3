-- sale_confirm: a payment confirmation for a hold, idempotent by order id; a due hold found
-- here is expired on the spot. For a coupon, its redemption by an order (rules.coupon
-- redeem_decision): idempotent by order id, at most once, within its validity.
-- include: lib_sale
-- KEYS[1] sale_base: the room's sale key base (every sale key derives from it, see lib_sale)
-- KEYS[2] stream: the room's commerce event stream
-- ARGV[1] stream_cap: the stream's approximate cap
-- ARGV[2] hold_id: the hold paid for
-- ARGV[3] order_id: the merchant's order
-- ARGV[4] now_ms: the time of the call
-- Returns: {outcome, hold JSON or ""}, outcome "ok", "duplicate" or an error code.

local R = sale_room(KEYS[1], KEYS[2], ARGV[1])
local hold_id, order_id, now = ARGV[2], ARGV[3], tonumber(ARGV[4])

local function redeem(c)
  if c.status == 'redeemed' then
    if c.order_id == order_id then return {'duplicate', cjson.encode(c)} end
    return {'coupon_redeemed', cjson.encode(c)}
  end
  if c.status == 'expired' or now >= tonumber(c.expires_at) then
    if is_due(c, now) then end_hold(R, c, 'expired', now) end
    return {'coupon_expired', cjson.encode(c)}
  end
  if now < tonumber(c.valid_from) then return {'coupon_not_valid_yet', cjson.encode(c)} end
  end_hold(R, c, 'redeemed', now, order_id)
  return {'ok', cjson.encode(c)}
end

local h = hgetall(hold_key(R, hold_id))
if not h then return {'no_such_hold', ''} end
if h.kind == 'coupon' then return redeem(h) end
local other = redis.call('HGET', R.orders, order_id)
if other and other ~= hold_id then return {'order_conflict', cjson.encode(h)} end
if h.status == 'paid' then
  if h.order_id == order_id then return {'duplicate', cjson.encode(h)} end
  return {'already_paid', cjson.encode(h)}
end
if h.status == 'cancelled' then return {'hold_cancelled', cjson.encode(h)} end
if h.status == 'expired' or is_due(h, now) then
  if is_due(h, now) then end_hold(R, h, 'expired', now) end
  return {'hold_expired', cjson.encode(h)}
end
redis.call('HSET', R.orders, order_id, hold_id)
end_hold(R, h, 'paid', now, order_id)
return {'ok', cjson.encode(h)}
