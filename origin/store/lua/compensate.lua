-- compensate.lua: `stockgate-sync repair`. Appends ledger events that explain a drift between a
-- SKU's counters and the sum of its ledger, without moving the counters: the counters are what
-- the shop has been selling from, so the ledger is made to account for them, openly, with one
-- event per counter that drifted (actor and reason say it was a repair). Refuses when the counters
-- are no longer what the check saw.
-- ARGV[4] sku, ARGV[5] ARGV[6] ARGV[7] the on_hand, reserved, sold the check saw, ARGV[8] reason,
-- then pairs ARGV[9], ARGV[10], ...: op, signed qty (the replay rules of common.lua's apply).
-- Returns JSON {code, message, events}: ok; invalid_state when the counters moved since.
local sku = ARGV[4]
local s = read_stock(sku) or { on_hand = 0, reserved = 0, sold = 0 }
if s.on_hand ~= tonumber(ARGV[5]) or s.reserved ~= tonumber(ARGV[6]) or
    s.sold ~= tonumber(ARGV[7]) then
  return result('invalid_state', 'sku ' .. sku .. ' changed since the check; check again')
end
local ops = {}
for i = 9, #ARGV - 1, 2 do ops[#ops + 1] = { ARGV[i], ARGV[i + 1] } end
repair_change(sku, '#repair', ops, ARGV[8])
return result('ok', 'compensated', { events = #ops })
