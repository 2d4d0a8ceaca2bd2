-- set.lua: PUT /v1/stock/{sku}. Creates a SKU or sets its on_hand and per-customer limit.
-- ARGV[4] sku, ARGV[5] on_hand, ARGV[6] per_customer_limit ("" keeps the current one, "0" clears),
-- ARGV[7] reason.
-- Returns JSON {code, message, stock?, created, replayed}: "sku created" (one set event, even for
-- on_hand 0, so replay knows the SKU); "unchanged" (replayed, no event); "stock set" (a set event
-- of the signed difference, or only a version bump when just the limit changed); invalid_state
-- when on_hand would fall below reserved.
expire_due()
local sku, on_hand, limit_arg, reason = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local s = read_stock(sku)
if not s then
  new_stock(sku, limit_arg == '' and 0 or tonumber(limit_arg))
  stock_change('set', sku, '', on_hand, 1, reason)
  return result('ok', 'sku created', { stock = stock_view(sku), created = true })
end
if on_hand < s.reserved then
  return result('invalid_state', 'on_hand ' .. n(on_hand) .. ' is below reserved ' .. n(s.reserved),
    { stock = stock_view(sku) })
end
local limit = limit_arg == '' and s.limit or tonumber(limit_arg)
if limit == s.limit and on_hand == s.on_hand then
  return result('ok', 'unchanged', { stock = stock_view(sku), replayed = true })
end
s.limit = limit
-- With on_hand unchanged no counter moves, so no event; the version still tells readers
-- something changed.
stock_change('set', sku, '', on_hand - s.on_hand, on_hand ~= s.on_hand and 1 or 0, reason)
return result('ok', 'stock set', { stock = stock_view(sku) })
