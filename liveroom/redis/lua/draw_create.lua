-- draw_create: store a new open draw unless a draw with its id exists, in one step: a
-- start sent again with the draw id it named finds the first and changes nothing.
-- KEYS[1] draw: hash of the draw (rec, state, ends_at, closed_at, unannounced)
-- KEYS[2] open: set of the room's open draw ids
-- ARGV[1] rec: the draw's record (JSON)
-- ARGV[2] state: its state (open)
-- ARGV[3] ends_at: ms
-- ARGV[4] draw_id: the draw, for the open set
-- ARGV[5] unannounced: 1 while the room has not been told of the start, else 0
-- Returns: 1 if stored, 0 if the draw exists.

if redis.call('HSETNX', KEYS[1], 'rec', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'ends_at', ARGV[3], 'closed_at', 0)
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'unannounced', 1) end
redis.call('SADD', KEYS[2], ARGV[4])
return 1
