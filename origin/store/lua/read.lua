-- read.lua: GET /v1/stock/{sku}, GET /v1/stock?skus=..., GET /v1/reservations/{order_id}.
-- Expires due holds first, so a read never shows units of an expired hold as reserved.
-- Arguments: "stock" and the SKUs, or "reservation" and the order_id.
-- Answers JSON: for stock {code:"ok", items:[stock view or {sku, code:"unknown_sku"}...]} in
-- request order; for a reservation {code, message, reservation?} (not_found when unknown).
function OPS.read(a)
  if a[1] == 'stock' then
    local items = {}
    for i = 2, #a do
      local sku = a[i]
      if read_stock(sku) then
        items[#items + 1] = stock_view(sku)
      else
        items[#items + 1] = { sku = sku, code = 'unknown_sku' }
      end
    end
    return answer('ok', 'ok', { items = items })
  end
  local r = reservation_view(a[2])
  if not r then return answer('not_found', 'no reservation ' .. a[2]) end
  return answer('ok', 'ok', { reservation = public_view(r) })
end
