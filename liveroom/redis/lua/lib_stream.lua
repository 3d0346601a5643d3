-- lib_stream: appending to a room's commerce event stream (liveroom/stream), for scripts
-- that record an event in the same atomic step as the change it records. The stream key
-- and its cap come from the caller (stream.RedisStream.key, stream.MAXLEN); fields are flat
-- strings, as stream.encode writes them, starting with type and room_id.

local function stream_append(key, cap, ...)
  return redis.call('XADD', key, 'MAXLEN', '~', cap, '*', ...)
end
