-- wrk script of bench/authenticate.py: POST JSON requests and report in lines it parses.
--
-- BENCH_PATH, BENCH_BODY, BENCH_TOKEN (a bearer, if set): the request.
-- BENCH_MIX_PATH, BENCH_MIX_BODY, BENCH_MIX_PERCENT: a second request, sent instead of the
-- first on that share of requests (exactly: every thread keeps a running total).
-- done() prints "bench <name> <values>" lines: counts, latency percentiles in microseconds,
-- and the 200 answers that were business errors (an envelope starting with {"error":).

local threads = {}

local function post(path, body, token)
  local headers = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  return wrk.format("POST", path, headers, body)
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  business_errors = 0
  main_request = post(os.getenv("BENCH_PATH"), os.getenv("BENCH_BODY") or "{}",
    os.getenv("BENCH_TOKEN"))
  mix_percent = tonumber(os.getenv("BENCH_MIX_PERCENT") or "0")
  if mix_percent > 0 then
    mix_request = post(os.getenv("BENCH_MIX_PATH"), os.getenv("BENCH_MIX_BODY"), "")
  end
  share = 0
end

function request()
  share = share + mix_percent
  if share >= 100 then
    share = share - 100
    return mix_request
  end
  return main_request
end

function response(status, headers, body)
  -- A refusal answered 200, as the contract answers business errors (other statuses are
  -- counted by wrk itself).
  if status == 200 and string.sub(body, 1, 9) == '{"error":' then
    business_errors = business_errors + 1
  end
end

function done(summary, latency, requests)
  local business = 0
  for _, thread in ipairs(threads) do
    business = business + thread:get("business_errors")
  end
  local errors = summary.errors
  io.write(string.format("bench requests %d\n", summary.requests))
  io.write(string.format("bench duration_us %d\n", summary.duration))
  io.write(string.format("bench socket_errors %d %d %d %d\n",
    errors.connect, errors.read, errors.write, errors.timeout))
  io.write(string.format("bench non_2xx %d\n", errors.status))
  io.write(string.format("bench business_errors %d\n", business))
  io.write(string.format("bench latency_us %d %d %d %d\n", latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
