-- wrk script: POST /v1/reservations of one unit of a SKU, each under an order_id never used
-- before, with a bearer token from STOCKGATE_BENCH_TOKEN. At the end it prints one JSON line,
-- {"statuses":{"201":N,...},"requests":N}, counted over every thread, after wrk's own report.
--   STOCKGATE_BENCH_TOKEN=$(stockgate-origin token --role service --sub bench --ttl 3600) \
--     wrk -t2 -c256 -d10s -s bench/wrk/reserve.lua http://127.0.0.1:8080 -- PREFIX SKU
-- PREFIX makes the order ids of a run unique (default "wrk"); SKU defaults to 1; "A-B" picks a SKU
-- at random from A..B for each request (a sale of many SKUs).
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  prefix = (args[1] or "wrk") .. "-" .. id .. "-"
  sku = args[2] or "1"
  low, high = string.match(sku, "^(%d+)-(%d+)$")
  if low then
    low, high = tonumber(low), tonumber(high)
    math.randomseed(os.time() * 100 + id)
  end
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. (os.getenv("STOCKGATE_BENCH_TOKEN") or ""),
  }
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local pick = low and tostring(math.random(low, high)) or sku
  local body = '{"order_id":"' .. prefix .. counter .. '","items":[{"sku":' .. pick ..
    ',"qty":1}],"ttl_seconds":86400}'
  return wrk.format("POST", "/v1/reservations", headers, body)
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do parts[#parts + 1] = '"' .. status .. '":' .. n end
  io.write('{"statuses":{' .. table.concat(parts, ",") .. '},"requests":' ..
    summary.requests .. '}\n')
end
