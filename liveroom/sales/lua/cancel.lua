-- Cancel an unpaid hold: its stock returns once.
-- ARGV: hold_id, now_ms. Returns {outcome, hold JSON or ""} like confirm.lua.
local hold_id, now = ARGV[1], tonumber(ARGV[2])
local h = hgetall(B .. ':h:' .. hold_id)
if not h then return {'no_such_hold', ''} end
if h.status == 'cancelled' then return {'duplicate', cjson.encode(h)} end
if h.status == 'paid' then return {'already_paid', cjson.encode(h)} end
if h.status == 'expired' or is_due(h, now) then
  if is_due(h, now) then end_hold(h, 'expired', now) end
  return {'hold_expired', cjson.encode(h)}
end
end_hold(h, 'cancelled', now)
return {'ok', cjson.encode(h)}
