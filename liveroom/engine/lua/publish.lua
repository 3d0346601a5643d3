-- Publish one event with its room changes and moderation in one atomic step.
-- KEYS: room, seq, history, moderation
-- ARGV: channel, maxlen, payload, type, id, mod_uid, mod_until ('' none, '0' clear,
--       '-1' ban, else muted-until seconds), then (field, op 's'|'d', value) triples.

local i = 8
while i + 2 <= #ARGV do
  if ARGV[i + 1] == 'd' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  end
  i = i + 3
end

if ARGV[7] ~= '' then
  if tonumber(ARGV[7]) == 0 then
    redis.call('HDEL', KEYS[4], ARGV[6])
  else
    redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
  end
end

return append_event(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
