-- snapshot.lua: GET /v1/snapshot, the edge's feed. Expires due holds first, then lists
-- {sku, available} for every SKU changed after snapshot version ARGV[4] ("" or "0": all SKUs).
-- Returns JSON {code, version, items:[{sku, available}]}; version is what to pass as `since` next.
expire_due()
flush()
local since = tonumber(ARGV[4]) or 0
local version = tonumber(redis.call('GET', P .. ':snapver') or '0')
local skus = redis.call('ZRANGEBYSCORE', P .. ':changes', '(' .. n(since), '+inf')
local items = {}
for i, sku in ipairs(skus) do
  local s = read_stock(sku)
  items[i] = { sku = sku, available = s.on_hand - s.reserved }
end
return result('ok', 'ok', { version = version, items = items })
