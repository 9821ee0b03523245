#!/usr/bin/env bash
# API benchmarks (issue 5), run by `ops/kito bench` (ops/bench.sh) with KITO_BENCH_ROOT,
# KITO_BENCH_BUILD (a release build) and KITO_BENCH_VAR. Starts its own services on their own
# ports -- Redis 6397 (strict profile: appendfsync always, as in production), MariaDB 3397, kitod
# 9543, the hello server 9544 -- seeds a sale through the API and prints, last:
#
#   BENCH api_hello_cpu_us <n>    the hello server's CPU time per request in its run (user +
#                                 system, from /proc)
#   BENCH api_bid_cpu_us <n>      kitod's CPU time (all its threads) per bid answered in its run:
#                                 with the line above, what a bid costs the server whatever wrk
#                                 and the journal's fsync let the rps figures reach
#   BENCH api_bid_cpu_vs_hello <r> api_bid_cpu_us / api_hello_cpu_us, both of this run (issue 14's
#                                 goal: at most 1.3). Both include the kernel's share (TCP on
#                                 loopback, epoll), which the load of the machine moves: compare
#                                 runs made on a quiet machine, or callgrind's instruction counts
#   BENCH api_hello_rps <n>       bare libh2o HTTPS hello server (tests/tools/api_hello.c, kitod's
#                                 TLS context from api/http/tls.c; a small JSON body with its
#                                 Content-Length, as kitod answers), wrk, 64 connections,
#                                 HTTP/1.1 keep-alive
#   BENCH api_bid_rps <n>         ACCEPTED bids (201) per second: wrk POSTing valid bids to kitod
#                                 over HTTPS keep-alive, 64 connections (bench_api_bids.lua);
#                                 the 201s are counted in kitod's access log
#   BENCH api_bid_vs_hello <r>    api_bid_rps / api_hello_rps
#   BENCH api_bid_p99_ms <n>      wrk's p99 latency of the bid run. wrk (4.1) corrects its latency
#                                 histogram for coordinated omission before any percentile is read
#                                 (stats_correct: a response that took k x the mean interval per
#                                 connection also counts the k-1 requests it held back), so a few
#                                 long stalls weigh far more here than in a plain p99 of responses
#   BENCH api_bid_rps_fsync_1s <n> a diagnostic, not a goal: the bid run again on the same kitod
#                                 with Redis switched (CONFIG SET) to fsyncing its append-only
#                                 file once a second instead of once a batch, as the fast profile
#                                 does (never for a real sale). Set beside api_bid_rps it shows
#                                 how much of the bid figure is the journal's fsync: on this
#                                 machine (a VM) each fsync costs Redis ~0.3 ms of CPU on the two
#                                 cores kitod and wrk use, besides the wait. Then back to always
#   BENCH live_fanout_p99_ms <n>  5,000 live-feed clients (tests/tools/sse_fanout.c: one epoll
#                                 thread, 5,000 separate TLS connections over HTTP/1.1), time from
#                                 writing a bid to the last client receiving its frame, p99 of
#                                 100 bids
#
# The machine has 2 cores: servers (hello, kitod) are pinned to core 0 and load generators (wrk,
# sse_fanout) to core 1 with taskset; Redis and MariaDB float. For each wrk run the log says how
# much of its core the server used and how much of its own wrk used: the one near 100% was the
# limit (the hello run is wrk's limit more often than the hello server's; the bid run is neither:
# each of the 64 connections waits for its batch's fsync in Redis). A figure that cannot be measured
# (e.g. the bid endpoint missing, or nearly every bid refused) is reported as 0 with the reason
# on stderr -- never estimated.
set -uo pipefail
ROOT=${KITO_BENCH_ROOT:?run through ops/kito bench}
BUILD=${KITO_BENCH_BUILD:?}
. "$ROOT/ops/lib.sh" # (it sets VAR for the demo: ours is BV)
BV=${KITO_BENCH_VAR:?}/api

REDIS_PORT=6397
MYSQL_PORT=3397
KITOD_PORT=9543
HELLO_PORT=9544
SERVER_CORE=0
LOAD_CORE=1
DURATION=${BENCH_API_SECONDS:-15}
LOTS=1000
BUYERS=200
FANOUT_CLIENTS=${BENCH_FANOUT_CLIENTS:-5000}
FANOUT_BIDS=${BENCH_FANOUT_BIDS:-100}
OPENING=6000000  # $60,000: above the default ladder's last rung, so the step is a flat $5,000
STEP=1200000     # more than two steps between consecutive maximums on a lot

