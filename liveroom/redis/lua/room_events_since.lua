-- room_events_since: what a client that saw up to `since` missed, read at one instant.
-- flags: no-writes
-- include: lib_room
-- KEYS[1] seq: the room's seq counter
-- KEYS[2] history: the room's event stream
-- ARGV[1] since: the last seq the client has
-- Returns: {current seq, oldest kept seq or -1, packed entries with seq > since (see
--   pack_entry)}; whether the history still covers `since` is decided in Python by
--   rules.history.recovery.

local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local oldest = -1
if #first > 0 then
  oldest = entry_seq(first[1][1])
end
local since = tonumber(ARGV[1])
local parts = {}
-- Read only when the answer can be a range (rules.history.recovery decides; this just
-- spares packing a whole history that a 'gap' answer would throw away).
if since >= 0 and since < seq and oldest ~= -1 and oldest <= since + 1 then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '(' .. since .. '-0', '+')) do
    pack_entry(parts, entry)
  end
end
return {seq, oldest, table.concat(parts)}
