-- room_publish_paced: add an item to one of the room's paced announcements and, if its slot
-- is open (rules/social_proof.py take_slot, by Redis time), publish the newest item waiting
-- as a room event whose `others` counts the rest, in the same atomic step: across processes
-- at most one announcement per window, and no item counted twice or lost.
-- include: lib_room
-- KEYS[1] room: hash of room fields
-- KEYS[2] seq: the room's seq counter
-- KEYS[3] history: the room's event stream
-- KEYS[4] replay: the show's replay stream
-- KEYS[5] pace: hash last_at (ms), pending (items waiting), item (the newest, msgpack)
-- ARGV[1] channel: the room's pub/sub channel (a channel, not a key; it has the room's tag)
-- ARGV[2] maxlen: the history's cap
-- ARGV[3] item: the event, msgpack without seq and `others`; '' adds nothing
-- ARGV[4] type: the event type
-- ARGV[5] floor: the highest seq the calling process has seen in the room
-- ARGV[6] window_ms: at most one announcement per this many ms
-- ARGV[7] ttl_ms: how long the pace outlives its last call
-- ARGV[8] replay_wanted: '1' when the event type belongs in a show's replay
-- ARGV[9] replay_cap: the replay stream's cap (approximate)
-- ARGV[10] replay_ttl_s: how long the replay stream outlives its last event
-- Returns: {seq of the event published or 0, its payload or '', items waiting, when the
--   next slot opens (ms)}.

local window = tonumber(ARGV[6])
local now = now_ms()
local last_at = tonumber(redis.call('HGET', KEYS[5], 'last_at') or '0')
local pending = tonumber(redis.call('HGET', KEYS[5], 'pending') or '0')
local added = 0
if ARGV[3] ~= '' then
  added = 1
  redis.call('HSET', KEYS[5], 'item', ARGV[3])
end
local count
last_at, pending, count = pace_take(last_at, pending, added, now, window)
local seq, payload = 0, ''
if count > 0 then
  local item = redis.call('HGET', KEYS[5], 'item')
  if item then
    local event = cmsgpack.unpack(item)
    event.others = count - 1
    payload = cmsgpack.pack(event)
    seq = append_event(KEYS[2], KEYS[3], ARGV[1], ARGV[2], payload, ARGV[4], '', ARGV[5])
    keep_for_replay(KEYS[1], KEYS[4], seq, payload, ARGV[8], ARGV[9], ARGV[10])
    redis.call('HDEL', KEYS[5], 'item')
  end
end
redis.call('HSET', KEYS[5], 'last_at', last_at, 'pending', pending)
redis.call('PEXPIRE', KEYS[5], ARGV[7])
return {seq, payload, pending, last_at + window}
