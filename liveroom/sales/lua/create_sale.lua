-- Store a new sale with all stock available, and emit sale_created (+ sale_started when
-- it starts at once). ARGV: sale_id, now_ms, then field/value pairs of the terms.
-- Returns 0 when the sale id exists already.
local sale_id, now = ARGV[1], tonumber(ARGV[2])
local skey = B .. ':s:' .. sale_id
if redis.call('EXISTS', skey) == 1 then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', skey, unpack(fields))
local s = hgetall(skey)
redis.call('HSET', skey, 'available', s.stock, 'held', 0, 'sold', 0, 'started', 0, 'ended_at', 0)
redis.call('ZADD', B .. ':sales', now, sale_id)
emit_sale(s, 'sale_created', now)
if now >= tonumber(s.starts_at) then
  redis.call('HSET', skey, 'started', 1)
  emit_sale(s, 'sale_started', now)
  if tonumber(s.ends_at) > 0 then redis.call('ZADD', B .. ':timers', s.ends_at, sale_id) end
else
  redis.call('ZADD', B .. ':timers', s.starts_at, sale_id)
end
return 1
