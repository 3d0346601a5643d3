-- Accept or refuse a comment, in the order of MemoryEngine.post_comment: duplicate client
-- id (answers with the original event), ban, mute, slow mode, rate; then publish.
-- KEYS: room, seq, history, moderation, buckets, last_comment, dedup
-- ARGV: channel, maxlen, payload, type, id, uid, has_client_id ('1'|''), host ('1'|''),
--       rate, burst, dedup_ttl_ms
-- Returns {'dup', '<seq>:<payload>'} | {'banned'} | {'muted', secs} | {'slow_mode', secs}
--       | {'rate_limited'} | {'ok', seq}

local uid = ARGV[6]
local has_client_id = ARGV[7] == '1'
local host = ARGV[8] == '1'
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

local allowed, bucket = take(redis.call('HGET', KEYS[5], uid), now, tonumber(ARGV[9]),
  tonumber(ARGV[10]))
redis.call('HSET', KEYS[5], uid, bucket)
if not allowed and not host then
  return {'rate_limited'}
end

redis.call('HSET', KEYS[6], uid, fmt(now))
local seq = append_event(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
if has_client_id then
  redis.call('SET', KEYS[7], seq .. ':' .. ARGV[3], 'PX', ARGV[11])
end
return {'ok', seq}