mkdir -p "$BV" "$BV/photos"
rm -f "$BV/access.log" # this run's requests only (kitod appends: it had grown to 1.8 GB)
say() { printf '[bench_api] %s %s\n' "$(date +%T)" "$*" >&2; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    redis_stop "$BV/redis" "$REDIS_PORT"
    mysql_stop "$BV/mysql"
}
trap cleanup EXIT

pin() { taskset -c "$1" "${@:2}"; } # (util-linux)
# CPU time (user + system, in clock ticks) of a process, and of this shell's waited-for children
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # (the kernel's part)
child_ticks() { # VAR (`times` must run in this shell, not in a $(...) subshell, to see its children)
    times >"$BV/times.txt"
    printf -v "$1" '%s' "$(awk -v hz="$(getconf CLK_TCK)" 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.0f", s * hz }' "$BV/times.txt")"
}
# How busy a load run kept the server and wrk, as percentages of one core over the run: which
# of the two was the limit (a server below ~95% was waiting, not working).
busy() { # NAME SERVER_PID TICKS_BEFORE CHILD_TICKS_BEFORE
    local hz c1; hz=$(getconf CLK_TCK)
    child_ticks c1
    busy_us=$(( ($(ticks "$2") - $3) * 1000000 / hz )) # the server's CPU time over the run
    say "$1: the server used $(( busy_us / (10000 * DURATION) ))% of its core, wrk $(( (c1 - $4) * 100 / (hz * DURATION) ))% of its own"
}
per() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f", a / b; else print 0}'; }
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

hello_rps=0 bid_rps=0 bid_p99=0 fanout_p99=0 ratio=0 fsync1s_rps=0

# ---- services --------------------------------------------------------------------------------
# a fresh Redis every run (a FLUSHALL right after start can meet a server still loading its AOF)
redis_stop "$BV/redis" "$REDIS_PORT"
rm -rf "$BV/redis"
redis_start "$BV/redis" "$REDIS_PORT" strict
mysql_start "$BV/mysql" "$MYSQL_PORT"
mariadb --socket="$BV/mysql/mysql.sock" -uroot -e 'DROP DATABASE IF EXISTS kito'
mysql_bootstrap "$BV/mysql" kito "$BV/secrets.env"
. "$BV/secrets.env"
"$ROOT/ops/migrate.sh" --socket="$BV/mysql/mysql.sock" -uroot kito >/dev/null || die "migrations failed"
tls_local_ca "$BV/tls"
SQL() { mariadb --socket="$BV/mysql/mysql.sock" -uroot kito -N -B "$@"; }

# ---- 1. the ceiling: a bare libh2o hello server ----------------------------------------------
WRK_LAT=$BV/wrk_hello.txt
taskset -c $SERVER_CORE "$BUILD/tests/api_hello" $HELLO_PORT "$BV/tls/cert.pem" "$BV/tls/key.pem" >/dev/null &
pids+=($!) # taskset execs the server: $! is its pid
for _ in $(seq 50); do curl -s --cacert "$BV/tls/ca.pem" "https://localhost:$HELLO_PORT/" >/dev/null && break; sleep 0.1; done
say "hello server: wrk -t1 -c64 -d${DURATION}s (server on core $SERVER_CORE, wrk on core $LOAD_CORE)"
t0=$(ticks "${pids[0]}") s0=$(sys_ticks "${pids[0]}") && child_ticks c0
pin $LOAD_CORE wrk -t1 -c64 -d"${DURATION}s" --latency "https://localhost:$HELLO_PORT/" >"$WRK_LAT" 2>&1
busy "hello run" "${pids[0]}" "$t0" "$c0"
hello_rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$WRK_LAT")
hello_cpu=$(per "$busy_us" "$(awk '/ requests in / {print $1}' "$WRK_LAT")")
say "hello run: of ${hello_cpu} us of CPU a request, $(per "$(( ($(sys_ticks "${pids[0]}") - s0) * 1000000 / $(getconf CLK_TCK) ))" "$(awk '/ requests in / {print $1}' "$WRK_LAT")") us in the kernel"
grep -E "Requests/sec|99%|Non-2xx" "$WRK_LAT" >&2
kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null; pids=()

