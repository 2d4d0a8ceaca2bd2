-- reserve.lua: POST /v1/reservations. An all-or-nothing hold over up to 100 items, idempotent by
-- order_id; with confirm=1 the units are sold at once (a direct sale, ledger ops reserve,confirm).
-- Arguments: order_id, items "S:qty,S:qty" (request order, SKUs distinct), ttl seconds,
-- customer_id ("" none), confirm "0"/"1", mode: "" (the order's items are all here), "home" (as
-- "", in the order's home partition where orders may span partitions: an order_id this
-- partition's directory holds is taken) or "part" (this partition's part of an order spanning
-- partitions: a hold, confirm "0", indexed in P:parts; see directory.lua); for a part, the whole
-- request's items and confirm, which its replay must match (P:req:O). A whole request never
-- replays a part, nor a part a record of another request.
-- Answers JSON {code, message, reservation?, fail_items?, created, replayed}. Checks, first
-- failure wins, nothing written on failure: same order_id -> the stored reservation (replayed) or
-- idempotency_conflict; unknown_sku (first in item order); insufficient_stock listing every
-- short item; per-customer limit (customer_id required where a SKU has one); last,
-- idempotency_conflict for an order_id retention removed (common.lua's maybe_retired). The
-- failures that name one item also give its `sku`, so that the parts of an order spanning
-- partitions can be answered as one (the first failing item of the whole order).
function OPS.reserve(a)
  local order, items_text, ttl, customer, confirm, mode = a[1], a[2], tonumber(a[3]), a[4], a[5],
    a[6]
  if mode == 'home' and redis.call('EXISTS', ord_key(order)) == 1 then
    return answer('idempotency_conflict', 'order_id ' .. order .. ' was used with a different request')
  end
  local part = mode == 'part'
  local request = part and request_text(a[7], ttl, customer, a[8]) or nil
  local stored = reservation_view(order)
  if stored then
    local part_of = redis.call('GET', req_key(order))
    local same
    if part then
      same = part_of == request and stored.items_text == items_text
    else
      same = not part_of and same_request(stored, items_text, ttl, customer, confirm)
    end
    if not same then
      return answer('idempotency_conflict', 'order_id ' .. order ..
        ' was used with a different request')
    end
    if part then
      -- A retry placing it again: its claim is on the way again, so the sweeper waits anew.
      local now = NOW
      defer(function() redis.call('ZADD', UNCLAIMED, 'XX', now, order) end)
    end
    return answer('ok', 'already reserved', { reservation = public_view(stored), replayed = true })
  end
  local items = parse_items(items_text)
  local stocks = {}
  for i, it in ipairs(items) do
    stocks[i] = read_stock(it.sku)
    if not stocks[i] then return answer('unknown_sku', 'unknown sku ' .. it.sku, { sku = it.sku }) end
  end
  local fail_items, message = {}, nil
  for i, it in ipairs(items) do
    local available = stocks[i].on_hand - stocks[i].reserved
    if it.qty > available then
      message = message or ('sku ' .. it.sku .. ': requested ' .. n(it.qty) .. ', available ' ..
        n(available))
      fail_items[#fail_items + 1] = { sku = it.sku, requested = it.qty, available = available }
    end
  end
  if #fail_items > 0 then
    return answer('insufficient_stock', message, { fail_items = fail_items })
  end
  for i, it in ipairs(items) do
    local limit = stocks[i].limit
    if limit > 0 then
      if customer == '' then
        return answer('invalid_request', 'customer_id is required: sku ' .. it.sku ..
          ' has a per-customer limit', { sku = it.sku })
      end
      local held = tonumber(redis.call('HGET', cust_key(it.sku), customer) or '0')
      if held + it.qty > limit then
        return answer('customer_limit_exceeded', 'sku ' .. it.sku .. ' allows ' .. n(limit) ..
          ' units per customer; ' .. customer .. ' already holds ' .. n(held), { sku = it.sku })
      end
    end
  end
  -- A new order of its own here, unless retention removed its order_id (the parts of an order
  -- spanning partitions are checked by its claim at home). Last, so that a flood of requests
  -- refused for stock never pays for the lookup.
  if not part and maybe_retired(order) then
    return answer('idempotency_conflict', retired_refusal(order))
  end
  local sell = confirm == '1'
  local r = { order_id = order, status = sell and 'confirmed' or 'reserved', items = items,
    items_text = items_text, customer_id = customer, ttl_seconds = ttl, confirm = sell,
    expires_at = NOW + ttl * 1000, created_at = NOW, updated_at = NOW, part = part }
  if part then
    local now = NOW
    defer(function()
      redis.call('SET', req_key(order), request)
      redis.call('ZADD', UNCLAIMED, now, order)
    end)
  end
  change_reservation(sell and 'sell' or 'reserve', r, ACTOR, '')
  if not sell then add_deadline(order, r.expires_at, r.part) end
  count_for_customer(customer, items, 1)
  return answer('ok', sell and 'sold' or 'reserved', { reservation = public_view(r), created = true })
end
