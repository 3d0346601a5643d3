-- sale_grab: grabs, each decided whole and in order, in one atomic script: a kept answer for
-- (uid, request id), else ended / not_started / members_only / tier_not_allowed /
-- over_limit / sold_out, else a new hold (for a coupon drop, a coupon: issue_coupon). A batch
-- of grabs for one room costs one round trip; the answers are exactly those of the same
-- grabs sent one by one.
-- include: lib_sale
-- KEYS[1] sale_base: the room's sale key base (every sale key derives from it, see lib_sale)
-- KEYS[2] stream: the room's commerce event stream
-- ARGV[1] stream_cap: the stream's approximate cap
-- ARGV[2] now_ms: the time of the batch
-- ARGV[3] answer_ttl_s: how long an answer is kept at least
-- ARGV[4...] grabs: 9 per grab: sale_id, uid, tier, qty, request_id, new hold id, the
--   buyer's source channel, the buyer's share code, the buyer's nick
-- Returns: per grab, 1 if a kept answer else 0, then the answer JSON.

local R = sale_room(KEYS[1], KEYS[2], ARGV[1])
local now, answer_ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}

-- The tiers that may take part at all (a coupon template's member_tiers); none = everyone.
local function tier_refusal(s, tier)
  if not s.allowed_tiers or s.allowed_tiers == '[]' then return nil end
  for _, t in ipairs(cjson.decode(s.allowed_tiers)) do
    if t == tier then return nil end
  end
  return {refused = 'tier_not_allowed'}
end

-- The coupon branch (rules.sale.KINDS coupon): a claim of a drop issues a coupon, given out
-- for good: counted as sold at once, with no hold expiry returning stock. It expires at its
-- valid_until through the same due set (lib_sale end_coupon), its stock staying given out.
-- Validity as rules.coupon.validity; the coupon id as rules.coupon.coupon_id_for.
local function issue_coupon(s, sale_id, uid, qty, request_id, unit_id, src, ref)
  local terms = cjson.decode(s.coupon)
  local valid_from, valid_until = tonumber(terms.valid_from or 0), tonumber(terms.valid_until)
  local days = tonumber(terms.valid_days or 0)
  if days > 0 then valid_from, valid_until = now, now + days * 86400000 end
  local c = {
    hold_id = 'c' .. string.sub(unit_id, 2), room_id = s.room_id, sale_id = sale_id, uid = uid,
    qty = tostring(qty), price_fen = '0', sku = '', created_at = tostring(now),
    expires_at = tostring(valid_until), status = 'issued', order_id = '',
    request_id = request_id, ended_at = '0', src = src, ref = ref, kind = 'coupon',
    valid_from = tostring(valid_from),
  }
  local skey = sale_key(R, sale_id)
  redis.call('HINCRBY', skey, 'available', -qty)
  redis.call('HINCRBY', skey, 'sold', qty)
  redis.call('HINCRBY', takens_key(R, sale_id), uid, qty)
  local flat = {}
  for k, v in pairs(c) do flat[#flat + 1] = k; flat[#flat + 1] = v end
  redis.call('HSET', hold_key(R, c.hold_id), unpack(flat))
  redis.call('SADD', sale_holds_key(R, sale_id), c.hold_id)
  redis.call('SADD', user_units_key(R, uid), c.hold_id)
  redis.call('ZADD', R.due, valid_until, c.hold_id)
  emit_coupon(R, c, 'coupon_issued', now)
  return {hold = c}
end

local function grab_one(sale_id, uid, tier, qty, request_id, hold_id, src, ref, nick)
  local skey = sale_key(R, sale_id)
  local akey = answer_key(R, sale_id, uid, request_id)
  local kept = redis.call('GET', akey)
  if kept then return 1, kept end
  local s = hgetall(skey)
  if not s then return 0, cjson.encode({refused = 'no_such_sale'}) end

  local starts_at, limit = tonumber(s.starts_at), tonumber(s.limit_per_user)
  local available = tonumber(s.available)
  local taken = tonumber(redis.call('HGET', takens_key(R, sale_id), uid) or '0')
  local answer
  if is_ended(s, now) then
    answer = {refused = 'ended'}
  elseif now < starts_at then
    if now < starts_at - 1000 * tonumber(s.early_access_s) then
      answer = {refused = 'not_started', starts_at = s.starts_at}
    else
      local member = false
      for _, t in ipairs(cjson.decode(s.member_tiers)) do
        if t == tier then member = true end
      end
      if not member then answer = {refused = 'members_only', starts_at = s.starts_at} end
    end
  end
  if not answer then answer = tier_refusal(s, tier) end
  if not answer and taken + qty > limit then
    answer = {refused = 'over_limit', limit_left = tostring(math.max(limit - taken, 0))}
  end
  if not answer and available < qty then
    answer = {refused = 'sold_out', available = tostring(available)}
  end
  if not answer and s.kind == 'coupon' then
    answer = issue_coupon(s, sale_id, uid, qty, request_id, hold_id, src, ref)
  end
  if not answer then
    local h = {
      hold_id = hold_id, room_id = s.room_id, sale_id = sale_id, uid = uid,
      qty = tostring(qty), price_fen = s.price_fen, sku = s.sku, created_at = tostring(now),
      expires_at = tostring(now + 1000 * tonumber(s.hold_s)), status = 'held', order_id = '',
      request_id = request_id, ended_at = '0', src = src, ref = ref, nick = nick,
    }
    redis.call('HINCRBY', skey, 'available', -qty)
    redis.call('HINCRBY', skey, 'held', qty)
    redis.call('HINCRBY', takens_key(R, sale_id), uid, qty)
    local flat = {}
    for k, v in pairs(h) do flat[#flat + 1] = k; flat[#flat + 1] = v end
    redis.call('HSET', hold_key(R, hold_id), unpack(flat))
    redis.call('SADD', sale_holds_key(R, sale_id), hold_id)
    redis.call('SADD', user_units_key(R, uid), hold_id)
    redis.call('ZADD', R.due, tonumber(h.expires_at), hold_id)
    emit_hold(R, h, 'hold_created', now)
    answer = {hold = h}
  end
  local encoded = cjson.encode(answer)
  redis.call('SET', akey, encoded, 'EX', math.max(answer_ttl, tonumber(s.hold_s) + 60))
  return 0, encoded
end

for i = 4, #ARGV, 9 do
  local kept, answer = grab_one(ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]),
    ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8])
  out[#out + 1] = kept
  out[#out + 1] = answer
end
return out