# ---- 2. seed: accounts and sessions in SQL, sales through the API ------------------------------
say "seeding $BUYERS buyers, $LOTS + 1 lots"
seed=$BV/seed.sql tokens=$BV/tokens.txt
: >"$seed"; : >"$tokens"
# bearer tokens as api/common/crypto.h makes them (32 random bytes, base64url) and their SHA-256 digests
# (what the sessions table stores), all in one process
perl -MDigest::SHA=sha256_hex -MMIME::Base64 -e '
    open(my $r, "<", "/dev/urandom") or die;
    for (0 .. $ARGV[0]) {
        read($r, my $b, 32) == 32 or die;
        (my $t = encode_base64($b, "")) =~ tr{+/=}{-_}d;
        print "$t ", sha256_hex($t), "\n";
    }' $BUYERS >"$BV/tokens_digests.txt" || die "cannot make tokens"
# secret_hash is never checked (nobody signs in): sessions are made directly, as the test harness does
{
    echo "START TRANSACTION;"
    echo "INSERT INTO accounts (id, role, name, email, secret_kind, secret_hash) VALUES"
    echo " (1000001, 'organizer', 'Bench Organiser', 'org@bench.test', 'password', 'scrypt\$unusable'),"
    echo " (1000002, 'valuer', 'Bench Valuer', 'valuer@bench.test', 'password', 'scrypt\$unusable');"
    echo "INSERT INTO accounts (id, role, name, phone, secret_kind, secret_hash, country) VALUES"
    echo " (1000003, 'miner', 'Bench Miner', '+255700000003', 'pin', 'scrypt\$unusable', 'TZ');"
    for i in $(seq 1 $BUYERS); do
        echo "INSERT INTO accounts (id, role, name, email, secret_kind, secret_hash) VALUES ($((1001000 + i)), 'buyer', 'Bench Buyer $i', 'buyer$i@bench.test', 'password', 'scrypt\$unusable');"
    done
} >>"$seed"
i=0
while read -r t d; do # line 0: the organiser's; then the buyers'
    if [ $i -eq 0 ]; then org_token=$t; acc=1000001; else echo "$t" >>"$tokens"; acc=$((1001000 + i)); fi
    echo "INSERT INTO sessions (token_sha256, account_id, expires_at) VALUES ('$d', $acc, UTC_TIMESTAMP(3) + INTERVAL 1 DAY);"
    i=$((i + 1))
done <"$BV/tokens_digests.txt" >>"$seed"
{
    echo "INSERT IGNORE INTO signing_keys (key_id, public_key_b64) VALUES ('5a1e5a1e5a1e5a1e', '$(printf '%043d' 0)=');"
    sig=$(printf 'A%.0s' $(seq 86))==
    for i in $(seq 1 $((LOTS + 1))); do
        echo "INSERT INTO stones (id, seller_id, listed_by, species, variety, weight_cct, origin_country, origin_region, colour, status) VALUES ($((2000000 + i)), 1000003, 1000003, 'corundum', 'sapphire', 204, 'TZ', 'Tunduru', 'blue', 'certified');"
        echo "INSERT INTO certificates (stone_id, version, canonical_json, signature, key_id, valuer_id) VALUES ($((2000000 + i)), 1, '{\"species\":\"corundum\"}', '$sig', '5a1e5a1e5a1e5a1e', 1000002);"
    done
    # the miner's consent (DESIGN.md): every stone offered to the organiser, as POST
    # /v1/stones/{id}/offers would record it; the lots below are refused without it
    echo "INSERT INTO stone_offers (stone_id, miner_id, listed_by, organizer_id, offered_by, offered_by_role) SELECT id, seller_id, listed_by, 1000001, seller_id, 'miner' FROM stones WHERE id BETWEEN 2000001 AND $((2000000 + LOTS + 1));"
    echo "COMMIT;"
} >>"$seed"
SQL <"$seed" || die "seeding SQL failed"

