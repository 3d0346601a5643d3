-- job_schedule: create a due job unless one with its id exists (scheduling is idempotent).
-- KEYS[1] job: hash of the job
-- KEYS[2] jobs: sorted set of the room's job ids by creation time
-- ARGV[1] job_id: the job's id in its room
-- ARGV[2] kind: which handler runs it
-- ARGV[3] payload: JSON the handler gets
-- ARGV[4] due_at: when it is due, unix ms
-- ARGV[5] max_attempts: attempts before it gives up
-- ARGV[6] now: unix ms
-- Returns: {1 created | 0 it existed, flat HGETALL of the job as it is}

if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'payload', ARGV[3], 'due_at', ARGV[4],
    'max_attempts', ARGV[5], 'state', 'pending', 'attempts', 0, 'lease_until', 0, 'token', '',
    'error', '', 'version', 1, 'created_at', ARGV[6], 'updated_at', ARGV[6])
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
  return {1, redis.call('HGETALL', KEYS[1])}
end
return {0, redis.call('HGETALL', KEYS[1])}
