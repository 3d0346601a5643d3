-- room_seq_floor: raise the room's seq counter to at least `floor` (a seq this process has
-- seen), after a reconnect: if Redis lost its data, new events must not reuse seqs viewers
-- already have.
-- KEYS[1] seq: the room's seq counter
-- ARGV[1] floor: the highest seq this process has seen in the room
-- Returns: 1 when the counter had fallen behind, else 0.

local floor = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < floor then
  redis.call('SET', KEYS[1], floor)
  return 1
end
return 0
