-- extend.lua: POST /v1/reservations/{order_id}/extend. A live hold's deadline moves to
-- max(current, now + ttl): a late retry cannot shorten it. No counter moves, so no ledger event;
-- the outbox gets the new reservation record (change `extend`).
-- ARGV[4] order_id, ARGV[5] ttl seconds.
-- Returns JSON {code, message, reservation?}: not_found; reservation_expired; invalid_state for a
-- hold that is no longer reserved.
expire_due()
local order, ttl = ARGV[4], tonumber(ARGV[5])
local r = reservation_view(order)
if not r then return result('not_found', 'no reservation ' .. order) end
if r.status == 'expired' then
  return result('reservation_expired', 'reservation expired', { reservation = public_view(r) })
end
if r.status ~= 'reserved' then
  return result('invalid_state', 'reservation is ' .. r.status, { reservation = public_view(r) })
end
r.expires_at = math.max(r.expires_at, NOW + ttl * 1000)
r.updated_at = NOW
redis.call('HSET', res_key(order), 'expires_at', n(r.expires_at), 'updated_at', n(NOW))
redis.call('ZADD', DEADLINES, r.expires_at, order)
order_change('extend', r, r.items, ACTOR, '')
return result('ok', 'extended', { reservation = public_view(r) })
