-- analytics_profile: add one flush's change to a viewer's profile: counters, and the
-- first and last time seen (with the room of the last), kept in order whichever process
-- writes first. One key: profiles are global and live in the slot of their own name.
-- KEYS[1] profile: hash of the viewer's profile
-- ARGV[1] seen_ms: when the viewer was seen in this change (0: not seen)
-- ARGV[2] room_id: where
-- ARGV[3...] counters: name, increment pairs
-- Returns: 1.

for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
local seen = tonumber(ARGV[1])
if seen > 0 then
  local got = redis.call('HMGET', KEYS[1], 'first_seen', 'last_seen')
  local first, last = tonumber(got[1] or '0'), tonumber(got[2] or '0')
  if first == 0 or seen < first then redis.call('HSET', KEYS[1], 'first_seen', ARGV[1]) end
  if seen >= last then
    redis.call('HSET', KEYS[1], 'last_seen', ARGV[1], 'last_room', ARGV[2])
  end
end
return 1
