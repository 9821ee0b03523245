#!/usr/bin/env bash
# The USSD endpoint under load (issue 18: "BENCH ussd_p99_ms for a USSD screen under 200
# concurrent sessions, goal < 50 ms on this machine"), run by `ops/kito bench` (ops/bench.sh)
# with KITO_BENCH_ROOT, KITO_BENCH_BUILD (a release build) and KITO_BENCH_VAR. Starts its own
# Redis (6394, strict profile), MariaDB (3394) and kitod (9554), seeds 2,000 registered miners,
# and prints, last:
#
#   BENCH ussd_healthz_p99_ms <n>  the same-run baseline: wrk's p99 of GET /healthz on the same
#                                  kitod with the same 200 connections (TLS, HTTP/1.1 keep-alive),
#                                  each waiting BENCH_USSD_THINK_MS (1,000, jittered 0.5-1.5x)
#                                  between an answer and its next request
#   BENCH ussd_p99_ms <n>          wrk's p99 of POST /v1/ussd the same way: 200 concurrent
#                                  sessions, a screen a second each (the gateway's form, a new
#                                  session each time: a registered miner's main menu, so a session
#                                  written to Redis and her account read from MySQL on a worker)
#   BENCH ussd_p99_vs_healthz <r>  ussd_p99_ms / ussd_healthz_p99_ms
#   BENCH ussd_rps <n>             USSD screens answered per second with no wait (closed loop, 200
#                                  connections): the most this kitod answers; its p99 is queueing
#                                  and is only logged
#
# kitod is pinned to core 0 and wrk to core 1 (taskset); Redis and MariaDB float. p99s are wrk's,
# with its correction for coordinated omission (see bench_api.sh). A figure that cannot be
# measured (most requests refused) is 0, with the reason on stderr.
set -uo pipefail
ROOT=${KITO_BENCH_ROOT:?run through ops/kito bench}
BUILD=${KITO_BENCH_BUILD:?}
. "$ROOT/ops/lib.sh"
BV=${KITO_BENCH_VAR:?}/ussd

REDIS_PORT=6394
MYSQL_PORT=3394
KITOD_PORT=9554
SERVER_CORE=0
LOAD_CORE=1
DURATION=${BENCH_USSD_SECONDS:-15}
THINK_MS=${BENCH_USSD_THINK_MS:-1000}
CONNECTIONS=200
MINERS=2000
TOKEN=bench-ussd-gateway-secret-0123456789

mkdir -p "$BV" "$BV/photos"
say() { printf '[bench_ussd] %s %s\n' "$(date +%T)" "$*" >&2; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    redis_stop "$BV/redis" "$REDIS_PORT"
    mysql_stop "$BV/mysql"
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

redis_stop "$BV/redis" "$REDIS_PORT"
rm -rf "$BV/redis"
redis_start "$BV/redis" "$REDIS_PORT" strict
mysql_start "$BV/mysql" "$MYSQL_PORT"
mariadb --socket="$BV/mysql/mysql.sock" -uroot -e 'DROP DATABASE IF EXISTS kito'
mysql_bootstrap "$BV/mysql" kito "$BV/secrets.env"
. "$BV/secrets.env"
"$ROOT/ops/migrate.sh" --socket="$BV/mysql/mysql.sock" -uroot kito >/dev/null || die "migrations failed"
tls_local_ca "$BV/tls"

say "seeding $MINERS miners"
: >"$BV/phones.txt"
{
    echo "START TRANSACTION;"
    for i in $(seq 1 $MINERS); do
        phone=$(printf '+2557%08d' "$i")
        echo "$phone" >>"$BV/phones.txt"
        echo "INSERT INTO accounts (role, name, phone, secret_kind, secret_hash, country) VALUES ('miner', 'Bench Miner $i', '$phone', 'pin', 'scrypt\$unusable', 'TZ');"
    done
    echo "COMMIT;"
} | mariadb --socket="$BV/mysql/mysql.sock" -uroot kito || die "seeding failed"

env -i PATH="$PATH" KITO_BIND=127.0.0.1 KITO_HTTPS_PORT=$KITOD_PORT KITO_HTTP_PORT=0 \
    KITO_TLS_CERT="$BV/tls/cert.pem" KITO_TLS_KEY="$BV/tls/key.pem" \
    KITO_REDIS_HOST=127.0.0.1 KITO_REDIS_PORT=$REDIS_PORT \
    KITO_REDIS_USER=kito KITO_REDIS_PASSWORD="$KITO_REDIS_PASSWORD" \
    KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=$MYSQL_PORT KITO_MYSQL_USER=kito \
    KITO_MYSQL_PASSWORD="$KITO_MYSQL_PASSWORD" KITO_MYSQL_DB=kito \
    KITO_STOREFRONT_DIR="$ROOT/storefront" KITO_SIGNING_KEY="$BV/signing-ed25519.pem" \
    KITO_PHOTO_DIR="$BV/photos" KITO_ACCESS_LOG="$BV/access.log" KITO_METRICS_PORT=0 \
    KITO_MAX_CONNECTIONS=12000 KITO_MAX_CONNECTIONS_PER_ADDRESS=12000 \
    KITO_USSD_CALLBACK_TOKEN=$TOKEN \
    taskset -c $SERVER_CORE "$BUILD/api/kitod" >"$BV/kitod.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$BV/tls/ca.pem" "https://localhost:$KITOD_PORT/healthz")" = 200 ] && break
    sleep 0.1