start_kitod() {
    env -i PATH="$PATH" KITO_BIND=127.0.0.1 KITO_HTTPS_PORT=$KITOD_PORT KITO_HTTP_PORT=0 \
        KITO_TLS_CERT="$BV/tls/cert.pem" KITO_TLS_KEY="$BV/tls/key.pem" \
        KITO_REDIS_HOST=127.0.0.1 KITO_REDIS_PORT=$REDIS_PORT \
        KITO_REDIS_USER=kito KITO_REDIS_PASSWORD="$KITO_REDIS_PASSWORD" \
        KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=$MYSQL_PORT KITO_MYSQL_USER=kito \
        KITO_MYSQL_PASSWORD="$KITO_MYSQL_PASSWORD" KITO_MYSQL_DB=kito \
        KITO_STOREFRONT_DIR="$ROOT/storefront" KITO_SIGNING_KEY="$BV/signing-ed25519.pem" \
        KITO_PHOTO_DIR="$BV/photos" KITO_ACCESS_LOG="$BV/access.log" \
        KITO_MAX_CONNECTIONS=12000 KITO_MAX_CONNECTIONS_PER_ADDRESS=12000 KITO_METRICS_PORT=0 \
        KITO_BID_BUYER_RATE=1000000 KITO_BID_BUYER_BURST=1000000 \
        KITO_BID_ADDR_RATE=1000000 KITO_BID_ADDR_BURST=1000000 \
        taskset -c $SERVER_CORE "$BUILD/api/kitod" >"$BV/kitod.log" 2>&1 &
    kitod_pid=$!
    pids+=($kitod_pid)
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$BV/tls/ca.pem" "https://localhost:$KITOD_PORT/healthz")" = 200 ] && return 0
        sleep 0.1
    done
    tail -20 "$BV/kitod.log" >&2
    die "kitod did not become healthy"
}
start_kitod

API="https://localhost:$KITOD_PORT"
api() { # METHOD PATH [BODY] -> body on stdout; fails on non-2xx
    curl -sS --fail-with-body --cacert "$BV/tls/ca.pem" -X "$1" -H "Authorization: Bearer $org_token" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} "$API$2"
}
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
start=$(($(date +%s) + 3600))
mksale() { # -> the id of a new draft timed sale
    api POST /v1/sales "{\"title\":\"Bench sale\",\"format\":\"timed\",\"starts_at\":\"$(iso $start)\",\"ends_at\":\"$(iso $((start + 3600)))\"}" |
        jq -r .id
}
saleA=$(mksale) && saleB=$(mksale) || die "cannot create the sales"
# lots and approvals: one curl process, one keep-alive connection, in turn (curl -K config; lot
# numbers and paddle numbers are assigned as highest + 1, which concurrent requests would race
# for); paddle numbers
# are given because auto-assigned ones (highest + 1) collide when approvals run concurrently
cfg=$BV/curl.cfg
: >"$cfg"
add() { # PATH BODY
    [ -s "$cfg" ] && echo next >>"$cfg"
    printf 'url = "%s%s"\ncacert = "%s"\nrequest = "POST"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "%s"\nwrite-out = "%%{http_code} %%{url}\\n"\noutput = "/dev/null"\nsilent\nshow-error\n' \
        "$API" "$1" "$BV/tls/ca.pem" "$org_token" "${2//\"/\\\"}" >>"$cfg"
}
b32id() { # PREFIX KEY -> ID, the API's opaque id (api/common/validate.h, kito_id_format); no subshell
    local a=0123456789abcdefghjkmnpqrstvwxyz k=$2 s="" i
    for ((i = 0; i < 13; i++)); do s=${a:$((k & 31)):1}$s; k=$((k >> 5)); done
    ID="${1}_$s"
}
for ((i = 1; i <= LOTS; i++)); do
    b32id stn $((2000000 + i)); add "/v1/sales/$saleA/lots" "{\"stone_id\":\"$ID\",\"opening\":$OPENING}"
done
b32id stn $((2000000 + LOTS + 1)); add "/v1/sales/$saleB/lots" "{\"stone_id\":\"$ID\",\"opening\":$OPENING}"
for ((i = 1; i <= BUYERS; i++)); do
    b32id acc $((1001000 + i)); add "/v1/sales/$saleA/approvals" "{\"buyer_id\":\"$ID\",\"paddle_number\":$i}"
done
for ((i = 1; i <= 20; i++)); do
    b32id acc $((1001000 + i)); add "/v1/sales/$saleB/approvals" "{\"buyer_id\":\"$ID\",\"paddle_number\":$i}"
done
# lots first (their order in the sale is the order they are added), then approvals
curl --no-progress-meter -K "$cfg" >"$BV/seed_status.txt" 2>&1
bad=$(grep -cvE '^20[01] ' "$BV/seed_status.txt")
[ "$bad" -eq 0 ] || { grep -vE '^20[01] ' "$BV/seed_status.txt" | head >&2; die "seeding through the API failed ($bad requests)"; }
# the sales start a few seconds from now (a timed sale must start in the future to be published)
start=$(($(date +%s) + 6))
for s in $saleA $saleB; do
    api PATCH "/v1/sales/$s" "{\"starts_at\":\"$(iso $start)\",\"ends_at\":\"$(iso $((start + 3600)))\"}" >/dev/null ||
        die "cannot move the start of sale $s"
