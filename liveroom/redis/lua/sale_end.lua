-- sale_end: end a sale by hand: no new grabs; holds may still be paid. Records sale_ended
-- once.
-- include: lib_sale
-- KEYS[1] sale_base: the room's sale key base (every sale key derives from it, see lib_sale)
-- KEYS[2] stream: the room's commerce event stream
-- ARGV[1] stream_cap: the stream's approximate cap
-- ARGV[2] sale_id: the sale to end
-- ARGV[3] now_ms: the time of the call
-- Returns: -1 (no such sale), 0 (already ended) or 1.

local R = sale_room(KEYS[1], KEYS[2], ARGV[1])
local sale_id, now = ARGV[2], tonumber(ARGV[3])
local skey = sale_key(R, sale_id)
local s = hgetall(skey)
if not s then return -1 end
if is_ended(s, now) then return 0 end
redis.call('HSET', skey, 'ended_at', now)
redis.call('ZREM', R.timers, sale_id)
sale_ended(R, s, now)
return 1
