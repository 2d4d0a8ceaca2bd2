-- read.lua: GET /v1/stock/{sku}, GET /v1/stock?skus=..., GET /v1/reservations/{order_id}.
-- Expires due holds first, so a read never shows units of an expired hold as reserved.
-- ARGV[4] "stock" with ARGV[5..] SKUs, or "reservation" with ARGV[5] order_id.
-- Returns JSON: for stock {code:"ok", items:[stock view or {sku, code:"unknown_sku"}...]} in
-- request order; for a reservation {code, message, reservation?} (not_found when unknown).
expire_due()
if ARGV[4] == 'stock' then
  local items = {}
  for i = 5, #ARGV do
    local sku = ARGV[i]
    if read_stock(sku) then
      items[#items + 1] = stock_view(sku)
    else
      items[#items + 1] = { sku = sku, code = 'unknown_sku' }
    end
  end
  return result('ok', 'ok', { items = items })
end
local r = reservation_view(ARGV[5])
if not r then return result('not_found', 'no reservation ' .. ARGV[5]) end
return result('ok', 'ok', { reservation = public_view(r) })
