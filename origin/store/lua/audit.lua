-- audit.lua: one consistent picture of the Redis side for `stockgate-sync check`, read in a single
-- atomic step: every SKU's counters, the units held by live holds per SKU, and the whole outbox
-- stream with its last generated id. Read-only: due holds are NOT expired first, because the
-- check compares Redis with the ledger exactly as they stand (batch.lua runs it without expiry,
-- alone in its batch). Blocks Redis while it runs (for about a millisecond per thousand SKUs,
-- holds or stream entries): an operator tool.
-- No arguments.
-- Answers a two-element array: [JSON {skus:[{sku, on_hand, reserved, sold, version, limit}],
-- held:[{sku, units}], holds, last_id}, the XRANGE - + reply of the stream].
function OPS.audit()
  local skus = {}
  for _, sku in ipairs(redis.call('ZRANGE', CHANGES, 0, -1)) do
    local s = read_stock(sku)
    if s then
      skus[#skus + 1] = { sku = sku, on_hand = s.on_hand, reserved = s.reserved, sold = s.sold,
        version = s.version, limit = s.limit }
    end
  end
  local held_by_sku, held = {}, {}
  local live = redis.call('ZRANGE', DEADLINES, 0, -1)
  for _, order in ipairs(redis.call('ZRANGE', PARTS, 0, -1)) do live[#live + 1] = order end
  for _, order in ipairs(live) do
    local r = reservation_view(order)
    for _, it in ipairs(r and r.items or {}) do
      if not held_by_sku[it.sku] then
        held_by_sku[it.sku] = 0
        held[#held + 1] = it.sku
      end
      held_by_sku[it.sku] = held_by_sku[it.sku] + it.qty
    end
  end
  local held_list = {}
  for _, sku in ipairs(held) do held_list[#held_list + 1] = { sku = sku, units = held_by_sku[sku] } end
  local last_id = '0-0'
  local entries = {}
  if redis.call('EXISTS', LEDGER) == 1 then
    local info = redis.call('XINFO', 'STREAM', LEDGER)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last_id = info[i + 1] end
    end
    entries = redis.call('XRANGE', LEDGER, '-', '+')
  end
  return { cjson.encode({ skus = skus, held = held_list, holds = #live, last_id = last_id }), entries }
end