done
api POST "/v1/sales/$saleA/publish" >/dev/null || die "cannot publish sale A"
api POST "/v1/sales/$saleB/publish" >/dev/null || die "cannot publish sale B"
SQL -e "SELECT l.id FROM lots l JOIN sales s ON s.id = l.sale_id WHERE s.id = $(SQL -e "SELECT id FROM sales ORDER BY id LIMIT 1") ORDER BY l.id" |
    while read -r k; do b32id lot "$k"; echo "$ID"; done >"$BV/lots_a.txt"
b32id lot "$(SQL -e "SELECT l.id FROM lots l WHERE l.sale_id = (SELECT MAX(id) FROM sales)")"
lotB=$ID
head -20 "$tokens" >"$BV/tokens_b.txt"
[ "$(wc -l <"$BV/lots_a.txt")" -eq $LOTS ] || die "sale A does not have $LOTS lots"
wait_s=$((start - $(date +%s) + 2))
say "waiting ${wait_s}s for the sales to open"
[ $wait_s -gt 0 ] && sleep $wait_s

# ---- 3. bids ------------------------------------------------------------------------------------
# bid_run LABEL FIRST: wrk POSTs bids for DURATION seconds, the first round of them at FIRST on
# every lot (each round STEP higher). Sets r_rps (accepted bids a second, 0 when not measured),
# r_p99 (ms), r_cpu (kitod's CPU microseconds a bid) and r_requests (wrk's requests).
bid_run() {
    local label=$1 first=$2 log_lines t0 c0 rt0 busy_us_run line secs ok wrk_ok total p99us rp
    r_rps=0 r_p99=0 r_cpu=0 r_requests=0
    log_lines=$(wc -l <"$BV/access.log")
    rp=$(cat "$BV/redis/redis.pid")
    t0=$(ticks "$kitod_pid") rt0=$(ticks "$rp") s0=$(sys_ticks "$kitod_pid") && child_ticks c0
    BENCH_LOTS="$BV/lots_a.txt" BENCH_TOKENS="$tokens" BENCH_FIRST=$first BENCH_STEP=$STEP BENCH_THREADS=1 \
        pin $LOAD_CORE wrk -t1 -c64 -d"${DURATION}s" --latency -s "$ROOT/tests/bench/bench_api_bids.lua" "$API" \
        >"$BV/wrk_$label.txt" 2>&1
    busy "$label" "$kitod_pid" "$t0" "$c0"
    sys_us=$(( ($(sys_ticks "$kitod_pid") - s0) * 1000000 / $(getconf CLK_TCK) ))
    busy_us_run=$busy_us
    redis_us=$(( ($(ticks "$rp") - rt0) * 1000000 / $(getconf CLK_TCK) ))
    grep -E "Requests/sec|BIDSTATUS" "$BV/wrk_$label.txt" >&2
    line=$(grep '^BIDSTATUS' "$BV/wrk_$label.txt")
    secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")
    r_requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
    # the run's bid responses by status, from kitod's access log (flushed every 200 ms)
    sleep 0.5
    tail -n +$((log_lines + 1)) "$BV/access.log" | grep -F '"route":"/v1/lots/{id}/bids"' |
        grep -oE '"status":[0-9]+' | sort | uniq -c >"$BV/statuses_$label.txt"
    say "$label: bid responses by status (access log): $(tr -s ' \n' ' ' <"$BV/statuses_$label.txt")"
    ok=$(awk '$2 == "\"status\":201" {print $1}' "$BV/statuses_$label.txt"); ok=${ok:-0}
    # (bids still in flight when wrk stopped are logged but were not received: never count more
    # than wrk saw complete below 400)
    wrk_ok=$(awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}} END {print v["requests"] - v["non2xx"]}' <<<"$line")
    [ "${wrk_ok:-0}" -lt "$ok" ] && ok=$wrk_ok
    total=$(awk '{t += $1} END {print t + 0}' "$BV/statuses_$label.txt")
    r_cpu=$(per "$busy_us_run" "$total")
    say "$label: of $r_cpu us of kitod's CPU a bid, $(per "$sys_us" "$total") us in the kernel"
    say "$label: Redis used $(per "$redis_us" "$total") us of CPU a bid (kitod $r_cpu)"
    p99us=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")
    if [ -n "$secs" ] && [ "${total:-0}" -gt 0 ] && [ $((ok * 2)) -ge "$total" ]; then
        r_rps=$(awk -v n="$ok" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
        r_p99=$(awk -v u="$p99us" 'BEGIN {printf "%.2f", u / 1000}')
    else
        say "$label: only $ok of ${total:-0} bids were accepted (statuses above): not measured"
    fi
}

