-- room_post_comment: accept or refuse a comment, in the order of MemoryEngine.post_comment:
-- duplicate client id (answers with the original event), ban, mute, slow mode, rate; then
-- publish it as room_publish does.
-- include: lib_room
-- KEYS[1] room: hash of room fields (slow_mode)
-- KEYS[2] seq: the room's seq counter
-- KEYS[3] history: the room's event stream
-- KEYS[4] moderation: hash uid -> -1 (banned) or muted-until seconds
-- KEYS[5] buckets: hash uid -> comment token bucket
-- KEYS[6] last_comment: hash uid -> seconds of the last accepted comment
-- KEYS[7] dedup: the kept answer for (uid, client id)
-- KEYS[8] replay: the show's replay stream
-- ARGV[1] channel: the room's pub/sub channel (a channel, not a key; it has the room's tag)
-- ARGV[2] maxlen: the history's cap
-- ARGV[3] payload: the event, msgpack without seq
-- ARGV[4] type: the event type
-- ARGV[5] id: the event id, or ''
-- ARGV[6] floor: the highest seq the calling process has seen in the room
-- ARGV[7] uid: the author
-- ARGV[8] has_client_id: '1' when the client gave an id to deduplicate by, else ''
-- ARGV[9] host: '1' for a host (no slow mode, no rate limit), else ''
-- ARGV[10] rate: bucket refill per second
-- ARGV[11] burst: bucket size
-- ARGV[12] dedup_ttl_ms: how long the answer for a client id is kept
-- ARGV[13] replay_wanted: '1' when the event type belongs in a show's replay
-- ARGV[14] replay_cap: the replay stream's cap (approximate)
-- ARGV[15] replay_ttl_s: how long the replay stream outlives its last event
-- Returns: {'dup', '<seq>:<payload>'} | {'banned'} | {'muted', secs} | {'slow_mode', secs}
--   | {'rate_limited'} | {'ok', seq}

local uid = ARGV[7]
local has_client_id = ARGV[8] == '1'
local host = ARGV[9] == '1'
local rate, burst = tonumber(ARGV[10]), tonumber(ARGV[11])
local now = now_s()

if has_client_id then
  local seen = redis.call('GET', KEYS[7])
  if seen then
    return {'dup', seen}
  end
end

local mod = tonumber(redis.call('HGET', KEYS[4], uid) or '0')
if mod == -1 then
  return {'banned'}
end
if mod > now then
  return {'muted', fmt(mod - now)}
end

local slow = tonumber(redis.call('HGET', KEYS[1], 'slow_mode') or '0')
local last = redis.call('HGET', KEYS[6], uid)
local wait = slow_mode_wait(last and tonumber(last), now, slow)
if wait > 0 and not host then
  return {'slow_mode', fmt(wait)}
end

local allowed, bucket = take(redis.call('HGET', KEYS[5], uid), now, rate, burst)
redis.call('HSET', KEYS[5], uid, bucket)
if not allowed and not host then
  return {'rate_limited'}
end

redis.call('HSET', KEYS[6], uid, fmt(now))
local seq = append_event(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
keep_for_replay(KEYS[1], KEYS[8], seq, ARGV[3], ARGV[13], ARGV[14], ARGV[15])
if has_client_id then
  redis.call('SET', KEYS[7], seq .. ':' .. ARGV[3], 'PX', ARGV[12])
end
return {'ok', seq}
