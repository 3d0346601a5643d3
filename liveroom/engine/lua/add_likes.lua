-- Count taps exactly and tell every process the new total as "l<total>".
-- KEYS: likes    ARGV: channel, n
local total = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[1], 'l' .. total)
return total