probe=$(curl -s -o "$BV/probe.json" -w '%{http_code}' --cacert "$BV/tls/ca.pem" -X POST \
    -H "Authorization: Bearer $(head -1 "$tokens")" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: probe-$$" --data "{\"amount\":$OPENING}" "$API/v1/lots/$lotB/bids")
if [ "$probe" != 201 ]; then
    say "the bid endpoint answered $probe to a valid bid: $(head -c 300 "$BV/probe.json"); api_bid_rps and live_fanout_p99_ms not measured"
else
    say "bids: wrk -t1 -c64 -d${DURATION}s, $LOTS lots, $BUYERS buyers (kitod on core $SERVER_CORE, wrk on core $LOAD_CORE)"
    rcli $REDIS_PORT "$BV/secrets.env" config set latency-monitor-threshold 2 >/dev/null
    rcli $REDIS_PORT "$BV/secrets.env" latency reset >/dev/null
    bid_run "bid run" $OPENING
    bid_rps=$r_rps bid_p99=$r_p99 bid_cpu=$r_cpu bid_requests=$r_requests
    # Redis's own slow events (fsync of the AOF above all): to tell a Redis tail from ours
    say "Redis events over 2 ms in the bid run (LATENCY LATEST: event, time, latest ms, max ms):"
    rcli $REDIS_PORT "$BV/secrets.env" latency latest | paste - - - - >&2
    [ "${hello_rps:-0}" -gt 0 ] && ratio=$(awk -v b="$bid_rps" -v h="$hello_rps" 'BEGIN {printf "%.3f", b / h}')

fi

# ---- 4. live-feed fan-out -----------------------------------------------------------------------
if [ "$probe" = 201 ]; then
    say "fan-out: $FANOUT_CLIENTS SSE clients on sale B, $FANOUT_BIDS bids (sse_fanout on core $LOAD_CORE)"
    out=$(FANOUT_SERVER_PID=$kitod_pid pin $LOAD_CORE "$BUILD/tests/sse_fanout" $KITOD_PORT "$BV/tls/ca.pem" "$saleB" "$lotB" \
        $FANOUT_CLIENTS $FANOUT_BIDS "$BV/tokens_b.txt" $((OPENING + 10 * STEP)) $STEP)
    rc=$?
    echo "$out" >&2
    if [ $rc -eq 0 ]; then
        fanout_p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    else
        say "the fan-out run did not complete (above): live_fanout_p99_ms not measured"
    fi
fi
# ---- 5. diagnostic: the bids again, fsynced once a second ---------------------------------------
# The same bids with the journal fsynced once a second instead of once a batch: a diagnostic of
# where the bid figure's bound is (the fast profile is never for a real sale, and no figure above
# comes from it). Last, because it leaves kitod and Redis with twice the bids: run before the
# fan-out, it made the fan-out's server CPU 60 -> 95 ms. Its first round of bids starts above
# every bid so far.
if [ "$probe" = 201 ]; then
    if [ "$(rcli $REDIS_PORT "$BV/secrets.env" config set appendfsync everysec)" = OK ]; then
        bid_run "bid run, fsync once a second" $((OPENING + (bid_requests / LOTS + 2) * STEP))
        fsync1s_rps=$r_rps
        rcli $REDIS_PORT "$BV/secrets.env" config set appendfsync always >/dev/null ||
            die "cannot set Redis back to appendfsync always"
    fi
fi
grep -E "ERROR|runtime error|Assertion" "$BV/kitod.log" >&2

echo "BENCH api_hello_cpu_us ${hello_cpu:-0}"
echo "BENCH api_bid_cpu_us ${bid_cpu:-0}"
echo "BENCH api_bid_cpu_vs_hello $(awk -v b="${bid_cpu:-0}" -v h="${hello_cpu:-0}" 'BEGIN {if (b > 0 && h > 0) printf "%.2f", b / h; else print 0}')"
echo "BENCH api_hello_rps ${hello_rps:-0}"
echo "BENCH api_bid_rps ${bid_rps:-0}"
echo "BENCH api_bid_vs_hello ${ratio:-0}"
echo "BENCH api_bid_p99_ms ${bid_p99:-0}"
echo "BENCH api_bid_rps_fsync_1s ${fsync1s_rps:-0}"
echo "BENCH live_fanout_p99_ms ${fanout_p99:-0}"
