-- job_settle: the lease holder's outcome: done, retry later, or failed for good.
-- KEYS[1] job: hash of the job
-- ARGV[1] token: the holder's lease token (a holder whose lease was taken over is ignored)
-- ARGV[2] now: unix ms
-- ARGV[3] outcome: 'done' | 'retry' | 'failed'
-- ARGV[4] retry_at: retry: when it is due again, unix ms
-- ARGV[5] error: what went wrong ('' when done)
-- ARGV[6] counted: '1' the attempt counts; '0' it was put off (paced), not tried
-- ARGV[7] keep_s: how long a finished job is kept
-- Returns: 1 when settled, 0 when the caller no longer holds the job

local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then
  return 0
end
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'due_at', ARGV[4], 'token', '',
    'lease_until', 0, 'error', ARGV[5], 'updated_at', ARGV[2])
  if ARGV[6] ~= '1' then
    redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  end
  return 1
end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'token', '', 'lease_until', 0, 'error', ARGV[5],
  'updated_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
