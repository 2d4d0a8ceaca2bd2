-- transition.lua: POST /v1/reservations/{order_id}/confirm | release | return, on a reservation's
-- record in this partition.
-- Arguments: order_id, action "confirm" | "release" | "return", reason.
-- Answers JSON {code, message, reservation?, replayed}. The state machine is common.lua's
-- next_status; a hold past its deadline has been expired first, so confirming it answers
-- reservation_expired. not_found for an unknown order_id.
function OPS.transition(a)
  local order, action, reason = a[1], a[2], a[3]
  local r = reservation_view(order)
  if not r then return answer('not_found', 'no reservation ' .. order) end
  local op, to, message = next_status(r.status, action)
  if op then
    transition(r, op, to, ACTOR, reason)
    return answer('ok', to, { reservation = public_view(r), replayed = false })
  end
  if to == 'ok' then
    return answer('ok', message, { reservation = public_view(r), replayed = true })
  end
  return answer(to, message, { reservation = public_view(r) })
end
