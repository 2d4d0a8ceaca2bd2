-- expire.lua: the sweeper. Expires every hold past its deadline (units back to available, one
-- expire event per item). Every other script does the same first, so expiry is exact whether or
-- not this one runs; it only keeps idle SKUs' numbers fresh. Safe to run from many processes.
-- No script arguments. Returns JSON {code, message, expired}.
local expired = expire_due()
return result('ok', 'expired ' .. n(expired), { expired = expired })
