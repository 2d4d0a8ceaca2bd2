-- common.lua: the first part of the one stockgate script, stockgate.lua, which CMake assembles
-- from common.lua, one file per operation and batch.lua (the driver) and the binaries embed.
-- Every API call is an operation of a batch: the origin sends whatever requests are in flight
-- together as one EVALSHA (group commit: one round trip, one script start and one AOF write for
-- all of them). This part fixes the key layout, the outbox format and the rules every operation
-- applies: holds past their deadline are expired before anything is read or decided, and every
-- change of a SKU's counters is a ledger event carried by the outbox entry written with it (DESIGN
-- invariant 3).
--
-- KEYS[1] is P, the prefix of every key the script touches: the store's key prefix and the
-- partition's hash tag, "sg:{p0}" (origin/store/keyspace.h builds it). All keys of a partition
-- therefore sit in one Redis Cluster slot, and the script runs on the one node serving it.
-- ARGV: the operations (see batch.lua). NOW (ms since the epoch, the caller's clock) and ACTOR
-- are those of the operation running. Each operation file adds its function to OPS; its header
-- documents its arguments and its answer.
--
-- Keys (S = sku as decimal text, O = order_id). The C++ side builds the names it reads directly
-- (ledger, records, counters) in origin/store/keyspace.h; the store's tests read what the scripts
-- wrote through those, so the two cannot drift apart.
--   P:stock:S     hash    on_hand reserved sold version limit updated_at low (the low-stock
--                         threshold; absent in data from before it existed: 0)
--   P:adj:S       hash    request_id -> delta            (adjustment idempotency, per SKU)
--   P:cust:S      hash    customer_id -> units held in live holds and confirmed orders
--   P:res:O       string  "status|items|customer|ttl|confirm|expires_at|created_at|updated_at"
--                         (items: "S:qty,S:qty" in request order; no field can hold a '|').
--                         One string, written whole: a hash of eight fields cost about four
--                         times as much to create.
--   P:deadlines   zset    order_id of every live hold, scored by expires_at (ms)
--   P:parts       zset    order_id of every live hold that is one part of an order spanning
--                         partitions, scored by expires_at: the expiry here leaves these alone,
--                         for only the order's home partition may decide its fate (see below)
--   P:unclaimed   zset    order_id of every part placed here, by the time it was placed, until the
--                         sweeper has found its order's directory at home (or given it back)
--   P:unsettled   zset    order_id of every order decided here (its directory) whose parts have
--                         not all been told yet, by the time of the decision (directory.lua)
--   P:req:O       string  beside a part's record (P:res:O): the whole request it is a part of,
--                         "items|ttl|customer|confirm"; it marks the record as a part
--   P:ord:O       string  the directory record of an order whose items are not all in its home
--                         partition (the partition its order_id hashes to, keyspace.h), kept
--                         there: the record's eight fields, then "|" and the partitions holding
--                         its items ("2" or "0,2,5"). With one part elsewhere, status is
--                         "single": that part's record is the truth and the directory only says
--                         where it is. With several, the directory holds the order's status and
--                         decides every transition; the parts follow (directory.lua).
--   P:ledger      stream  the outbox the sync worker drains into MariaDB: one entry per change,
--                         its field `change` naming the kind:
--     order   ops order actor reason time record after
--             A reservation changed; record is its whole record after the change, as P:res:O
--             holds it. ops: the ledger ops applied to every item, in order: "reserve" (a hold),
--             "reserve,confirm" (a direct sale), "confirm", "release", "expire", "return", or
--             "" (extend: no event); one event per op per item, items in item order. after: per
--             item, "on_hand:reserved:sold:version" of the SKU after the change ("" when no op).
--     stock   op sku ref qty events actor reason time limit low after
--             PUT (op set) or an adjustment (op adjust) of one SKU; qty is the signed change of
--             on_hand, events is 1 or (a set that only changed options) 0, after is the SKU's
--             "on_hand:reserved:sold:version" after it, limit its per-customer limit, low its
--             low-stock threshold.
--     repair  sku ref ops actor reason time available version
--             Compensating events from `stockgate-sync repair` ("op:qty,op:qty"): they explain a
--             drift and move no counter (before = after = available); version is the SKU's
--             after the last of them.
--   An entry carrying k > 1 events owns the k stream ids from its own on: the script moves
--   the stream's last id (XSETID) past them, so event i has id <ms>-<seq+i>, unique and ordered
--   like the changes. Sync derives each event's before/after and version from `after` and the
--   replay rules (origin/store/outbox.cc). In a store of several partitions the ids are chosen
--   here (ID_BLOCK, from batch.lua): the high bits of each partition's sequence numbers are its
--   own, so that event ids are unique across all the partitions' streams (and the history's
--   event_id with them), and ordered within each.
--   An `order` entry of a part of an order spanning partitions has the field `part` = 1: its
--   events count, but its record is only the part's; the order's record is in the entries of
--   its directory at home (directory.lua), whose `ops` are always "" (no event).
--   P:finished    zset    order_id of every record here (a reservation's, or an order's
--                         directory) that reached a final state (confirmed, released, expired,
--                         returned), by the time it last changed: what retention removes once it
--                         is old enough and in the history (retire.lua). Parts are not in it:
--                         they leave when their order's directory does.
--   P:retired     hash    gen (0|1: the generation taking new ids), n (ids in it): the order_ids
--                         retention removed, remembered so that a request reusing one is refused
--   P:retired:0|1 string  the two generations of that Bloom filter (see maybe_retired)
--   P:snapver     string  snapshot version: +1 per SKU changed by a script
--   P:changes     zset    sku -> snapshot version of its last change; also the index of all SKUs
--
-- Counters of the SKUs a batch touches are read once into `touched`, changed there, and written
-- back once, with the outbox entries, by flush() at the end of the batch: one HMGET and one HSET
-- per SKU whatever the number of operations and events. Each operation is a transaction of its
-- own within the batch: its other writes are deferred until it succeeds, and an operation that
-- raises an error (an invariant broken by tampered data) leaves nothing behind, in Redis or in
-- the batch's pending writes; the other operations go on.
--
-- Numbers: SKUs stay decimal strings end to end (up to 2^53-1, beyond Lua's %.14g tostring);
-- counters, quantities and times fit below 1e14 and are written with %d.

local P = KEYS[1]
-- nil in a store of one partition, where Redis picks the stream ids; else { high = the first
-- sequence number of this partition's block, bits = how many low bits are its own }.
local ID_BLOCK = nil  -- set by batch.lua
local NOW = 0      -- set by batch.lua for each operation
local ACTOR = ''
local EXPIRY_ACTOR = 'expiry'
local OPS = {}     -- name -> function(args): one per operation file

local function n(x) return string.format('%d', x) end
local function stock_key(sku) return P .. ':stock:' .. sku end
local function adj_key(sku) return P .. ':adj:' .. sku end
local function cust_key(sku) return P .. ':cust:' .. sku end
local function res_key(order) return P .. ':res:' .. order end
local function ord_key(order) return P .. ':ord:' .. order end
local function req_key(order) return P .. ':req:' .. order end
local DEADLINES = P .. ':deadlines'
local PARTS = P .. ':parts'
local UNCLAIMED = P .. ':unclaimed'
local LEDGER = P .. ':ledger'
local SNAPVER = P .. ':snapver'
local FINISHED = P .. ':finished'
-- The statuses a record may leave Redis in, after its retention (retire.lua).
local FINAL = { confirmed = true, released = true, expired = true, returned = true }

-- The order_ids retention removed (retire.lua), in a Bloom filter of two generations of
-- RETIRED_BITS bits (16 MiB each, made when retention first removes something): a request that
-- reuses one is refused as idempotency_conflict instead of starting a second order. Every id of
-- the current and the previous generation is found (a generation takes RETIRED_CAPACITY ids, so
-- the last 4 to 8 million retired here are); a new id is taken for a retired one with a
-- probability below 1e-5 per generation at capacity (7 hashes; 4e-5 at worst, both generations
-- full, looked up in two partitions), and is refused like one.
local RETIRED = P .. ':retired'
local RETIRED_BITS = 134217728
local RETIRED_CAPACITY = 4000000
local RETIRED_HASHES = 7
local retired_on = nil  -- per script run: whether retention has removed anything here yet

local function retired_positions(order)
  local h = redis.sha1hex(order)
  local h1, h2 = tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
  local positions = {}
  for i = 0, RETIRED_HASHES - 1 do positions[i + 1] = (h1 + i * h2) % RETIRED_BITS end
  return positions
end

-- Whether `order` may be an order_id retention removed (no: certainly not).
local function maybe_retired(order)
  if retired_on == nil then retired_on = redis.call('EXISTS', RETIRED) == 1 end
  if not retired_on then return false end
  local positions = retired_positions(order)
  for gen = 0, 1 do
    local key = RETIRED .. ':' .. gen
    local all = true
    for _, bit in ipairs(positions) do
      if redis.call('GETBIT', key, bit) == 0 then
        all = false
        break
      end
    end
    if all then return true end
  end
  return false
end

-- Remembers order_ids retention removed; a full generation makes the older one the new one,
-- emptied first.
local function remember_retired(orders)
  if #orders == 0 then return end
  local meta = redis.call('HMGET', RETIRED, 'gen', 'n')
  local gen, count = tonumber(meta[1] or '0'), tonumber(meta[2] or '0')
  for _, order in ipairs(orders) do
    if count >= RETIRED_CAPACITY then
      gen, count = 1 - gen, 0
      redis.call('DEL', RETIRED .. ':' .. gen)
    end
    for _, bit in ipairs(retired_positions(order)) do
      redis.call('SETBIT', RETIRED .. ':' .. gen, bit, 1)
    end
    count = count + 1
  end
  redis.call('HSET', RETIRED, 'gen', gen, 'n', count)
  retired_on = true
end

local function retired_refusal(order)
  return 'order_id ' .. order .. ' belongs to an order that finished and left Redis ' ..
    '(retention): use a new order_id'
end
local CHANGES = P .. ':changes'

-- "S:q,S:q" -> { {sku = 'S', qty = q}, ... }
local function parse_items(text)
  local items = {}
  for sku, qty in string.gmatch(text, '([^:,]+):([^,]+)') do
    items[#items + 1] = { sku = sku, qty = tonumber(qty) }
  end
  return items
end

local touched = {}   -- sku -> counters as read, then as changed by this batch
local dirty = {}     -- skus whose counters changed, in the order of their first change
local pending = {}   -- outbox entries (field lists) to append, in order, with their event counts

-- The running operation's undo log and deferred writes.
local saved = {}     -- sku -> its counters before the operation changed them; false: created
local deferred = {}  -- functions doing the operation's Redis writes, run when it succeeds
local dirty_mark, pending_mark = 0, 0
local next_due = nil -- the earliest deadline of a live hold (ms), math.huge for none; nil: unread

local function defer(fn) deferred[#deferred + 1] = fn end

-- Records a record of `order` as finished at NOW (deferred with the change that finished it).
local function finished(order)
  local now = NOW
  defer(function() redis.call('ZADD', FINISHED, now, order) end)
end

local function begin()
  saved, deferred = {}, {}
  dirty_mark, pending_mark = #dirty, #pending
end

local function commit()
  for _, fn in ipairs(deferred) do fn() end
  saved, deferred = {}, {}
end

local function rollback()
  for sku, copy in pairs(saved) do
    if copy then
      local s = touched[sku]
      for k, v in pairs(copy) do s[k] = v end
      s.dirty = copy.dirty
    else
      touched[sku] = nil
    end
  end
  for i = #dirty, dirty_mark + 1, -1 do dirty[i] = nil end
  for i = #pending, pending_mark + 1, -1 do pending[i] = nil end
  saved, deferred = {}, {}
  next_due = nil
end

-- Runs fn(...) as a transaction; its value, or nil and the error.
-- A deferred write that fails (a key of the wrong type: tampered data) fails the operation too;
-- the writes it deferred before that one are done and stay, as in a Redis script alone.
local function atomically(fn, ...)
  begin()
  local ok, value = pcall(function(...)
    local v = fn(...)
    commit()
    return v
  end, ...)
  if ok then return value end
  rollback()
  -- redis.call raises a table {err = message}; Lua's own errors are strings.
  return nil, type(value) == 'table' and tostring(value.err) or tostring(value)
end

-- Counters of a SKU, or nil when it was never set.
local function read_stock(sku)
  local s = touched[sku]
  if s then return s end
  local r = redis.call('HMGET', stock_key(sku), 'on_hand', 'reserved', 'sold', 'version', 'limit',
    'updated_at', 'low')
  if not r[1] then return nil end
  s = { on_hand = tonumber(r[1]), reserved = tonumber(r[2]), sold = tonumber(r[3]),
    version = tonumber(r[4]), limit = tonumber(r[5]), updated_at = tonumber(r[6]),
    low = tonumber(r[7] or '0') }
  touched[sku] = s
  return s
end

-- A SKU this operation creates (set.lua), counters at zero.
local function new_stock(sku, limit, low)
  local s = { on_hand = 0, reserved = 0, sold = 0, version = 0, limit = limit, updated_at = NOW,
    low = low }
  touched[sku] = s
  if saved[sku] == nil then saved[sku] = false end
  return s
end

-- Keeps the SKU's counters as they were before the running operation first changes them.
local function save(sku, s)
  if saved[sku] == nil then
    saved[sku] = { on_hand = s.on_hand, reserved = s.reserved, sold = s.sold, version = s.version,
      limit = s.limit, updated_at = s.updated_at, low = s.low, dirty = s.dirty }
  end
end

local function changed(sku, s)
  save(sku, s)
  if not s.dirty then
    s.dirty = true
    dirty[#dirty + 1] = sku
  end
  s.version = s.version + 1
  -- Never back in time: callers' clocks differ (origins, an operator's repair), and the history
  -- keeps the latest time too (GREATEST in sync's inventory upsert).
  if NOW > s.updated_at then s.updated_at = NOW end
end

local function stock_view(sku)
  local s = read_stock(sku)
  return { sku = sku, on_hand = s.on_hand, reserved = s.reserved, available = s.on_hand - s.reserved,
    sold = s.sold, version = s.version, per_customer_limit = s.limit, updated_at = s.updated_at,
    low_stock_threshold = s.low }
end

local function counters_text(s)
  return string.format('%d:%d:%d:%d', s.on_hand, s.reserved, s.sold, s.version)
end

-- One ledger event on a SKU's counters, by the replay rules (the same as the core's). Callers
-- have checked every precondition; a violation here means a bug or tampered data, and the
-- operation fails, undone (see atomically).
local function apply(sku, op, qty)
  local s = read_stock(sku)
  save(sku, s)
  if op == 'set' or op == 'adjust' then
    s.on_hand = s.on_hand + qty
  elseif op == 'reserve' then
    s.reserved = s.reserved + qty
  elseif op == 'confirm' then
    s.reserved = s.reserved - qty; s.on_hand = s.on_hand - qty; s.sold = s.sold + qty
  elseif op == 'release' or op == 'expire' then
    s.reserved = s.reserved - qty
  elseif op == 'return' then
    s.on_hand = s.on_hand + qty; s.sold = s.sold - qty
  else
    error('stockgate: unknown ledger op ' .. op)
  end
  if s.reserved < 0 or s.reserved > s.on_hand or s.sold < 0 then
    error('stockgate: invariant broken by ' .. op .. ' of sku ' .. sku)
  end
  changed(sku, s)
end

-- The ledger ops of each reservation change, applied per op to every item, and as the entry
-- writes them.
local ORDER_OPS = { reserve = { 'reserve' }, sell = { 'reserve', 'confirm' },
  confirm = { 'confirm' }, release = { 'release' }, expire = { 'expire' }, ['return'] = { 'return' },
  extend = {} }
local ORDER_OPS_TEXT = { reserve = 'reserve', sell = 'reserve,confirm', confirm = 'confirm',
  release = 'release', expire = 'expire', ['return'] = 'return', extend = '' }

-- A reservation's record as stored and as its outbox entry carries it (see the key layout).
local function record_text(status, items, customer, ttl, confirm, expires_at, created_at, updated_at)
  return string.format('%s|%s|%s|%d|%s|%d|%d|%d', status, items, customer, ttl,
    confirm and '1' or '0', expires_at, created_at, updated_at)
end

-- A reservation changed by `op`: applies its events, writes its record (deferred, see defer) and
-- its outbox entry with the items' counters after the events. `r` is the reservation after the
-- change, as reservation_view returns one.
local function change_reservation(op, r, actor, reason)
  local ops = ORDER_OPS[op]
  for _, ledger_op in ipairs(ops) do
    for _, it in ipairs(r.items) do apply(it.sku, ledger_op, it.qty) end
  end
  local after = {}
  if #ops > 0 then
    for i, it in ipairs(r.items) do after[i] = counters_text(touched[it.sku]) end
  end
  local record = record_text(r.status, r.items_text, r.customer_id, r.ttl_seconds, r.confirm,
    r.expires_at, r.created_at, r.updated_at)
  local key = res_key(r.order_id)
  defer(function() redis.call('SET', key, record) end)
  -- A part leaves with its order's directory (retire.lua's drop), and a hold given back before
  -- it became an order (quiet) leaves at once: neither is indexed.
  if FINAL[r.status] and not r.part and not r.quiet then finished(r.order_id) end
  local fields = { 'change', 'order', 'ops', ORDER_OPS_TEXT[op], 'order', r.order_id, 'actor',
    actor, 'reason', reason, 'time', NOW, 'record', record, 'after', table.concat(after, ',') }
  if r.part or r.quiet then
    fields[#fields + 1] = 'part'
    fields[#fields + 1] = '1'
  end
  pending[#pending + 1] = { events = #ops * #r.items, fields = fields }
end

-- The outbox entry of a set or an adjustment; `qty` is the change of on_hand, applied here when
-- `events` is 1. A set that changes only options still bumps the version.
local function stock_change(op, sku, ref, qty, events, reason)
  local s = read_stock(sku)
  if events == 1 then
    apply(sku, op, qty)
  else
    changed(sku, s)
  end
  pending[#pending + 1] = { events = events, fields = { 'change', 'stock', 'op', op, 'sku', sku,
    'ref', ref, 'qty', n(qty), 'events', n(events), 'actor', ACTOR, 'reason', reason, 'time', n(NOW),
    'limit', n(s.limit), 'low', n(s.low), 'after', counters_text(s) } }
end

-- The outbox entry of compensating events: ops is { {op, qty}, ... }; no counter moves.
local function repair_change(sku, ref, ops, reason)
  local s = read_stock(sku)
  local text = {}
  for i, o in ipairs(ops) do
    text[i] = o[1] .. ':' .. o[2]
    if s then changed(sku, s) end
  end
  local available = s and s.on_hand - s.reserved or 0
  pending[#pending + 1] = { events = #ops, fields = { 'change', 'repair', 'sku', sku, 'ref', ref,
    'ops', table.concat(text, ','), 'actor', ACTOR, 'reason', reason, 'time', n(NOW), 'available',
    n(available), 'version', n(s and s.version or 0) } }
end

-- Writes what the batch changed so far: each touched SKU's counters (one HSET), the snapshot
-- version and change index, and the outbox entries with their event ids. Called between
-- operations (snapshot.lua, batch.lua), never inside one.
local function flush()
  if #dirty > 0 then
    local v = redis.call('INCRBY', SNAPVER, #dirty) - #dirty
    local zadd = { 'ZADD', CHANGES }
    for i, sku in ipairs(dirty) do
      local s = touched[sku]
      redis.call('HSET', stock_key(sku), 'on_hand', n(s.on_hand), 'reserved', n(s.reserved), 'sold',
        n(s.sold), 'version', n(s.version), 'limit', n(s.limit), 'updated_at', n(s.updated_at),
        'low', n(s.low))
      s.dirty = nil
      zadd[#zadd + 1] = n(v + i)
      zadd[#zadd + 1] = sku
      -- unpack() takes a few thousand values at most: a batch may touch tens of thousands of SKUs.
      if #zadd >= 1002 or i == #dirty then
        redis.call(unpack(zadd))
        zadd = { 'ZADD', CHANGES }
      end
    end
    dirty = {}
  end
  if #pending == 0 then return end
  if not ID_BLOCK then
    for _, entry in ipairs(pending) do
      local id = redis.call('XADD', LEDGER, '*', unpack(entry.fields))
      if entry.events > 1 then
        local ms, seq = string.match(id, '^(%d+)-(%d+)$')
        redis.call('XSETID', LEDGER, ms .. '-' .. n(tonumber(seq) + entry.events - 1))
      end
    end
    pending = {}
    return
  end
  -- Ids of this partition's block: <ms>-<high + k>, after the stream's last id, k + events
  -- within the block (else the next millisecond).
  local last_ms, last_seq = 0, -1
  if redis.call('EXISTS', LEDGER) == 1 then
    local info = redis.call('XINFO', 'STREAM', LEDGER)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then
        local ms, seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
        last_ms, last_seq = tonumber(ms), tonumber(seq)
      end
    end
  end
  local time = redis.call('TIME')
  local ms = math.max(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), last_ms)
  local size = 2 ^ ID_BLOCK.bits
  for _, entry in ipairs(pending) do
    local k = 0
    if ms == last_ms then k = math.max(0, last_seq + 1 - ID_BLOCK.high) end
    if k + math.max(entry.events, 1) > size then
      ms, k = ms + 1, 0
    end
    local seq = ID_BLOCK.high + k
    redis.call('XADD', LEDGER, n(ms) .. '-' .. n(seq), unpack(entry.fields))
    last_ms, last_seq = ms, seq + math.max(entry.events, 1) - 1
    if last_seq > seq then redis.call('XSETID', LEDGER, n(ms) .. '-' .. n(last_seq)) end
  end
  pending = {}
end

-- Moves units of a customer in or out of the per-customer count (sign +1 / -1).
local function count_for_customer(customer, items, sign)
  if customer == '' then return end
  defer(function()
    for _, it in ipairs(items) do
      local units = redis.call('HINCRBY', cust_key(it.sku), customer, sign * it.qty)
      if units == 0 then redis.call('HDEL', cust_key(it.sku), customer) end
    end
  end)
end

-- A live hold's deadline (the index is written when the operation succeeds). A part of an order
-- spanning partitions goes to P:parts, out of the expiry's sight.
local function add_deadline(order, at, part)
  if part then
    defer(function() redis.call('ZADD', PARTS, at, order) end)
    return
  end
  defer(function() redis.call('ZADD', DEADLINES, at, order) end)
  if next_due and at < next_due then next_due = at end
end

-- A reservation from its eight record fields, or nil.
local function view_of(order, f)
  if not f[1] then return nil end
  return { order_id = order, status = f[1], items = parse_items(f[2]), items_text = f[2],
    customer_id = f[3], ttl_seconds = tonumber(f[4]), confirm = f[5] == '1',
    expires_at = tonumber(f[6]), created_at = tonumber(f[7]), updated_at = tonumber(f[8]),
    parts = f[9] }
end

local RECORD_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)'

local function reservation_view(order)
  local text = redis.call('GET', res_key(order))
  if not text then return nil end
  return view_of(order, { string.match(text, RECORD_PATTERN .. '$') })
end

-- An order's directory record (P:ord:O), or nil: a reservation view with `parts`.
local function directory_view(order)
  local text = redis.call('GET', ord_key(order))
  if not text then return nil end
  return view_of(order, { string.match(text, RECORD_PATTERN .. '|([^|]*)$') })
end

-- A request as its idempotency compares it: items, ttl, customer, confirm.
local function request_text(items_text, ttl, customer, confirm)
  return string.format('%s|%d|%s|%s', items_text, ttl, customer, confirm)
end

-- Whether reservation (or directory) `r` was made by this request: the same order_id with another
-- request is idempotency_conflict (reserve.lua, directory.lua).
local function same_request(r, items_text, ttl, customer, confirm)
  return r.items_text == items_text and r.ttl_seconds == ttl and r.customer_id == customer and
    (r.confirm and '1' or '0') == confirm
end

-- The reservation state machine (the reference model's): what `action` (confirm, release or
-- return) does to a reservation in `status` that is not past its deadline. Returns the change to
-- make and the status it leads to; or nil, the answer code ("ok": a replay) and its message.
-- transition.lua applies it to a reservation's record, directory.lua to an order's directory.
local function next_status(status, action)
  if action == 'confirm' then
    if status == 'reserved' then return 'confirm', 'confirmed' end
    if status == 'confirmed' or status == 'returned' then return nil, 'ok', 'already confirmed' end
    if status == 'released' then return nil, 'invalid_state', 'reservation was released' end
    return nil, 'reservation_expired', 'reservation expired'
  elseif action == 'release' then
    if status == 'reserved' then return 'release', 'released' end
    if status == 'released' then return nil, 'ok', 'already released' end
    if status == 'expired' then return nil, 'ok', 'already expired' end
    return nil, 'invalid_state', 'reservation is ' .. status .. '; use return'
  elseif action == 'return' then
    if status == 'confirmed' then return 'return', 'returned' end
    if status == 'returned' then return nil, 'ok', 'already returned' end
    return nil, 'invalid_state', 'only confirmed reservations can be returned; this one is ' ..
      status
  end
  error('stockgate: unknown transition ' .. tostring(action))
end

-- What extend does to a reservation in `status`: nil when it may be extended, else the answer
-- code and message.
local function extend_refusal(status)
  if status == 'expired' then return 'reservation_expired', 'reservation expired' end
  if status ~= 'reserved' then return 'invalid_state', 'reservation is ' .. status end
  return nil
end


-- The reservation in an answer: "order_id|" and its record (the layout of P:res:O), one string
-- the origin splits, cheaper on both sides than a JSON object with an array of items.
local function public_view(r)
  return r.order_id .. '|' .. record_text(r.status, r.items_text, r.customer_id, r.ttl_seconds,
    r.confirm, r.expires_at, r.created_at, r.updated_at)
end

-- Moves a reservation to status `to` through change `op`: its events, its record, the deadline
-- index (live holds only) and the per-customer count (released, expired and returned units stop
-- counting).
local function transition(r, op, to, actor, reason)
  local from = r.status
  r.status = to
  r.updated_at = NOW
  change_reservation(op, r, actor, reason)
  -- expire_due takes its holds off the index all at once.
  if from == 'reserved' and (op ~= 'expire' or r.part) then
    local index = r.part and PARTS or DEADLINES
    defer(function() redis.call('ZREM', index, r.order_id) end)
  end
  local counts = { reserved = true, confirmed = true }
  if counts[from] and not counts[to] then count_for_customer(r.customer_id, r.items, -1) end
end

-- Expires every live hold whose deadline has passed, oldest deadline first (ties by order_id,
-- as ZRANGEBYSCORE orders them), so that no decision below ever sees expired units as held. The
-- earliest deadline is read once per batch; until NOW reaches it this costs no Redis call.
local function expire_due_now()
  if next_due == nil then
    local first = redis.call('ZRANGE', DEADLINES, 0, 0, 'WITHSCORES')
    next_due = first[2] and tonumber(first[2]) or math.huge
  end
  if NOW < next_due then return 0 end
  local due = redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', NOW)
  for _, order in ipairs(due) do
    -- A hold whose record is gone (tampered data) is only taken off the index.
    local r = reservation_view(order)
    if r then transition(r, 'expire', 'expired', EXPIRY_ACTOR, '') end
  end
  local now = NOW
  defer(function() redis.call('ZREMRANGEBYSCORE', DEADLINES, '-inf', now) end)
  next_due = nil
  return #due
end

-- expire_due_now as a transaction of its own: how many expired, or nil and the error.
local function expire_due() return atomically(expire_due_now) end

-- An operation's JSON answer.
local function answer(code, message, extra)
  local out = extra or {}
  out.code = code
  out.message = message
  return cjson.encode(out)
end
