-- job_claim: take a due job's lease, as liveroom/rules/jobs.py claim_decision decides.
-- KEYS[1] job: hash of the job
-- ARGV[1] now: unix ms
-- ARGV[2] lease_ms: how long the claimer may hold it before another may take it
-- ARGV[3] token: the claimer's lease token
-- ARGV[4] version: the version the due index named
-- ARGV[5] keep_s: how long a finished job is kept
-- Returns: {'claimed', flat HGETALL} | {'later', next_ms} | {'finished'} | {'gone'}
--   | {'given_up'} | {'stale', version, state, next_ms}

local f = redis.call('HMGET', KEYS[1], 'state', 'due_at', 'lease_until', 'attempts',
  'max_attempts', 'version')
local state = f[1]
if not state then
  return {'gone'}
end
local now = tonumber(ARGV[1])
local due_at, lease_until = tonumber(f[2]), tonumber(f[3])
local attempts, max_attempts = tonumber(f[4]), tonumber(f[5])
if tonumber(f[6]) ~= tonumber(ARGV[4]) then
  local next_ms = -1
  if state == 'pending' then next_ms = due_at elseif state == 'running' then next_ms = lease_until end
  return {'stale', f[6], state, next_ms}
end
if state == 'pending' then
  if due_at > now then
    return {'later', due_at}
  end
elseif state == 'running' then
  if lease_until > now then
    return {'later', lease_until}
  end
  if attempts >= max_attempts then
    redis.call('HSET', KEYS[1], 'state', 'failed', 'token', '', 'updated_at', now,
      'error', 'its process stopped during the last attempt')
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    return {'given_up'}
  end
else
  return {'finished'}
end
redis.call('HSET', KEYS[1], 'state', 'running', 'attempts', attempts + 1,
  'lease_until', now + tonumber(ARGV[2]), 'token', ARGV[3], 'updated_at', now)
return {'claimed', redis.call('HGETALL', KEYS[1])}
