-- transition.lua: POST /v1/reservations/{order_id}/confirm | release | return.
-- Arguments: order_id, action "confirm" | "release" | "return", reason.
-- Answers JSON {code, message, reservation?, replayed}. The state machine (as the reference model):
--   confirm: reserved -> confirmed; confirmed/returned replay; released -> invalid_state;
--            expired (also a hold past its deadline, expired first) -> reservation_expired.
--   release: reserved -> released; released/expired replay (the units are free already);
--            confirmed/returned -> invalid_state.
--   return:  confirmed -> returned; returned replays; anything else -> invalid_state.
-- not_found for an unknown order_id.
function OPS.transition(a)
  local order, action, reason = a[1], a[2], a[3]
  local r = reservation_view(order)
  if not r then return answer('not_found', 'no reservation ' .. order) end
  local function done(message, replayed)
    return answer('ok', message, { reservation = public_view(r), replayed = replayed })
  end
  local function fail(code, message)
    return answer(code, message, { reservation = public_view(r) })
  end
  local st = r.status
  if action == 'confirm' then
    if st == 'reserved' then
      transition(r, 'confirm', 'confirmed', ACTOR, reason)
      return done('confirmed', false)
    elseif st == 'confirmed' or st == 'returned' then
      return done('already confirmed', true)
    elseif st == 'released' then
      return fail('invalid_state', 'reservation was released')
    else
      return fail('reservation_expired', 'reservation expired')
    end
  elseif action == 'release' then
    if st == 'reserved' then
      transition(r, 'release', 'released', ACTOR, reason)
      return done('released', false)
    elseif st == 'released' then
      return done('already released', true)
    elseif st == 'expired' then
      return done('already expired', true)
    else
      return fail('invalid_state', 'reservation is ' .. st .. '; use return')
    end
  elseif action == 'return' then
    if st == 'confirmed' then
      transition(r, 'return', 'returned', ACTOR, reason)
      return done('returned', false)
    elseif st == 'returned' then
      return done('already returned', true)
    else
      return fail('invalid_state', 'only confirmed reservations can be returned; this one is ' .. st)
    end
  end
  error('stockgate: unknown transition ' .. tostring(action))
end
