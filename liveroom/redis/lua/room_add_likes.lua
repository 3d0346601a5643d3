-- room_add_likes: count taps exactly and tell every process the new total as "l<total>".
-- KEYS[1] likes: the room's like total
-- ARGV[1] channel: the room's pub/sub channel (a channel, not a key; it has the room's tag)
-- ARGV[2] n: taps to add
-- Returns: the new total.

local total = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call(PUBLISH, ARGV[1], 'l' .. total)
return total
