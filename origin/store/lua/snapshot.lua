-- snapshot.lua: GET /v1/snapshot, the edge's feed. Expires due holds first, then lists
-- {sku, available} for every SKU changed after snapshot version `since` (the argument; "" or "0":
-- all SKUs; a version ahead of this partition's, its keyspace emptied since: all SKUs too). What
-- the batch changed so far is flushed first, so the version covers it.
-- Answers JSON {code, version, items:[{sku, available, low_stock_threshold?}]} (the threshold only
-- where it is set, to keep the edge's feed small); version is what to pass as `since` next.
function OPS.snapshot(a)
  flush()
  local since = tonumber(a[1]) or 0
  local version = tonumber(redis.call('GET', SNAPVER) or '0')
  if since > version then since = 0 end
  local skus = redis.call('ZRANGEBYSCORE', CHANGES, '(' .. n(since), '+inf')
  local items = {}
  for i, sku in ipairs(skus) do
    local s = read_stock(sku)
    items[i] = { sku = sku, available = s.on_hand - s.reserved }
    if s.low > 0 then items[i].low_stock_threshold = s.low end
  end
  return answer('ok', 'ok', { version = version, items = items })
end
