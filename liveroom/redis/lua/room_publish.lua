-- room_publish: publish one event with its room changes and moderation in one atomic step.
-- include: lib_room
-- KEYS[1] room: hash of room fields
-- KEYS[2] seq: the room's seq counter
-- KEYS[3] history: the room's event stream
-- KEYS[4] moderation: hash uid -> -1 (banned) or muted-until seconds
-- KEYS[5] replay: the show's replay stream
-- ARGV[1] channel: the room's pub/sub channel (a channel, not a key; it has the room's tag)
-- ARGV[2] maxlen: the history's cap
-- ARGV[3] payload: the event, msgpack without seq
-- ARGV[4] type: the event type
-- ARGV[5] id: the event id, or ''
-- ARGV[6] floor: the highest seq the calling process has seen in the room
-- ARGV[7] mod_uid: the user whose moderation changes, or ''
-- ARGV[8] mod_until: '' none, '0' clear, '-1' ban, else muted-until seconds
-- ARGV[9] replay_wanted: '1' when the event type belongs in a show's replay
-- ARGV[10] replay_cap: the replay stream's cap (approximate)
-- ARGV[11] replay_ttl_s: how long the replay stream outlives its last event
-- ARGV[12...] changes: (field, op 's' set | 'd' delete, value) triples of room fields
-- Returns: the event's seq.

local mod_uid, mod_until = ARGV[7], ARGV[8]

for i = 12, #ARGV - 2, 3 do
  if ARGV[i + 1] == 'd' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  end
end

if mod_until ~= '' then
  if tonumber(mod_until) == 0 then
    redis.call('HDEL', KEYS[4], mod_uid)
  else
    redis.call('HSET', KEYS[4], mod_uid, mod_until)
  end
end

local seq = append_event(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
keep_for_replay(KEYS[1], KEYS[5], seq, ARGV[3], ARGV[9], ARGV[10], ARGV[11])
return seq