done
first=$(curl -s --cacert "$BV/tls/ca.pem" -d "sessionId=probe&serviceCode=*384*18%23&phoneNumber=%2B255700000001&networkCode=63902&text=" \
    "https://localhost:$KITOD_PORT/v1/ussd?token=$TOKEN")
say "a miner's first screen: ${first%%$'\n'*}..."
[[ $first == "CON Kito"* ]] || { tail -20 "$BV/kitod.log" >&2; die "the USSD endpoint does not answer a registered miner's menu"; }

# run MODE THINK_MS LABEL -> p99 in ms (r_p99), requests/s (r_rps)
run() {
    local mode=$1 think=$2 label=$3 line req non p99
    BENCH_USSD_MODE=$mode BENCH_TOKEN=$TOKEN BENCH_PHONES="$BV/phones.txt" BENCH_THINK_MS=$think \
        taskset -c $LOAD_CORE wrk -t1 -c$CONNECTIONS -d"${DURATION}s" -s "$ROOT/tests/bench/bench_ussd.lua" \
        "https://localhost:$KITOD_PORT" >"$BV/wrk_$label.txt" 2>&1
    grep -E "Requests/sec|USSDSTATUS|Socket errors" "$BV/wrk_$label.txt" >&2
    line=$(grep '^USSDSTATUS' "$BV/wrk_$label.txt")
    req=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
    non=$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<<"$line")
    p99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")
    r_p99=0 r_rps=0
    if [ -z "$req" ] || [ "$req" -eq 0 ] || [ $((non * 10)) -gt "$req" ]; then
        say "$mode: ${non:-?} of ${req:-0} requests refused: not measured"
        return
    fi
    r_p99=$(awk -v u="$p99" 'BEGIN {printf "%.2f", u / 1000}')
    say "$label: p50 $(awk -v u="$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")" 'BEGIN {printf "%.2f", u / 1000}') ms, p99 $r_p99 ms"
    r_rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$BV/wrk_$label.txt")
}
say "baseline: GET /healthz, $CONNECTIONS connections, ${THINK_MS} ms between requests, ${DURATION}s"
run healthz "$THINK_MS" healthz
healthz_p99=$r_p99
say "USSD: POST /v1/ussd, $CONNECTIONS concurrent sessions, ${THINK_MS} ms between screens, ${DURATION}s"
run ussd "$THINK_MS" ussd
ussd_p99=$r_p99
say "USSD, no wait (throughput): $CONNECTIONS connections, ${DURATION}s"
run ussd 0 ussd_closed
say "USSD, no wait: p99 ${r_p99} ms (queueing behind $CONNECTIONS connections)"
ratio=$(awk -v a="$ussd_p99" -v b="$healthz_p99" 'BEGIN {if (b > 0) printf "%.1f", a / b; else print 0}')
echo "BENCH ussd_healthz_p99_ms $healthz_p99"
echo "BENCH ussd_p99_ms $ussd_p99"
echo "BENCH ussd_p99_vs_healthz $ratio"
echo "BENCH ussd_rps $r_rps"
