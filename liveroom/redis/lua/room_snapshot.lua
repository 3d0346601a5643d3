-- room_snapshot: everything a joining viewer needs, read at one instant. The history is read
-- newest first in pages only until `recent` standing comments are found; which comments a
-- viewer sees is decided in Python by rules.history.recent_comments.
-- flags: no-writes
-- include: lib_room
-- KEYS[1] room: hash of room fields
-- KEYS[2] seq: the room's seq counter
-- KEYS[3] likes: the room's like total
-- KEYS[4] presence: hash node_id -> "count expiry_ms"
-- KEYS[5] history: the room's event stream
-- KEYS[6] deleted: set of deleted comment ids
-- ARGV[1] recent: how many standing comments to find
-- Returns: {room hash (flat), seq, likes, viewers, comment entries newest first (packed, see
--   pack_entry), ids of deleted comments among them}.

local want = tonumber(ARGV[1])
local entries = {}
local deleted = {}
local found = 0
local cursor = '+'
local page_size = want + 8 -- enough when comments are dense; grows when they are not
while found < want do
  local page = redis.call('XREVRANGE', KEYS[5], cursor, '-', 'COUNT', page_size)
  for _, entry in ipairs(page) do
    if entry_field(entry[2], 't') == 'comment' then
      pack_entry(entries, entry)
      local id = entry_field(entry[2], 'i')
      if redis.call('SISMEMBER', KEYS[6], id) == 1 then
        deleted[#deleted + 1] = id
      else
        found = found + 1
        if found >= want then
          break
        end
      end
    end
    cursor = '(' .. entry[1]
  end
  if #page < page_size then
    break
  end
  page_size = math.min(page_size * 2, 512)
end

return {
  redis.call('HGETALL', KEYS[1]),
  tonumber(redis.call('GET', KEYS[2]) or '0'),
  tonumber(redis.call('GET', KEYS[3]) or '0'),
  presence_sum(KEYS[4], now_ms(), false),
  table.concat(entries),
  deleted,
}
