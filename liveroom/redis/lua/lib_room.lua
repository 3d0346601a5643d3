-- lib_room: helpers of the room engine's scripts (room_*.lua).
-- Times are Redis server time, so every process and host judges rates and mutes by one
-- clock. Helpers take every key and argument they use as parameters: only a script reads
-- KEYS and ARGV, so its header names all it is given.

local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Lua numbers leave scripts truncated to integers; fractions go back as strings.
local function fmt(x)
  return string.format('%.17g', x)
end

-- The token bucket of liveroom/rules/ratelimit.py take(), same arithmetic:
-- `stored` is "tokens stamp" or false; returns allowed and the bucket to store.
local function take(stored, now, rate, burst)
  local tokens = burst
  if stored then
    local t, stamp = string.match(stored, '^(%S+) (%S+)$')
    tokens = math.min(burst, tonumber(t) + math.max(0, now - tonumber(stamp)) * rate)
  end
  if tokens >= 1 then
    return true, fmt(tokens - 1) .. ' ' .. fmt(now)
  end
  return false, fmt(tokens) .. ' ' .. fmt(now)
end

-- liveroom/rules/ratelimit.py slow_mode_wait().
local function slow_mode_wait(last, now, slow)
  if slow <= 0 or not last then
    return 0
  end
  return math.max(0, last + slow - now)
end

-- Give an event the room's next seq and keep it in the capped history stream (entry id
-- "<seq>-0", fields t=type, i=id, d=msgpack payload without seq). `floor` is the highest
-- seq the calling process has seen in this room: normally below the counter, it only
-- matters after Redis lost data (restarted without persistence), where it keeps seqs from
-- starting over at 1, which every process would drop as already seen.
local function keep_event(seq_key, history_key, maxlen, payload, etype, id, floor)
  local seq = redis.call('INCR', seq_key)
  floor = tonumber(floor)
  if seq <= floor then
    seq = floor + 1
    redis.call('SET', seq_key, seq)
  end
  redis.call('XADD', history_key, 'MAXLEN', maxlen, seq .. '-0', 't', etype, 'i', id, 'd', payload)
  return seq
end

-- keep_event, then fan the event out as "e<seq>:<payload>" on the room channel (PUBLISH
-- is the loader's: SPUBLISH on a cluster). Scripts that append one event take these as
-- their first six ARGV: channel, maxlen, payload, type, id, floor.
local function append_event(seq_key, history_key, channel, maxlen, payload, etype, id, floor)
  local seq = keep_event(seq_key, history_key, maxlen, payload, etype, id, floor)
  redis.call(PUBLISH, channel, 'e' .. seq .. ':' .. payload)
  return seq
end

-- Keep a show's event for its replay (a stream like the history, entry id "<seq>-0", one
-- field d=payload) while the room records one: its `replay` field is set from go-live to
-- the end. `wanted` is '1' for the event types a replay shows (rules.show.REPLAY_TYPES).
-- The stream lives `ttl_s` after its last event.
local function keep_for_replay(room_key, replay_key, seq, payload, wanted, cap, ttl_s)
  if wanted ~= '1' or redis.call('HGET', room_key, 'replay') ~= '1' then
    return
  end
  redis.call('XADD', replay_key, 'MAXLEN', '~', cap, seq .. '-0', 'd', payload)
  redis.call('EXPIRE', replay_key, ttl_s)
end

-- Sum the viewer counts of processes whose report has not expired ("count expiry_ms").
local function presence_sum(key, now, drop_expired)
  local all = redis.call('HGETALL', key)
  local sum = 0
  for i = 1, #all, 2 do
    local count, expiry = string.match(all[i + 1], '^(%S+) (%S+)$')
    if tonumber(expiry) > now then
      sum = sum + tonumber(count)
    elseif drop_expired then
      redis.call('HDEL', key, all[i])
    end
  end
  return sum
end

-- The value of one field of a stream entry's flat field list.
local function entry_field(flat, name)
  for j = 1, #flat, 2 do
    if flat[j] == name then
      return flat[j + 1]
    end
  end
  return false
end

-- The seq of a history entry id "<seq>-0".
local function entry_seq(entry_id)
  return tonumber(string.match(entry_id, '^(%d+)'))
end

-- Append an event to `parts` as a big-endian (seq u64, payload length u32) header and the
-- payload: table.concat(parts) makes hundreds of events one bulk string, which the client
-- parses far faster than a nested reply of many small strings. The same layout carries a
-- batch of events on the room channel ("b" .. table.concat(parts)).
local function pack_event(parts, seq, payload)
  parts[#parts + 1] = struct.pack('>I8I4', seq, #payload) .. payload
end

-- pack_event for a history entry.
local function pack_entry(parts, entry)
  pack_event(parts, entry_seq(entry[1]), entry_field(entry[2], 'd'))
end

-- liveroom/rules/social_proof.py take_slot(), same arithmetic: add `added` items to a pace
-- (last announcement at `last_at` ms, `pending` items waiting); returns the new last_at and
-- pending, and how many items an announcement made now stands for (0: none now).
local function pace_take(last_at, pending, added, now, window)
  pending = pending + added
  if pending > 0 and (last_at == 0 or now >= last_at + window) then
    return now, 0, pending
  end
  return last_at, pending, 0
end
