-- draw_enter: add an entrant if the draw is open and not past its end: the same test as
-- rules.draw.entry_refusal, in one atomic step.
-- KEYS[1] draw: hash of the draw (state, ends_at)
-- KEYS[2] entrants: set of entrant uids
-- KEYS[3] nicks: hash uid -> nick at entry
-- ARGV[1] uid: the viewer entering
-- ARGV[2] nick: their nick, kept for the announcement
-- ARGV[3] now_ms: the time of the entry
-- Returns: {1 entered | 0 already in | -1 no such draw | -2 not taking entries, entrants}.

local st = redis.call('HMGET', KEYS[1], 'state', 'ends_at')
if not st[1] then return {-1, 0} end
if st[1] ~= 'open' or tonumber(ARGV[3]) >= tonumber(st[2]) then
  return {-2, redis.call('SCARD', KEYS[2])}
end
local added = redis.call('SADD', KEYS[2], ARGV[1])
if added == 1 then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
return {added, redis.call('SCARD', KEYS[2])}
