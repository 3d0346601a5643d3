-- coupon_reserve: reserve a drop's count of a template's total, all or nothing (a negative
-- count gives a reservation back, never below zero).
-- KEYS[1] template: the template's hash (rec JSON, total, reserved)
-- ARGV[1] count: coupons to reserve
-- Returns: {1, left} reserved, {0, left} not enough left, {-1, 0} no such template.

local count = tonumber(ARGV[1])
local total = redis.call('HGET', KEYS[1], 'total')
if not total then return {-1, 0} end
total = tonumber(total)
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
if count < 0 then
  reserved = math.max(reserved + count, 0)
  redis.call('HSET', KEYS[1], 'reserved', reserved)
  return {1, total - reserved}
end
if reserved + count > total then return {0, total - reserved} end
redis.call('HSET', KEYS[1], 'reserved', reserved + count)
return {1, total - reserved - count}
