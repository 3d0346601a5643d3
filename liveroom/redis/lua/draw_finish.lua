-- draw_finish: compare-and-set out of OPEN: whoever runs this first finishes the draw (and
-- sets its keys to expire); everyone else gets 0.
-- KEYS[1] draw: hash of the draw (state, closed_at)
-- KEYS[2] entrants: set of entrant uids
-- KEYS[3] nicks: hash uid -> nick at entry
-- KEYS[4] open: set of the room's open draw ids
-- ARGV[1] state: the final state (closed or cancelled)
-- ARGV[2] closed_at: ms
-- ARGV[3] draw_id: the draw, to leave the open set
-- ARGV[4] keep_s: how long the finished draw is kept
-- Returns: 1 for the caller that finished it, else 0.

if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'closed_at', ARGV[2])
redis.call('SREM', KEYS[4], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
