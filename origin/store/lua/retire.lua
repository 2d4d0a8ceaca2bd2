-- retire.lua: retention. Removes the records of finished orders (P:finished) that finished at or
-- before `cutoff` (ms since the epoch): a reservation's record (and, beside a part, the whole
-- request it belongs to), or an order's directory once every part has acknowledged its decision
-- (until then it stays, for the sweeper to settle first). Counters, holds and the ledger are
-- untouched: a finished record holds no units. The order_ids are remembered (common.lua's
-- remember_retired), so that a request reusing one is refused. The caller chooses the cutoff so that every
-- record it removes is in the MariaDB history already (sync's sweeper). Runs without expiry.
-- Arguments: cutoff, limit (entries looked at, at most).
-- Answers JSON {code, message, retired, more, records}: how many orders' records left, whether
-- more may be due, and the order_ids whose reservation record left (the sweeper then forgets the
-- directory at home of those placed here from another partition: `forget`, directory.lua).
function OPS.retire(a)
  local cutoff, limit = tonumber(a[1]), tonumber(a[2])
  local due = redis.call('ZRANGEBYSCORE', FINISHED, '-inf', cutoff, 'LIMIT', 0, limit)
  local records, gone, drop = {}, {}, {}
  for _, order in ipairs(due) do
    local r = reservation_view(order)
    local d = directory_view(order)
    if d and d.status == 'single' then d = nil end  -- a pointer elsewhere: `forget` removes it
    local keep = (r and not FINAL[r.status]) or
      (d and (not FINAL[d.status] or redis.call('ZSCORE', P .. ':unsettled', order)))
    if not keep then
      if r then
        drop[#drop + 1] = res_key(order)
        drop[#drop + 1] = req_key(order)
        records[#records + 1] = order
      end
      if d then drop[#drop + 1] = ord_key(order) end
      gone[#gone + 1] = order
    end
  end
  defer(function()
    for i = 1, #drop, 500 do redis.call('DEL', unpack(drop, i, math.min(i + 499, #drop))) end
    remember_retired(gone)
    for i = 1, #gone, 500 do
      redis.call('ZREM', FINISHED, unpack(gone, i, math.min(i + 499, #gone)))
    end
  end)
  return answer('ok', 'retired ' .. n(#gone), { retired = #gone,
    more = #due == limit and #gone > 0, records = records })
end
