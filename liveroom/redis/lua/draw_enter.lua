-- draw_enter: add an entrant if the draw is open and not past its end: the same test as
-- rules.draw.entry_refusal, in one atomic step; a new entry is recorded in the room's
-- commerce stream in the same step (draw_entered, with the entrant's channel and code).
-- include: lib_stream
-- KEYS[1] draw: hash of the draw (state, ends_at)
-- KEYS[2] entrants: set of entrant uids
-- KEYS[3] nicks: hash uid -> nick at entry
-- KEYS[4] stream: the room's commerce event stream
-- ARGV[1] uid: the viewer entering
-- ARGV[2] nick: their nick, kept for the announcement
-- ARGV[3] now_ms: the time of the entry
-- ARGV[4] stream_cap: the stream's approximate cap; 0 records nothing
-- ARGV[5] room_id: the room, for the stream entry
-- ARGV[6] draw_id: the draw, for the stream entry
-- ARGV[7] src: the entrant's channel
-- ARGV[8] ref: the entrant's share code
-- Returns: {1 entered | 0 already in | -1 no such draw | -2 not taking entries, entrants}.

local st = redis.call('HMGET', KEYS[1], 'state', 'ends_at')
if not st[1] then return {-1, 0} end
if st[1] ~= 'open' or tonumber(ARGV[3]) >= tonumber(st[2]) then
  return {-2, redis.call('SCARD', KEYS[2])}
end
local added = redis.call('SADD', KEYS[2], ARGV[1])
if added == 1 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  if tonumber(ARGV[4]) > 0 then
    stream_append(KEYS[4], ARGV[4], 'type', 'draw_entered', 'room_id', ARGV[5],
      'draw_id', ARGV[6], 'uid', ARGV[1], 'src', ARGV[7], 'ref', ARGV[8], 'ts', ARGV[3])
  end
end
return {added, redis.call('SCARD', KEYS[2])}
