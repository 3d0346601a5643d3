-- lib_sale: helpers of the sale scripts (sale_*.lua); the decisions mirror
-- liveroom/rules/sale.py and the contract tests hold both stores to one answer.
--
-- A sale script gets the room's sale key base "<prefix>:{<room_id>}:sale" as KEYS[1] and
-- derives every sale key from it here, with the suffixes of liveroom/redis/keys.py SaleKeys:
-- the base starts with the room's hash tag, so every derived key stays in the room's slot
-- (the sweep finds hold ids inside the script, so it could not be handed their keys).
-- include: lib_stream

-- The room's sale keys and its commerce stream, passed to every helper below.
local function sale_room(base, stream, cap)
  return {
    base = base, stream = stream, cap = cap,
    due = base .. ':due', timers = base .. ':timers', orders = base .. ':orders',
    sales = base .. ':sales', untold = base .. ':untold',
  }
end

local function sale_key(R, sale_id) return R.base .. ':s:' .. sale_id end
local function takens_key(R, sale_id) return R.base .. ':s:' .. sale_id .. ':users' end
local function sale_holds_key(R, sale_id) return R.base .. ':s:' .. sale_id .. ':holds' end
local function hold_key(R, hold_id) return R.base .. ':h:' .. hold_id end
local function answer_key(R, sale_id, uid, request_id)
  return R.base .. ':ans:' .. sale_id .. ':' .. #uid .. ':' .. uid .. ':' .. request_id
end
local function user_units_key(R, uid) return R.base .. ':u:' .. #uid .. ':' .. uid end

local function hgetall(key)
  local r = redis.call('HGETALL', key)
  if #r == 0 then return nil end
  local t = {}
  for i = 1, #r, 2 do t[r[i]] = r[i + 1] end
  return t
end

-- A sale's stream event per moment, by its kind (rules.sale.KINDS; none where absent).
local SALE_EVENTS = {
  product = {created = 'sale_created', started = 'sale_started', ended = 'sale_ended'},
  coupon = {created = 'drop_created', ended = 'drop_ended'},
}

-- The fields of stream.EVENT_TYPES sale_*, drop_* and hold_* (rules.sale.sale_fields).
local function emit_sale(R, s, moment, now)
  local kind = s.kind or 'product'  -- sales stored before kinds existed are products
  local etype = SALE_EVENTS[kind][moment]
  if not etype then return end
  if kind == 'coupon' then
    stream_append(R.stream, R.cap,
      'type', etype, 'room_id', s.room_id, 'drop_id', s.sale_id, 'template_id', s.template_id,
      'count', s.stock, 'starts_at', s.starts_at, 'ends_at', s.ends_at, 'phrase', s.phrase,
      'ts', now)
  else
    stream_append(R.stream, R.cap,
      'type', etype, 'room_id', s.room_id, 'sale_id', s.sale_id, 'sku', s.sku,
      'stock', s.stock, 'price_fen', s.price_fen, 'starts_at', s.starts_at, 'ts', now)
  end
end

-- A sale ends (by hand or on time): recorded in its stream, and kept among the ends whose
-- listeners are still to be told (a full sweep's `untold`) until a process has told them.
local function sale_ended(R, s, now)
  redis.call('SADD', R.untold, s.sale_id)
  emit_sale(R, s, 'ended', now)
end

local function emit_hold(R, h, etype, now)
  stream_append(R.stream, R.cap,
    'type', etype, 'room_id', h.room_id, 'sale_id', h.sale_id, 'hold_id', h.hold_id,
    'uid', h.uid, 'sku', h.sku, 'qty', h.qty, 'price_fen', h.price_fen,
    'order_id', h.order_id, 'src', h.src or '', 'ref', h.ref or '', 'ts', now)
end

local function is_ended(s, now)
  local ended_at, ends_at = tonumber(s.ended_at), tonumber(s.ends_at)
  return (ended_at > 0 and now >= ended_at) or (ends_at > 0 and now >= ends_at)
end

-- The fields of stream.EVENT_TYPES coupon_* (rules.sale KINDS coupon unit_fields).
local function emit_coupon(R, c, etype, now)
  stream_append(R.stream, R.cap,
    'type', etype, 'room_id', c.room_id, 'drop_id', c.sale_id, 'coupon_id', c.hold_id,
    'uid', c.uid, 'order_id', c.order_id, 'valid_until', c.expires_at, 'src', c.src or '',
    'ref', c.ref or '', 'ts', now)
end

-- An unpaid hold past its expiry, or an unredeemed coupon past its valid_until.
local function is_due(h, now)
  local live = 'held'
  if h.kind == 'coupon' then live = 'issued' end
  return h.status == live and now >= tonumber(h.expires_at)
end

local HOLD_EVENT = {paid = 'hold_paid', cancelled = 'hold_cancelled', expired = 'hold_expired'}

local COUPON_EVENT = {redeemed = 'coupon_redeemed', expired = 'coupon_expired'}

-- Move a unit to a final state and settle the counters, once per unit. A hold (status
-- 'held') is the only place stock returns; a coupon stays given out, so only its drop's
-- redeemed count moves.
local function end_hold(R, h, status, now, order_id)
  local skey = sale_key(R, h.sale_id)
  local coupon = h.kind == 'coupon'
  if coupon then
    if status == 'redeemed' then redis.call('HINCRBY', skey, 'redeemed', 1) end
  else
    local qty = tonumber(h.qty)
    redis.call('HINCRBY', skey, 'held', -qty)
    if status == 'paid' then
      redis.call('HINCRBY', skey, 'sold', qty)
    else
      redis.call('HINCRBY', skey, 'available', qty)
      redis.call('HINCRBY', takens_key(R, h.sale_id), h.uid, -qty)
    end
  end
  h.status = status
  h.ended_at = tostring(now)
  if order_id then h.order_id = order_id end
  redis.call('HSET', hold_key(R, h.hold_id), 'status', status, 'ended_at', h.ended_at,
    'order_id', h.order_id)
  redis.call('ZREM', R.due, h.hold_id)
  if coupon then
    emit_coupon(R, h, COUPON_EVENT[status], now)
  else
    emit_hold(R, h, HOLD_EVENT[status], now)
  end
  return h
end
