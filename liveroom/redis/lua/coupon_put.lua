-- coupon_put: create or replace a coupon template, unless its new total is below what
-- drops reserved of it already.
-- KEYS[1] template: the template's hash (rec JSON, total, reserved)
-- ARGV[1] rec: the template as JSON
-- ARGV[2] total: the coupons it may ever issue
-- Returns: what drops reserved so far, or -1 (nothing changed) when total is below it.

local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
if tonumber(ARGV[2]) < reserved then return -1 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'total', ARGV[2], 'reserved', reserved)
return reserved
