-- coupon_reserve: reserve a drop's count of a template's total, all or nothing (a negative
-- count gives a reservation back, never below zero).
-- KEYS[1] template: the template's hash (rec JSON, total, reserved, back:<once> marks)
-- ARGV[1] count: coupons to reserve
-- ARGV[2] once: with a negative count, optional: the drop whose coupons not given out go
--         back; given back at most once for it
-- Returns: {1, left} reserved (or given back), {0, left} not enough left (or given back
-- before), {-1, 0} no such template.

local count = tonumber(ARGV[1])
local total = redis.call('HGET', KEYS[1], 'total')
if not total then return {-1, 0} end
total = tonumber(total)
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
if count < 0 then
  local once = ARGV[2] or ''
  if once ~= '' and redis.call('HSETNX', KEYS[1], 'back:' .. once, 1) == 0 then
    return {0, total - reserved}
  end
  reserved = math.max(reserved + count, 0)
  redis.call('HSET', KEYS[1], 'reserved', reserved)
  return {1, total - reserved}
end
if reserved + count > total then return {0, total - reserved} end
redis.call('HSET', KEYS[1], 'reserved', reserved + count)
return {1, total - reserved - count}
