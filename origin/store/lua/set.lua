-- set.lua: PUT /v1/stock/{sku}. Creates a SKU or sets its on_hand and options (per-customer
-- limit, low-stock threshold).
-- Arguments: sku, on_hand, per_customer_limit ("" keeps the current one, "0" clears), reason,
-- low_stock_threshold ("" keeps the current one; a SKU created without one gets the default),
-- the default low-stock threshold.
-- Answers JSON {code, message, stock?, created, replayed}: "sku created" (one set event, even for
-- on_hand 0, so replay knows the SKU); "unchanged" (replayed, no event); "stock set" (a set event
-- of the signed difference, or only a version bump when just options changed); invalid_state
-- when on_hand would fall below reserved.
function OPS.set(a)
  local sku, on_hand, limit_arg, reason, low_arg = a[1], tonumber(a[2]), a[3], a[4], a[5] or ''
  local s = read_stock(sku)
  if not s then
    new_stock(sku, limit_arg == '' and 0 or tonumber(limit_arg),
      tonumber(low_arg ~= '' and low_arg or (a[6] or '0')))
    stock_change('set', sku, '', on_hand, 1, reason)
    return answer('ok', 'sku created', { stock = stock_view(sku), created = true })
  end
  if on_hand < s.reserved then
    return answer('invalid_state', 'on_hand ' .. n(on_hand) .. ' is below reserved ' .. n(s.reserved),
      { stock = stock_view(sku) })
  end
  local limit = limit_arg == '' and s.limit or tonumber(limit_arg)
  local low = low_arg == '' and s.low or tonumber(low_arg)
  if limit == s.limit and low == s.low and on_hand == s.on_hand then
    return answer('ok', 'unchanged', { stock = stock_view(sku), replayed = true })
  end
  save(sku, s)  -- before the options change, so that a failure below undoes them too
  s.limit = limit
  s.low = low
  -- With on_hand unchanged no counter moves, so no event; the version still tells readers
  -- something changed.
  stock_change('set', sku, '', on_hand - s.on_hand, on_hand ~= s.on_hand and 1 or 0, reason)
  return answer('ok', 'stock set', { stock = stock_view(sku) })
end
