-- job_reschedule: make a job due at a new time: a pending one moves, a running one is due
-- again (its holder's outcome is then ignored), a finished one runs once more.
-- KEYS[1] job: hash of the job
-- ARGV[1] due_at: the new due time, unix ms
-- ARGV[2] now: unix ms
-- ARGV[3] version: the version the caller read (compare-and-set)
-- Returns: {'ok', new version} | {'conflict', version} | {'gone'}

local version = redis.call('HGET', KEYS[1], 'version')
if not version then
  return {'gone'}
end
if tonumber(version) ~= tonumber(ARGV[3]) then
  return {'conflict', version}
end
local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'state', 'pending', 'due_at', ARGV[1], 'attempts', 0, 'token', '',
  'lease_until', 0, 'error', '', 'version', next_version, 'updated_at', ARGV[2])
redis.call('PERSIST', KEYS[1])
return {'ok', next_version}
