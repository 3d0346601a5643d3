-- sale_create: store a new sale with all its stock available; record sale_created (and
-- sale_started when it starts at once), or drop_created for a coupon drop.
-- include: lib_sale
-- KEYS[1] sale_base: the room's sale key base (every sale key derives from it, see lib_sale)
-- KEYS[2] stream: the room's commerce event stream
-- ARGV[1] stream_cap: the stream's approximate cap
-- ARGV[2] sale_id: the new sale
-- ARGV[3] now_ms: the time of the call
-- ARGV[4...] terms: field/value pairs of the sale's terms (SaleConfig)
-- Returns: 1, or 0 when the sale id exists already.

local R = sale_room(KEYS[1], KEYS[2], ARGV[1])
local sale_id, now = ARGV[2], tonumber(ARGV[3])
local skey = sale_key(R, sale_id)
if redis.call('EXISTS', skey) == 1 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', skey, unpack(fields))
local s = hgetall(skey)
redis.call('HSET', skey, 'available', s.stock, 'held', 0, 'sold', 0, 'started', 0, 'ended_at', 0)
redis.call('ZADD', R.sales, now, sale_id)
emit_sale(R, s, 'created', now)
if now >= tonumber(s.starts_at) then
  redis.call('HSET', skey, 'started', 1)
  emit_sale(R, s, 'started', now)
  if tonumber(s.ends_at) > 0 then redis.call('ZADD', R.timers, s.ends_at, sale_id) end
else
  redis.call('ZADD', R.timers, s.starts_at, sale_id)
end
return 1
