-- job_cancel: a job that has not finished will not run (a running one's outcome is ignored).
-- KEYS[1] job: hash of the job
-- ARGV[1] now: unix ms
-- ARGV[2] keep_s: how long a finished job is kept
-- Returns: {'cancelled', the version it had} | {'finished', state} | {'gone'}

local f = redis.call('HMGET', KEYS[1], 'state', 'version')
if not f[1] then
  return {'gone'}
end
if f[1] ~= 'pending' and f[1] ~= 'running' then
  return {'finished', f[1]}
end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'token', '', 'lease_until', 0,
  'version', tonumber(f[2]) + 1, 'updated_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {'cancelled', f[2]}
