-- restore.lua: `stockgate-sync rebuild`. Writes records read back from MariaDB into an empty
-- keyspace, one batch per call, without ledger events (they are history already). Called for
-- each batch, in any order; the caller sets the stream's last id at the end.
-- Runs without expiry, alone in its batch; writes directly (an empty keyspace has nothing to undo).
-- Argument: JSON {stocks:[{sku, on_hand, reserved, sold, version, limit, low, updated_at}],
-- reservations:[{order, status, items, customer, ttl, confirm, expires_at, created_at,
-- updated_at}], parts: (the same, of parts of orders spanning partitions, with the whole order's
-- request_items and request_confirm), directories: (the same
-- with partitions "2" or "0,2,5"; status "single" for one part elsewhere), retired:[order_id of
-- each order past retention whose home is here], adjustments:[{sku, request_id, delta}],
-- customers:[{sku, customer, units}]}, with
-- SKUs as decimal strings and every number an integer.
-- Answers JSON {code, message, stocks, reservations}.
function OPS.restore(a)
  local doc = cjson.decode(a[1])
  for _, s in ipairs(doc.stocks or {}) do
    redis.call('HSET', stock_key(s.sku), 'on_hand', n(s.on_hand), 'reserved', n(s.reserved), 'sold',
      n(s.sold), 'version', n(s.version), 'limit', n(s.limit), 'updated_at', n(s.updated_at), 'low',
      n(s.low or 0))
    -- The snapshot version counts SKU changes, so it ends as the sum of the versions; restored
    -- ends the rebuild (below).
    redis.call('ZADD', CHANGES, redis.call('INCRBY', SNAPVER, s.version), s.sku)
  end
  -- Finished records go back into P:finished, for retention to find them again.
  local function maybe_finished(r)
    if FINAL[r.status] then redis.call('ZADD', FINISHED, r.updated_at, r.order) end
  end
  for _, r in ipairs(doc.reservations or {}) do
    redis.call('SET', res_key(r.order), record_text(r.status, r.items, r.customer, r.ttl,
      r.confirm, r.expires_at, r.created_at, r.updated_at))
    if r.status == 'reserved' then redis.call('ZADD', DEADLINES, r.expires_at, r.order) end
    maybe_finished(r)
  end
  -- Parts of orders spanning partitions, and the orders' directory records (at their home).
  for _, r in ipairs(doc.parts or {}) do
    redis.call('SET', res_key(r.order), record_text(r.status, r.items, r.customer, r.ttl,
      r.confirm, r.expires_at, r.created_at, r.updated_at))
    redis.call('SET', req_key(r.order), request_text(r.request_items, r.ttl, r.customer,
      r.request_confirm and '1' or '0'))
    if r.status == 'reserved' then redis.call('ZADD', PARTS, r.expires_at, r.order) end
  end
  for _, d in ipairs(doc.directories or {}) do
    redis.call('SET', ord_key(d.order), record_text(d.status, d.items, d.customer, d.ttl,
      d.confirm, d.expires_at, d.created_at, d.updated_at) .. '|' .. d.partitions)
    maybe_finished(d)
  end
  -- Orders past retention, whose records stay in the history only: remembered, as retention
  -- would have left them, so that a request reusing one is refused.
  if type(doc.retired) == 'table' and #doc.retired > 0 then remember_retired(doc.retired) end
  for _, a in ipairs(doc.adjustments or {}) do
    redis.call('HSET', adj_key(a.sku), a.request_id, n(a.delta))
  end
  for _, c in ipairs(doc.customers or {}) do
    redis.call('HSET', cust_key(c.sku), c.customer, n(c.units))
  end
  return answer('ok', 'restored', { stocks = #(doc.stocks or {}),
    reservations = #(doc.reservations or {}) })
end

-- restored: the end of a rebuild of the partition, once every batch is in. The snapshot version
-- jumps by REBUILT_STEP (2^40) and every SKU is marked changed at the new version, so a reader
-- passing a cursor from before the loss gets every SKU of the partition again, not only those the
-- rebuild happened to restore last. The jump puts the version past any from before the loss when
-- the keyspace had not been rebuilt before; after an earlier rebuild it can land below one (the
-- partition's version may grow slower than its SKUs' versions), and a reader whose version goes
-- back starts over. Answers JSON {code, message, version, skus}.
local REBUILT_STEP = 1099511627776
function OPS.restored()
  local version = redis.call('INCRBY', SNAPVER, REBUILT_STEP)
  local skus = redis.call('ZRANGE', CHANGES, 0, -1)
  local args = {}
  for i, sku in ipairs(skus) do
    args[#args + 1] = version
    args[#args + 1] = sku
    if #args == 1000 or i == #skus then
      redis.call('ZADD', CHANGES, unpack(args))
      args = {}
    end
  end
  return answer('ok', 'restored', { version = version, skus = #skus })
end
