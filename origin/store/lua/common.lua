-- common.lua: prepended to every stockgate script at load time (one EVALSHA body each).
-- It fixes the key layout, the ledger format and the two rules every script applies first:
-- holds past their deadline are expired before anything is read or decided, and every change of
-- a SKU's counters is one ledger event written in the same script (DESIGN invariant 3).
--
-- ARGV common to all scripts: ARGV[1] key prefix P, ARGV[2] now (ms since epoch, the caller's
-- clock), ARGV[3] actor. Script arguments start at ARGV[4].
--
-- Keys (S = sku as decimal text, O = order_id). Per-SKU keys share the hash tag {S}, so each
-- SKU's state sits in one Redis Cluster slot; see docs/architecture.md for the cluster plan.
--   P:{S}:stock   hash    on_hand reserved sold version limit updated_at
--   P:{S}:adj     hash    request_id -> delta            (adjustment idempotency, per SKU)
--   P:{S}:cust    hash    customer_id -> units held in live holds and confirmed orders
--   P:res:{O}     hash    status items customer ttl confirm expires_at created_at updated_at
--                         (items: "S:qty,S:qty" in request order)
--   P:deadlines   zset    order_id of every live hold, scored by expires_at (ms)
--   P:ledger      stream  the outbox the sync worker drains into MariaDB; three kinds of entry:
--                         kind=ledger       sku ref op qty before after actor reason time version
--                                           (one per ledger event; version: the SKU's, after it)
--                         kind=stock        sku limit version time (after every set: the options
--                                           that no ledger event carries)
--                         kind=reservation  order status items customer ttl confirm expires_at
--                                           created_at updated_at (after every change of a
--                                           reservation record, the full record)
--                         The entry id orders them; sync applies a record only when it is newer.
--   P:snapver     string  snapshot version: +1 per SKU change
--   P:changes     zset    sku -> snapshot version of its last change; also the index of all SKUs
--
-- Numbers: SKUs stay decimal strings end to end (up to 2^53-1, beyond Lua's %.14g tostring);
-- counters, quantities and times fit below 1e14 and are written with %d.

local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local ACTOR = ARGV[3]
local EXPIRY_ACTOR = 'expiry'

local function n(x) return string.format('%d', x) end
local function stock_key(sku) return P .. ':{' .. sku .. '}:stock' end
local function adj_key(sku) return P .. ':{' .. sku .. '}:adj' end
local function cust_key(sku) return P .. ':{' .. sku .. '}:cust' end
local function res_key(order) return P .. ':res:{' .. order .. '}' end
local DEADLINES = P .. ':deadlines'
local LEDGER = P .. ':ledger'

-- "S:q,S:q" -> { {sku = 'S', qty = q}, ... }
local function parse_items(text)
  local items = {}
  for sku, qty in string.gmatch(text, '([^:,]+):([^,]+)') do
    items[#items + 1] = { sku = sku, qty = tonumber(qty) }
  end
  return items
end

-- Counters of a SKU, or nil when it was never set.
local function read_stock(sku)
  local s = redis.call('HMGET', stock_key(sku), 'on_hand', 'reserved', 'sold', 'version', 'limit',
    'updated_at')
  if not s[1] then return nil end
  return { on_hand = tonumber(s[1]), reserved = tonumber(s[2]), sold = tonumber(s[3]),
    version = tonumber(s[4]), limit = tonumber(s[5]), updated_at = tonumber(s[6]) }
end

local function stock_view(sku)
  local s = read_stock(sku)
  return { sku = sku, on_hand = s.on_hand, reserved = s.reserved, available = s.on_hand - s.reserved,
    sold = s.sold, version = s.version, per_customer_limit = s.limit, updated_at = s.updated_at }
end

local function bump_snapshot(sku)
  local v = redis.call('INCR', P .. ':snapver')
  redis.call('ZADD', P .. ':changes', v, sku)
end

-- One ledger event: moves the SKU's counters by the replay rules of op and records it. Callers
-- have checked every precondition; a violation here means a bug, and the script stops before
-- writing anything for this event.
local function apply(sku, ref, op, qty, actor, reason)
  local s = read_stock(sku) or { on_hand = 0, reserved = 0, sold = 0 }
  local on_hand, reserved, sold = s.on_hand, s.reserved, s.sold
  local before = on_hand - reserved
  if op == 'set' or op == 'adjust' then
    on_hand = on_hand + qty
  elseif op == 'reserve' then
    reserved = reserved + qty
  elseif op == 'confirm' then
    reserved = reserved - qty; on_hand = on_hand - qty; sold = sold + qty
  elseif op == 'release' or op == 'expire' then
    reserved = reserved - qty
  elseif op == 'return' then
    on_hand = on_hand + qty; sold = sold - qty
  else
    error('stockgate: unknown ledger op ' .. op)
  end
  if reserved < 0 or reserved > on_hand or sold < 0 then
    error('stockgate: invariant broken by ' .. op .. ' of sku ' .. sku)
  end
  redis.call('HSET', stock_key(sku), 'on_hand', n(on_hand), 'reserved', n(reserved), 'sold', n(sold),
    'updated_at', n(NOW))
  local version = redis.call('HINCRBY', stock_key(sku), 'version', 1)
  redis.call('XADD', LEDGER, '*', 'kind', 'ledger', 'sku', sku, 'ref', ref, 'op', op, 'qty', n(qty),
    'before', n(before), 'after', n(on_hand - reserved), 'actor', actor, 'reason', reason, 'time',
    n(NOW), 'version', n(version))
  bump_snapshot(sku)
end

-- The outbox record of a SKU's options (per-customer limit) and version, after a set.
local function outbox_stock(sku)
  local s = redis.call('HMGET', stock_key(sku), 'limit', 'version')
  redis.call('XADD', LEDGER, '*', 'kind', 'stock', 'sku', sku, 'limit', s[1], 'version', s[2],
    'time', n(NOW))
end

-- The outbox record of a reservation: its whole hash, after every change.
local function outbox_reservation(order)
  local r = redis.call('HMGET', res_key(order), 'status', 'items', 'customer', 'ttl', 'confirm',
    'expires_at', 'created_at', 'updated_at')
  redis.call('XADD', LEDGER, '*', 'kind', 'reservation', 'order', order, 'status', r[1], 'items',
    r[2], 'customer', r[3], 'ttl', r[4], 'confirm', r[5], 'expires_at', r[6], 'created_at', r[7],
    'updated_at', r[8])
end

local function apply_items(order, items, op, actor, reason)
  for _, it in ipairs(items) do apply(it.sku, order, op, it.qty, actor, reason) end
end

-- Moves units of a customer in or out of the per-customer count (sign +1 / -1).
local function count_for_customer(customer, items, sign)
  if customer == '' then return end
  for _, it in ipairs(items) do
    local units = redis.call('HINCRBY', cust_key(it.sku), customer, sign * it.qty)
    if units == 0 then redis.call('HDEL', cust_key(it.sku), customer) end
  end
end

local function reservation_view(order)
  local r = redis.call('HMGET', res_key(order), 'status', 'items', 'customer', 'ttl', 'confirm',
    'expires_at', 'created_at', 'updated_at')
  if not r[1] then return nil end
  return { order_id = order, status = r[1], items = parse_items(r[2]), customer_id = r[3],
    ttl_seconds = tonumber(r[4]), confirm = r[5] == '1', expires_at = tonumber(r[6]),
    created_at = tonumber(r[7]), updated_at = tonumber(r[8]) }
end

-- Leaves a status; live holds leave the deadline index, and units of released, expired and
-- returned reservations stop counting against the customer's limit.
local function set_status(order, from, to, items, customer)
  if from == 'reserved' then redis.call('ZREM', DEADLINES, order) end
  local counts = { reserved = true, confirmed = true }
  if counts[from] and not counts[to] then count_for_customer(customer, items, -1) end
  redis.call('HSET', res_key(order), 'status', to, 'updated_at', n(NOW))
  outbox_reservation(order)
end

-- Expires every live hold whose deadline has passed, oldest deadline first (ties by order_id,
-- as ZRANGEBYSCORE orders them), so that no decision below ever sees expired units as held.
local function expire_due()
  local due = redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', NOW)
  for _, order in ipairs(due) do
    local r = redis.call('HMGET', res_key(order), 'items', 'customer')
    local items = parse_items(r[1])
    apply_items(order, items, 'expire', EXPIRY_ACTOR, '')
    set_status(order, 'reserved', 'expired', items, r[2])
  end
  return #due
end

local function result(code, message, extra)
  local out = extra or {}
  out.code = code
  out.message = message
  return cjson.encode(out)
end
