-- room_post_comments: accept or refuse a batch of comments, each decided whole and in
-- order exactly as one comment alone would be (the order of MemoryEngine.post_comment:
-- duplicate client id, which answers with the original event; ban, mute, slow mode,
-- rate), so one refused comment never fails its neighbours; the accepted ones get
-- consecutive seqs, are kept in history and go out as one message on the room channel.
-- include: lib_room
-- KEYS[1] room: hash of room fields (slow_mode)
-- KEYS[2] seq: the room's seq counter
-- KEYS[3] history: the room's event stream
-- KEYS[4] moderation: hash uid -> -1 (banned) or muted-until seconds
-- KEYS[5] buckets: hash uid -> comment token bucket
-- KEYS[6] last_comment: hash uid -> seconds of the last accepted comment
-- KEYS[7] dedup_base: every kept answer's key is this base and the comment's dedup suffix
-- KEYS[8] replay: the show's replay stream
-- ARGV[1] channel: the room's pub/sub channel (a channel, not a key; it has the room's tag)
-- ARGV[2] maxlen: the history's cap
-- ARGV[3] floor: the highest seq the calling process has seen in the room
-- ARGV[4] rate: bucket refill per second
-- ARGV[5] burst: bucket size
-- ARGV[6] dedup_ttl_ms: how long the answer for a client id is kept
-- ARGV[7] replay_cap: the replay stream's cap (approximate)
-- ARGV[8] replay_ttl_s: how long the replay stream outlives its last event
-- ARGV[9...] comments: 7 per comment: uid, dedup suffix ('' when the client gave no id to
--   deduplicate by), host ('1' for a host: no slow mode, no rate limit), payload (the event,
--   msgpack without seq), type, event id, replay_wanted ('1' when the type belongs in a
--   show's replay)
-- Returns: two per comment: 'ok', seq | 'dup', '<seq>:<payload>' | 'banned', '' |
--   'muted', secs | 'slow_mode', secs | 'rate_limited', ''. The accepted comments are
--   published as "b" followed by each one's packed (seq, payload) (pack_event), or as
--   "e<seq>:<payload>" when there is one.

local rate, burst = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_s()
local slow = tonumber(redis.call('HGET', KEYS[1], 'slow_mode') or '0')
local out, parts, single = {}, {}, nil

local function post(uid, dedup_suffix, host, payload, etype, id, replay_wanted)
  local dkey = dedup_suffix ~= '' and (KEYS[7] .. dedup_suffix) or nil
  if dkey then
    local seen = redis.call('GET', dkey)
    if seen then
      return 'dup', seen
    end
  end
  local mod = tonumber(redis.call('HGET', KEYS[4], uid) or '0')
  if mod == -1 then
    return 'banned', ''
  end
  if mod > now then
    return 'muted', fmt(mod - now)
  end
  local last = redis.call('HGET', KEYS[6], uid)
  local wait = slow_mode_wait(last and tonumber(last), now, slow)
  if wait > 0 and not host then
    return 'slow_mode', fmt(wait)
  end
  local allowed, bucket = take(redis.call('HGET', KEYS[5], uid), now, rate, burst)
  redis.call('HSET', KEYS[5], uid, bucket)
  if not allowed and not host then
    return 'rate_limited', ''
  end
  redis.call('HSET', KEYS[6], uid, fmt(now))
  local seq = keep_event(KEYS[2], KEYS[3], ARGV[2], payload, etype, id, ARGV[3])
  keep_for_replay(KEYS[1], KEYS[8], seq, payload, replay_wanted, ARGV[7], ARGV[8])
  if dkey then
    redis.call('SET', dkey, seq .. ':' .. payload, 'PX', ARGV[6])
  end
  pack_event(parts, seq, payload)
  single = 'e' .. seq .. ':' .. payload
  return 'ok', seq
end

for i = 9, #ARGV, 7 do
  local outcome, value = post(ARGV[i], ARGV[i + 1], ARGV[i + 2] == '1', ARGV[i + 3],
    ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
  out[#out + 1] = outcome
  out[#out + 1] = value
end
if #parts == 1 then
  redis.call(PUBLISH, ARGV[1], single)
elseif #parts > 1 then
  redis.call(PUBLISH, ARGV[1], 'b' .. table.concat(parts))
end
return out
