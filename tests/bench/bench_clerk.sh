#!/usr/bin/env bash
# Browser benchmark of a live sale (issue 17), run by `ops/kito bench` (ops/bench.sh) with
# KITO_BENCH_ROOT, KITO_BENCH_BUILD (a release build) and KITO_BENCH_VAR. Starts its own Redis
# (6396, strict profile) and MariaDB (3396), then tests/bench/bench_clerk.mjs drives Debian's
# Chromium (playwright-core, tests/browser/node_modules) against a kitod of the release build:
#
#   BENCH clerk_to_bidder_ms_p50 <ms>   from a clerk action's answer (POST /v1/lots/{id}/clerk, as
#   BENCH clerk_to_bidder_ms_p99 <ms>   the clerk's client saw it) until all three online bidders'
#                                       live rooms show it (the lot's seq on the page, by a
#                                       MutationObserver), over 300 actions (floor bids by two
#                                       paddles, fair warnings, pauses and resumes); goal: p99
#                                       under 250 ms
#   BENCH clerk_to_feed_ms_p50 <ms>     the baseline, in the same run: from the same answer until
#   BENCH clerk_to_feed_ms_p99 <ms>     the feed's frame for it reaches a bare SSE client in node
#                                       (no page, no browser)
set -uo pipefail
ROOT=${KITO_BENCH_ROOT:?run through ops/kito bench}
BUILD=${KITO_BENCH_BUILD:?}
. "$ROOT/ops/lib.sh"
TEST_VAR=${KITO_BENCH_VAR:?}/clerk TEST_REDIS_PORT=6396 TEST_MYSQL_PORT=3396
mkdir -p "$TEST_VAR"
trap test_services_stop EXIT
test_services_start >/dev/null
. "$TEST_VAR/secrets.env"
[ -x /usr/bin/chromium ] || die "chromium is not installed (apt-get install chromium)"
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
    (cd "$ROOT/tests/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
KITO_TEST_ROOT=$ROOT KITO_TEST_VAR=$TEST_VAR KITO_TEST_BUILD=$BUILD \
    KITO_TEST_REDIS_PORT=$TEST_REDIS_PORT KITO_TEST_MYSQL_PORT=$TEST_MYSQL_PORT \
    KITO_TEST_MYSQL_PASSWORD=$KITO_MYSQL_PASSWORD KITO_TEST_REDIS_PASSWORD=$KITO_REDIS_PASSWORD \
    node "$ROOT/tests/bench/bench_clerk.mjs"
