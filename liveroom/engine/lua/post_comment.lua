-- Accept or refuse a comment, in the order of MemoryEngine.post_comment: duplicate client
-- id (answers with the original event), ban, mute, slow mode, rate; then publish.
-- KEYS: room, seq, history, moderation, buckets, last_comment, dedup
-- ARGV: the six event args (see append_event), uid, has_client_id ('1'|''), host ('1'|''),
--       rate, burst, dedup_ttl_ms
-- Returns {'dup', '<seq>:<payload>'} | {'banned'} | {'muted', secs} | {'slow_mode', secs}
--       | {'rate_limited'} | {'ok', seq}

local uid = ARGV[EVENT_ARGS + 1]
local has_client_id = ARGV[EVENT_ARGS + 2] == '1'
local host = ARGV[EVENT_ARGS + 3] == '1'
local rate, burst = tonumber(ARGV[EVENT_ARGS + 4]), tonumber(ARGV[EVENT_ARGS + 5])
local dedup_ttl_ms = ARGV[EVENT_ARGS + 6]
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
local seq = append_event(KEYS[2], KEYS[3])
if has_client_id then
  redis.call('SET', KEYS[7], seq .. ':' .. ARGV[3], 'PX', dedup_ttl_ms)
end
return {'ok', seq}
