-- directory.lua: orders whose items lie in more than one partition, or in one partition other
-- than the order's home (the partition its order_id hashes to; keyspace.h). The origin reserves
-- the parts first, each in its own partition (reserve.lua, mode "part" or whole), and only then
-- claims the order_id at home; every later call by order_id starts at home (`order`), which
-- answers at once for an order of its own, says where a single part lies, or decides the
-- transition of an order with several parts, which the origin then carries to each part
-- (`settle`). The sweeper settles parts whose deadline passed (`due_parts`). Every step is
-- idempotent, so a retry or the sweeper completes what a crash left half done.

-- Orders whose parts have not all confirmed the status decided here, by the time of the
-- decision: the sweeper carries on what a failed origin left half done (`unsettled`).
local UNSETTLED = P .. ':unsettled'

-- Marks an order decided (its parts must follow), in the same step as the decision.
local function decided(order)
  local now = NOW
  defer(function() redis.call('ZADD', UNSETTLED, now, order) end)
end

-- Writes an order's directory record (deferred) and, for an order of several parts, its outbox
-- entry: the order's record for the history, with no events (the parts' entries carry those).
local function save_directory(d, actor, reason)
  local record = record_text(d.status, d.items_text, d.customer_id, d.ttl_seconds, d.confirm,
    d.expires_at, d.created_at, d.updated_at)
  local text = record .. '|' .. d.parts
  local key = ord_key(d.order_id)
  defer(function() redis.call('SET', key, text) end)
  if d.status == 'single' then return end
  if FINAL[d.status] then finished(d.order_id) end
  pending[#pending + 1] = { events = 0, fields = { 'change', 'order', 'ops', '', 'order',
    d.order_id, 'actor', actor, 'reason', reason, 'time', n(NOW), 'record', record, 'after', '' } }
end

-- Expires an order of several parts held past its deadline: the decision, made here (the parts
-- follow). True when it did.
local function expire_if_due(d)
  if d.status ~= 'reserved' or d.parts == nil or NOW < d.expires_at then return false end
  d.status = 'expired'
  d.updated_at = NOW
  save_directory(d, EXPIRY_ACTOR, '')
  decided(d.order_id)
  return true
end

