-- coupon_reserve: take a drop's count from a template's total, all or nothing, at most once
-- per drop; or give coupons back (never below zero reserved).
-- KEYS[1] template: the template's hash (rec JSON, total, reserved; res:<drop> marks of the
--         drops that reserved, back:<drop> marks of the drops that gave back)
-- ARGV[1] op: reserve | unreserve (the drop was never created: its reservation goes back,
--         and its mark, so a later create reserves again) | give_back (what an ended drop
--         did not give out)
-- ARGV[2] count: coupons to reserve or give back
-- ARGV[3] drop: optional, "<room>/<drop>": reserve, unreserve and give back at most once
--         for it
-- Returns: {1, left} done, {2, left} reserved for this drop already (nothing taken),
-- {0, left} not enough left (or nothing to give back for the drop), {-1, 0} no such template.

local op, count, drop = ARGV[1], tonumber(ARGV[2]), ARGV[3] or ''
local total = redis.call('HGET', KEYS[1], 'total')
if not total then return {-1, 0} end
total = tonumber(total)
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
if op == 'reserve' then
  if drop ~= '' and redis.call('HEXISTS', KEYS[1], 'res:' .. drop) == 1 then
    return {2, total - reserved}
  end
  if reserved + count > total then return {0, total - reserved} end
  redis.call('HSET', KEYS[1], 'reserved', reserved + count)
  if drop ~= '' then redis.call('HSET', KEYS[1], 'res:' .. drop, count) end
  return {1, total - reserved - count}
end
if op == 'unreserve' then
  if drop ~= '' and redis.call('HDEL', KEYS[1], 'res:' .. drop) == 0 then
    return {0, total - reserved}
  end
elseif drop ~= '' and redis.call('HSETNX', KEYS[1], 'back:' .. drop, 1) == 0 then
  return {0, total - reserved}
end
reserved = math.max(reserved - count, 0)
redis.call('HSET', KEYS[1], 'reserved', reserved)
return {1, total - reserved}
