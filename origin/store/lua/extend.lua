-- extend.lua: POST /v1/reservations/{order_id}/extend. A live hold's deadline moves to
-- max(current, now + ttl): a late retry cannot shorten it. No counter moves, so no ledger event;
-- the outbox gets the new reservation record (change `extend`).
-- Arguments: order_id, ttl seconds.
-- Answers JSON {code, message, reservation?}: not_found; reservation_expired; invalid_state for a
-- hold that is no longer reserved.
function OPS.extend(a)
  local order, ttl = a[1], tonumber(a[2])
  local r = reservation_view(order)
  if not r then return answer('not_found', 'no reservation ' .. order) end
  local code, message = extend_refusal(r.status)
  if code then return answer(code, message, { reservation = public_view(r) }) end
  r.expires_at = math.max(r.expires_at, NOW + ttl * 1000)
  r.updated_at = NOW
  change_reservation('extend', r, ACTOR, '')
  add_deadline(order, r.expires_at)
  return answer('ok', 'extended', { reservation = public_view(r) })
end