-- claim: the directory record, written after every part is held.
-- Arguments: order_id, items (the whole request's, "S:qty,..."), ttl, customer_id, confirm
-- "0"/"1", partitions ("2" or "0,2,5"), status: "single" (one part, elsewhere), "reserved" (a
-- hold) or "confirmed" (a direct sale: the sale is decided here, the parts follow).
-- Answers JSON {code, message, reservation?, created, replayed}: the same request again replays
-- the directory; another request with this order_id (here, or already in this partition as an
-- order of its own) is idempotency_conflict.
function OPS.claim(a)
  local order, items_text, ttl, customer, confirm, parts, status = a[1], a[2], tonumber(a[3]), a[4],
    a[5], a[6], a[7]
  local d = directory_view(order)
  if d then
    if not same_request(d, items_text, ttl, customer, confirm) then
      return answer('idempotency_conflict', 'order_id ' .. order ..
        ' was used with a different request')
    end
    if d.status ~= 'single' then expire_if_due(d) end
    return answer('ok', 'already reserved', { reservation = public_view(d), replayed = true })
  end
  -- A record here that is not this request's own part is an order of this partition with the
  -- same order_id.
  if redis.call('EXISTS', res_key(order)) == 1 and (status == 'single' or
      redis.call('GET', req_key(order)) ~= request_text(items_text, ttl, customer, confirm)) then
    return answer('idempotency_conflict', 'order_id ' .. order .. ' was used with a different request')
  end
  if maybe_retired(order) then return answer('idempotency_conflict', retired_refusal(order)) end
  d = { order_id = order, status = status, items_text = items_text, customer_id = customer,
    ttl_seconds = ttl, confirm = confirm == '1', expires_at = NOW + ttl * 1000, created_at = NOW,
    updated_at = NOW, parts = parts }
  save_directory(d, ACTOR, '')
  if status == 'confirmed' then decided(order) end
  return answer('ok', status == 'confirmed' and 'sold' or 'reserved',
    { reservation = public_view(d), created = true })
end

-- order: any call by order_id, at the order's home.
-- Arguments: order_id, action ("confirm" | "release" | "return" | "extend" | "read" |
-- "settle"), reason, ttl seconds (extend).
-- With no directory record the order is this partition's own: the call is transition.lua's,
-- extend.lua's or read.lua's (settle: not_found). A "single" directory answers ok with
-- `partitions`, where the call goes next. An order with several parts is decided here, by the
-- same rules (common.lua's next_status and extend_refusal; a hold past its deadline expires
-- first), and the answer carries `partitions` and the reservation, whose status every part must
-- then reach (settle), and `expired` when this call found the hold past its deadline.
function OPS.order(a)
  local order, action, reason = a[1], a[2], a[3]
  local d = directory_view(order)
  if not d then
    -- A part whose order is not claimed (yet, or ever) is no order to act on.
    if redis.call('EXISTS', req_key(order)) == 1 then
      return answer('not_found', 'no reservation ' .. order)
    end
    if action == 'extend' then return OPS.extend({ order, a[4] }) end
    if action == 'read' then return OPS.read({ 'reservation', order }) end
    if action == 'settle' then return answer('not_found', 'no reservation ' .. order) end
    return OPS.transition({ order, action, reason })
  end
  if d.status == 'single' then return answer('ok', 'elsewhere', { partitions = d.parts }) end
  local parts = d.parts
  local expired = expire_if_due(d)
  local function save(actor, why)
    d.updated_at = NOW
    save_directory(d, actor or ACTOR, why or reason)
  end
  local function reply(code, message, replayed)
    return answer(code, message, { reservation = public_view(d), partitions = parts,
      replayed = replayed, expired = expired })
  end
  if action == 'read' or action == 'settle' then return reply('ok', 'ok') end
  if action == 'extend' then
    local code, message = extend_refusal(d.status)
    if code then return reply(code, message) end
    d.expires_at = math.max(d.expires_at, NOW + tonumber(a[4]) * 1000)
    save()
    return reply('ok', 'extended')
  end
  local op, to, message = next_status(d.status, action)
  if op then
    d.status = to
    save()
    decided(order)
    return reply('ok', to, false)
  end
  if to == 'ok' then return reply('ok', message, true) end
  return reply(to, message)
end

-- settle: brings this partition's part of an order to the status its home decided.
-- Arguments: order_id, status ("reserved" with the deadline to index it by, "confirmed",
-- "released", "expired", "returned", or "aborted": a compensation, the hold given back and its
-- record removed, so that the order_id is free again), reason, deadline (ms; "reserved" only),
-- then the order's items, ttl, customer_id and confirm (its request; not for "aborted"): only a
-- part of that very request follows a decision, and it stops waiting to be found at home
-- (`unclaimed`). "aborted" also takes a whole hold of this partition whose claim at home lost,
-- and writes no record to the outbox for either (the order_id is another order's).
-- Answers JSON {code, message, reservation?}: ok with no reservation where "aborted" finds no
-- part (never placed, or given back already); not_found where a decision finds none of its
-- request; invalid_state where the part cannot reach that status.
function OPS.settle(a)
  local order, target, reason = a[1], a[2], a[3]
  local r = reservation_view(order)
  if target ~= 'aborted' then
    local request = request_text(a[5], tonumber(a[6]), a[7], a[8])
    if not r or redis.call('GET', req_key(order)) ~= request then
      return answer('not_found', 'no part of order ' .. order .. ' here')
    end
    defer(function() redis.call('ZREM', UNCLAIMED, order) end)
  end
  if not r then return answer('ok', 'no part here') end
  r.part = redis.call('EXISTS', req_key(order)) == 1
  local function done() return answer('ok', 'settled', { reservation = public_view(r) }) end
  local st = r.status
  if target == 'aborted' then
    if st ~= 'reserved' then
      -- Not a hold any more: nothing to give back, nor to look for again.
      defer(function()
        redis.call('ZREM', UNCLAIMED, order)
        redis.call('ZREM', PARTS, order)
      end)
      return answer('invalid_state', 'part is ' .. st)
    end
    r.quiet = true
    transition(r, 'release', 'released', ACTOR, reason)
    defer(function()
      redis.call('DEL', res_key(order), req_key(order))
      redis.call('ZREM', UNCLAIMED, order)
    end)
    return answer('ok', 'aborted')
  end
  if st == target then
    if target == 'reserved' and r.expires_at ~= tonumber(a[4]) then
      r.expires_at = tonumber(a[4])
      r.updated_at = NOW
      change_reservation('extend', r, ACTOR, '')
      add_deadline(order, r.expires_at, r.part)
    end
    return done()
  end
  if st == 'reserved' and target == 'expired' then
    transition(r, 'expire', 'expired', EXPIRY_ACTOR, '')
    return done()
  end
  if st == 'reserved' and (target == 'confirmed' or target == 'returned') then
    transition(r, 'confirm', 'confirmed', ACTOR, reason)
    st = 'confirmed'
  end
  if st == 'confirmed' and target == 'returned' then
    transition(r, 'return', 'returned', ACTOR, reason)
    return done()
  end
  if st == 'reserved' and target == 'released' then
    transition(r, 'release', 'released', ACTOR, reason)
    return done()
  end
  if r.status == target then return done() end
  return answer('invalid_state', 'part is ' .. r.status .. ', cannot become ' .. target)
end

-- settled: every part of the order has the status its home decided (the origin or the sweeper
-- says so once they all answered). Arguments: order_id, that status. Answers JSON {code, message}.
function OPS.settled(a)
  local order, status = a[1], a[2]
  local d = directory_view(order)
  -- Only the decision the parts followed: a later one waits for its own acknowledgement.
  if d and d.status == status then
    defer(function() redis.call('ZREM', UNSETTLED, order) end)
  end
  return answer('ok', 'settled')
end

-- forget: retention of a directory that only says where an order's one part lies (status
-- "single"), once that part's record has left its partition (retire.lua). Arguments: order_id,
-- the part's partition. Answers JSON {code, message}; a directory of another kind, or pointing
-- elsewhere, stays.
function OPS.forget(a)
  local order, partition = a[1], a[2]
  local d = directory_view(order)
  if d and d.status == 'single' and d.parts == partition then
    defer(function()
      redis.call('DEL', ord_key(order))
      remember_retired({ order })  -- its home is where a reuse of the order_id is checked
    end)
    return answer('ok', 'forgotten')
  end
  return answer('ok', 'kept')
end

-- The oldest entries of an index (at least `age` ms old), moved to the back (scored NOW): one
-- that keeps failing does not hold up the others.
local function oldest(index, age, count)
  local due = redis.call('ZRANGEBYSCORE', index, '-inf', NOW - age, 'LIMIT', 0, count)
  local now = NOW
  defer(function()
    for _, order in ipairs(due) do redis.call('ZADD', index, 'XX', now, order) end
  end)
  return due
end

-- due_unsettled: orders decided here at least `age` ms ago whose parts were not all told.
-- Arguments: age ms, how many at most. Answers JSON {code, message, list: "order_id,..."}.
function OPS.due_unsettled(a)
  local due = oldest(UNSETTLED, tonumber(a[1]), tonumber(a[2]))
  return answer('ok', 'ok', { list = table.concat(due, ',') })
end

-- unclaimed: parts placed here at least `age` ms ago whose order the sweeper has not yet found
-- at home. Arguments: age ms, how many at most. Answers JSON {code, message, list: "order_id,..."}.
function OPS.unclaimed(a)
  local due = oldest(UNCLAIMED, tonumber(a[1]), tonumber(a[2]))
  return answer('ok', 'ok', { list = table.concat(due, ',') })
end

-- due_parts: the parts here whose deadline has passed, for the sweeper to settle.
-- Argument: how many at most. Answers JSON {code, message, list: "deadline:order_id,..."}.
function OPS.due_parts(a)
  local due = redis.call('ZRANGEBYSCORE', PARTS, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0,
    tonumber(a[1]))
  local out = {}
  for i = 1, #due, 2 do out[#out + 1] = due[i + 1] .. ':' .. due[i] end
  return answer('ok', 'ok', { list = table.concat(out, ',') })
end
