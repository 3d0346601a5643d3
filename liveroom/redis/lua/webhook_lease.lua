-- webhook_lease: which process delivers a room's commerce events to the merchant's webhook,
-- and how far it got: a lease and a cursor in one hash of the room's slot.
-- KEYS[1] webhook: the room's delivery hash (cursor, owner, until, failures, error)
-- ARGV[1] op: take (the lease, if free, lapsed or already ours) | advance (ours: the cursor
--         moves on, the failures are cleared and the lease runs to until_ms) | hold (ours:
--         the lease runs to until_ms and nobody else's before: a release is a hold until
--         now, a backoff one until the retry) | fail (ours: a call failed, with the error
--         text in place of the cursor; counted, and the lease runs to until_ms)
-- ARGV[2] owner: the delivering process's token
-- ARGV[3] now_ms: the time of the call
-- ARGV[4] until_ms: the end of the lease
-- ARGV[5] cursor: advance: the last stream id delivered; fail: what went wrong
-- Returns: take: the cursor ('0-0' before the first delivery), or false when another
-- process holds the lease; advance, hold: 1 when the lease was ours, else 0; fail: the
-- failed calls in a row, or 0 when the lease was not ours.

local op, owner, now, till = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = redis.call('HMGET', KEYS[1], 'owner', 'until', 'cursor')
local ours = h[1] == owner
if op == 'take' then
  if not ours and h[1] and tonumber(h[2] or '0') > now then return false end
  redis.call('HSET', KEYS[1], 'owner', owner, 'until', till)
  return h[3] or '0-0'
end
if not ours then return 0 end
if op == 'advance' then
  redis.call('HSET', KEYS[1], 'cursor', ARGV[5], 'until', till)
  redis.call('HDEL', KEYS[1], 'failures', 'error')
elseif op == 'fail' then
  redis.call('HSET', KEYS[1], 'error', ARGV[5], 'until', till)
  return redis.call('HINCRBY', KEYS[1], 'failures', 1)
else
  redis.call('HSET', KEYS[1], 'until', till)
end
return 1
