-- wrk script of scripts/bench/serve.sh: GET /v1/top-sellers/{category}
-- spread uniformly over HOT categories c000000000001 … (the same keys
-- redis-benchmark's __rand_int__ draws), then one JSON line of results.
local hot = tonumber(os.getenv("HOT") or "1000")
local limit = os.getenv("LIMIT") or ""
-- USER_IDS=N: every request carries ?user=u<id>, id uniform in 0 … N−1
-- (serve's A/B assignment on every request).
local users = tonumber(os.getenv("USER_IDS") or "") or 0

request = function()
  local path = string.format("/v1/top-sellers/c%012d", math.random(0, hot - 1))
  local query = {}
  if limit ~= "" then
    query[#query + 1] = "limit=" .. limit
  end
  if users > 0 then
    query[#query + 1] = string.format("user=u%d", math.random(0, users - 1))
  end
  if #query > 0 then
    path = path .. "?" .. table.concat(query, "&")
  end
  return wrk.format("GET", path)
end

local statuses = {}

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.3f, "rps": %.0f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, errors, summary.errors.status))
end
