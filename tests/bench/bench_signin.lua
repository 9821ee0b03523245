-- wrk script for tests/bench/bench_signin.sh: sign-ins with the right PIN, phones in turn from
-- BENCH_PHONES (one a line). Statuses are counted from kitod's access log by the script. Clients
-- honour Retry-After roughly: after a 503 the thread's connections wait a second before their
-- next request (wrk's delay() is per thread), as a page or app would; without it a 503 storm of
-- thousands a second measures wrk against kitod's loop, not sign-ins.
local phones = {}
local i = 0

function init(args)
  for l in io.lines(os.getenv("BENCH_PHONES")) do
    if #l > 0 then table.insert(phones, l) end
  end
end

function request()
  i = i + 1
  local p = phones[(i % #phones) + 1]
  return wrk.format("POST", "/v1/sessions", {["Content-Type"] = "application/json"},
                    '{"phone":"' .. p .. '","pin":"' .. os.getenv("BENCH_PIN") .. '"}')
end

local backoff_ms = 0

function response(status, headers, body)
  if status == 503 then backoff_ms = 1000 else backoff_ms = 0 end
end

function delay()
  return backoff_ms
end
