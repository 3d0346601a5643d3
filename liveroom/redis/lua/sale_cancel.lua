-- sale_cancel: cancel an unpaid hold: its stock returns once.
-- include: lib_sale
-- KEYS[1] sale_base: the room's sale key base (every sale key derives from it, see lib_sale)
-- KEYS[2] stream: the room's commerce event stream
-- ARGV[1] stream_cap: the stream's approximate cap
-- ARGV[2] hold_id: the hold to cancel
-- ARGV[3] now_ms: the time of the call
-- Returns: {outcome, hold JSON or ""} like sale_confirm.

local R = sale_room(KEYS[1], KEYS[2], ARGV[1])
local hold_id, now = ARGV[2], tonumber(ARGV[3])
local h = hgetall(hold_key(R, hold_id))
if not h or h.kind == 'coupon' then return {'no_such_hold', ''} end  -- never a coupon
if h.status == 'cancelled' then return {'duplicate', cjson.encode(h)} end
if h.status == 'paid' then return {'already_paid', cjson.encode(h)} end
if h.status == 'expired' or is_due(h, now) then
  if is_due(h, now) then end_hold(R, h, 'expired', now) end
  return {'hold_expired', cjson.encode(h)}
end
end_hold(R, h, 'cancelled', now)
return {'ok', cjson.encode(h)}
