-- wrk script for tests/bench/bench_signin.sh: sign-ins with the right PIN, phones in turn from
-- BENCH_PHONES (one a line). Statuses are counted from kitod's access log by the script.
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
