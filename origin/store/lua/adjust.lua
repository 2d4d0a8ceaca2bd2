-- adjust.lua: POST /v1/stock/{sku}/adjustments. Restock (+) or write-off (-), idempotent by
-- request_id per SKU.
-- Arguments: sku, delta (non-zero), request_id, reason, max on_hand.
-- Answers JSON {code, message, stock?, fail_items?, replayed}: unknown_sku; idempotency_conflict
-- when the request_id was used with another delta; "already applied" (replayed); invalid_request
-- when on_hand would pass its maximum; insufficient_stock when a write-off would cut into reserved
-- units. Failures are not remembered, so a retry may succeed later.
function OPS.adjust(a)
  local sku, delta, request_id, reason, max_on_hand =
    a[1], tonumber(a[2]), a[3], a[4], tonumber(a[5])
  local s = read_stock(sku)
  if not s then return answer('unknown_sku', 'unknown sku ' .. sku) end
  local seen = redis.call('HGET', adj_key(sku), request_id)
  if seen then
    if tonumber(seen) ~= delta then
      return answer('idempotency_conflict', 'request_id ' .. request_id .. ' was used for sku ' ..
        sku .. ' with delta ' .. seen)
    end
    return answer('ok', 'already applied', { stock = stock_view(sku), replayed = true })
  end
  if delta > max_on_hand - s.on_hand then
    return answer('invalid_request', 'on_hand would exceed ' .. n(max_on_hand),
      { stock = stock_view(sku) })
  end
  if delta < s.reserved - s.on_hand then
    local available = s.on_hand - s.reserved
    return answer('insufficient_stock', 'sku ' .. sku .. ' has only ' .. n(available) ..
      ' units available to write off', { stock = stock_view(sku),
      fail_items = { { sku = sku, requested = -delta, available = available } } })
  end
  stock_change('adjust', sku, request_id, delta, 1, reason)
  defer(function() redis.call('HSET', adj_key(sku), request_id, delta) end)
  return answer('ok', 'adjusted', { stock = stock_view(sku) })
end
