-- expire.lua: the sweeper. Every operation first expires every hold past its deadline (units
-- back to available, one expire event per item), so expiry is exact whether or not this one
-- runs; it only keeps idle SKUs' numbers fresh. Safe to run from many processes.
-- No arguments; batch.lua has expired what was due already, and says how many in `expired`.
-- Answers JSON {code, message, expired}.
function OPS.expire(_, expired)
  return answer('ok', 'expired ' .. n(expired), { expired = expired })
end
