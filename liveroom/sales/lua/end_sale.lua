-- End a sale by hand: no new grabs; holds may still be paid. Emits sale_ended once.
-- ARGV: sale_id, now_ms. Returns -1 (no such sale), 0 (already ended) or 1.
local sale_id, now = ARGV[1], tonumber(ARGV[2])
local skey = B .. ':s:' .. sale_id
local s = hgetall(skey)
if not s then return -1 end
if is_ended(s, now) then return 0 end
redis.call('HSET', skey, 'ended_at', now)
redis.call('ZREM', B .. ':timers', sale_id)
emit_sale(s, 'sale_ended', now)
return 1
