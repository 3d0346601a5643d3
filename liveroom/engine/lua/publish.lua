-- Publish one event with its room changes and moderation in one atomic step.
-- KEYS: room, seq, history, moderation
-- ARGV: the six event args (see append_event), mod_uid, mod_until ('' none, '0' clear,
--       '-1' ban, else muted-until seconds), then (field, op 's'|'d', value) triples.

local mod_uid, mod_until = ARGV[EVENT_ARGS + 1], ARGV[EVENT_ARGS + 2]

local i = EVENT_ARGS + 3
while i + 2 <= #ARGV do
  if ARGV[i + 1] == 'd' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  end
  i = i + 3
end

if mod_until ~= '' then
  if tonumber(mod_until) == 0 then
    redis.call('HDEL', KEYS[4], mod_uid)
  else
    redis.call('HSET', KEYS[4], mod_uid, mod_until)
  end
end

return append_event(KEYS[2], KEYS[3])
