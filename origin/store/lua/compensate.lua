-- compensate.lua: `stockgate-sync repair`. Appends ledger events that explain a drift between a
-- SKU's counters and the sum of its ledger, without moving the counters: the counters are what
-- the shop has been selling from, so the ledger is made to account for them, openly, with one
-- event per counter that drifted (actor and reason say it was a repair). Refuses when the counters
-- are no longer what the check saw.
-- Arguments: sku; the on_hand, reserved, sold the check saw; reason; then pairs of op and
-- signed qty (the replay rules of common.lua's apply). Runs without expiry, alone in its batch.
-- Answers JSON {code, message, events}: ok; invalid_state when the counters moved since.
function OPS.compensate(a)
  local sku = a[1]
  local s = read_stock(sku) or { on_hand = 0, reserved = 0, sold = 0 }
  if s.on_hand ~= tonumber(a[2]) or s.reserved ~= tonumber(a[3]) or
      s.sold ~= tonumber(a[4]) then
    return answer('invalid_state', 'sku ' .. sku .. ' changed since the check; check again')
  end
  local ops = {}
  for i = 6, #a - 1, 2 do ops[#ops + 1] = { a[i], a[i + 1] } end
  repair_change(sku, '#repair', ops, a[5])
  return answer('ok', 'compensated', { events = #ops })
end
