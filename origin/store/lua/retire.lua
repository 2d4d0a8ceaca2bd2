-- retire.lua: retention. Removes the records of finished orders (P:finished) that finished at or
-- before `cutoff` (ms since the epoch): an order's own reservation record, or an order's
-- directory once every part has acknowledged its decision (until then it waits, moved to the
-- back of the index). Counters, holds and the ledger are untouched: a finished record holds no
-- units. The order_ids are remembered (common.lua's remember_retired), so that a request reusing
-- one is refused. The caller chooses the cutoff so that every record it removes is in the MariaDB
-- history already (sync's sweeper). Runs without expiry.
-- Arguments: cutoff, limit (entries looked at, at most).
-- Answers JSON {code, message, retired, more, records, spanning}: how many orders left, whether
-- more may be due, the order_ids whose reservation record left (the sweeper then forgets the
-- pointer at home of those placed here from another partition: `forget`, directory.lua), and
-- "order_id|partitions" of each directory that left (the sweeper then drops its parts: `drop`).
function OPS.retire(a)
  local cutoff, limit = tonumber(a[1]), tonumber(a[2])
  local due = redis.call('ZRANGEBYSCORE', FINISHED, '-inf', cutoff, 'LIMIT', 0, limit)
  local records, spanning, gone, kept, drop = {}, {}, {}, {}, {}
  for _, order in ipairs(due) do
    local r = reservation_view(order)
    if r and redis.call('EXISTS', req_key(order)) == 1 then r = nil end  -- a part: see drop
    local d = directory_view(order)
    if d and d.status == 'single' then d = nil end  -- a pointer elsewhere: `forget` removes it
    local keep = (r and not FINAL[r.status]) or
      (d and (not FINAL[d.status] or redis.call('ZSCORE', P .. ':unsettled', order)))
    if keep then
      kept[#kept + 1] = order
    else
      if r then
        drop[#drop + 1] = res_key(order)
        records[#records + 1] = order
      end
      if d then
        drop[#drop + 1] = ord_key(order)
        spanning[#spanning + 1] = order .. '|' .. d.parts
      end
      gone[#gone + 1] = order
    end
  end
  local now = NOW
  defer(function()
    for i = 1, #drop, 500 do redis.call('DEL', unpack(drop, i, math.min(i + 499, #drop))) end
    for i = 1, #gone, 500 do
      redis.call('ZREM', FINISHED, unpack(gone, i, math.min(i + 499, #gone)))
    end
    remember_retired(gone)
    -- Not yet (a decision its parts have not all followed): to the back, so that what is due
    -- behind it is reached.
    for _, order in ipairs(kept) do redis.call('ZADD', FINISHED, now, order) end
  end)
  return answer('ok', 'retired ' .. n(#gone), { retired = #gone, more = #due == limit,
    records = records, spanning = spanning })
end

-- drop: retention of a part, once its order's directory has left home (retire). Arguments:
-- order_id. Answers JSON {code, message}; a part still held (it cannot be, once its order's
-- decision was followed) stays.
function OPS.drop(a)
  local order = a[1]
  local r = reservation_view(order)
  if r and FINAL[r.status] and redis.call('EXISTS', req_key(order)) == 1 then
    defer(function() redis.call('DEL', res_key(order), req_key(order)) end)
    return answer('ok', 'dropped')
  end
  return answer('ok', 'kept')
end
