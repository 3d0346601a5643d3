-- Shared by every sale script (prepended at load time). KEYS[1] is the room's sale key
-- base "<prefix>:{<room_id>}:sale"; every key a script touches is built from it, so all
-- of them share the room's hash tag and live in one cluster slot.
-- The decisions mirror liveroom/rules/sale.py; the contract tests hold both to one answer.
local B = KEYS[1]
local EVENTS_MAXLEN = 100000

local function hgetall(key)
  local r = redis.call('HGETALL', key)
  if #r == 0 then return nil end
  local t = {}
  for i = 1, #r, 2 do t[r[i]] = r[i + 1] end
  return t
end

local function emit_sale(s, etype, now)
  redis.call('XADD', B .. ':events', 'MAXLEN', '~', EVENTS_MAXLEN, '*',
    'type', etype, 'room_id', s.room_id, 'sale_id', s.sale_id, 'sku', s.sku,
    'stock', s.stock, 'price_fen', s.price_fen, 'starts_at', s.starts_at, 'ts', now)
end

local function emit_hold(h, etype, now)
  redis.call('XADD', B .. ':events', 'MAXLEN', '~', EVENTS_MAXLEN, '*',
    'type', etype, 'room_id', h.room_id, 'sale_id', h.sale_id, 'hold_id', h.hold_id,
    'uid', h.uid, 'sku', h.sku, 'qty', h.qty, 'price_fen', h.price_fen,
    'order_id', h.order_id, 'src', h.src or '', 'ts', now)
end

local function is_ended(s, now)
  local ended_at, ends_at = tonumber(s.ended_at), tonumber(s.ends_at)
  return (ended_at > 0 and now >= ended_at) or (ends_at > 0 and now >= ends_at)
end

local function is_due(h, now)
  return h.status == 'held' and now >= tonumber(h.expires_at)
end

local HOLD_EVENT = {paid = 'hold_paid', cancelled = 'hold_cancelled', expired = 'hold_expired'}

-- Move a held hold to a final state and settle the counters: the only place stock
-- returns, and it runs once per hold because it requires status 'held'.
local function end_hold(h, status, now, order_id)
  local skey = B .. ':s:' .. h.sale_id
  local qty = tonumber(h.qty)
  redis.call('HINCRBY', skey, 'held', -qty)
  if status == 'paid' then
    redis.call('HINCRBY', skey, 'sold', qty)
  else
    redis.call('HINCRBY', skey, 'available', qty)
    redis.call('HINCRBY', skey .. ':users', h.uid, -qty)
  end
  h.status = status
  h.ended_at = tostring(now)
  if order_id then h.order_id = order_id end
  redis.call('HSET', B .. ':h:' .. h.hold_id, 'status', status, 'ended_at', h.ended_at,
    'order_id', h.order_id)
  redis.call('ZREM', B .. ':due', h.hold_id)
  emit_hold(h, HOLD_EVENT[status], now)
  return h
end
