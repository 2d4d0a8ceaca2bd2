-- batch.lua: the driver, the last part of stockgate.lua. Runs the operations of one batch in the
-- order given, each as a transaction of its own (see atomically in common.lua), then writes what
-- they changed (flush). Every operation but audit, compensate, restore(d), retire, forget and drop
-- first expires the holds due at its own NOW, so each answers exactly as if it had run alone at its
-- time.
-- KEYS[1] the partition's key prefix (see common.lua). ARGV[1] the partition's cluster slot, or
-- "" on a Redis that is not a cluster; ARGV[2] the partition's block of stream ids, "high:bits"
-- ("" in a store of one partition; see ID_BLOCK in common.lua); ARGV[3] the number of
-- operations, then for each: its name, now (ms since the epoch), actor, the number of its
-- arguments, and the arguments.
-- Returns an array of the operations' answers, in order. An operation that fails (an invariant
-- broken by tampered data, an unknown name) answers JSON {code: "unavailable", message} and leaves
-- nothing behind; the others are not affected.
--
-- A slot being moved between cluster nodes is split between them until the move ends: the keys
-- already moved are on the target, the others on the source, and a script on either node would
-- see half a partition (the source refuses a missing key, the target takes it for an empty one).
-- So while this node's slot is migrating or importing, every operation answers unavailable (503,
-- retried with the same key) and nothing is read or written.
local SLOT = ARGV[1]
local function slot_moving()
  if SLOT == '' then return false end
  local mine = string.match(redis.call('CLUSTER', 'NODES'), '[^\n]*myself[^\n]*') or ''
  return string.find(mine, '[' .. SLOT .. '->-', 1, true) ~= nil or
    string.find(mine, '[' .. SLOT .. '-<-', 1, true) ~= nil
end
if slot_moving() then
  local refused = {}
  for k = 1, tonumber(ARGV[3]) do
    refused[k] = answer('unavailable', 'cluster slot ' .. SLOT .. ' is being moved; retry')
  end
  return refused
end
if ARGV[2] ~= '' then
  local high, bits = string.match(ARGV[2], '^(%d+):(%d+)$')
  ID_BLOCK = { high = tonumber(high), bits = tonumber(bits) }
end
local UNEXPIRED = { audit = true, compensate = true, restore = true, restored = true,
  retire = true, forget = true, drop = true }
local answers = {}
local i = 4
for k = 1, tonumber(ARGV[3]) do
  local name, argc = ARGV[i], tonumber(ARGV[i + 3])
  NOW, ACTOR = tonumber(ARGV[i + 1]), ARGV[i + 2]
  local args = {}
  for j = 1, argc do args[j] = ARGV[i + 3 + j] end
  i = i + 4 + argc
  local op = OPS[name]
  local expired, err = 0, nil
  if not op then
    err = 'stockgate: unknown operation ' .. tostring(name)
  elseif not UNEXPIRED[name] then
    expired, err = expire_due()
  end
  if not err then answers[k], err = atomically(op, args, expired) end
  if err then answers[k] = answer('unavailable', err) end
end
flush()
return answers
