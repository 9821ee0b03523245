#!/usr/bin/env bash
# Sign-in benchmark (issue 15: scrypt on a pool of its own), run by `ops/kito bench` (ops/bench.sh)
# with KITO_BENCH_ROOT, KITO_BENCH_BUILD (a release build) and KITO_BENCH_VAR. Starts its own
# Redis, MariaDB and kitod on its own ports, seeds miners whose PINs are stored at the production
# scrypt cost, and for BENCH_SIGNIN_SECONDS (10) runs a sign-in flood (wrk, 48 connections: more than the default queue of 16) and,
# at the same time, a trickle of database reads (wrk, 2 connections, GET /v1/accounts/me).
#   BENCH signin_per_sec <n>             sign-ins answered 201 a second (the hashing pool's
#                                        throughput: KITO_HASH_WORKERS scrypt hashes at a time)
#   BENCH signin_busy_share <r>          share of sign-ins answered 503 "busy" (the queue's bound)
#   BENCH signin_p99_ms <n>              wrk's p99 latency over every sign-in answer
#   BENCH read_p99_ms_during_signins <n> wrk's p99 latency of the reads during the flood: what
#                                        a sign-in flood costs every other request
#   BENCH read_p99_ms_alone <n>          the same reads with no flood, the baseline
set -uo pipefail
ROOT=${KITO_BENCH_ROOT:?run through ops/kito bench}
BUILD=${KITO_BENCH_BUILD:?}
. "$ROOT/ops/lib.sh"
BV=${KITO_BENCH_VAR:?}/signin

REDIS_PORT=6396
MYSQL_PORT=3396
KITOD_PORT=9546
DURATION=${BENCH_SIGNIN_SECONDS:-10}
MINERS=200
PIN=5937

mkdir -p "$BV" "$BV/photos"
rm -f "$BV/access.log"
say() { printf '[bench_signin] %s %s\n' "$(date +%T)" "$*" >&2; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    redis_stop "$BV/redis" "$REDIS_PORT"
    mysql_stop "$BV/mysql"
}
trap cleanup EXIT

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

env -i PATH="$PATH" KITO_BIND=127.0.0.1 KITO_HTTPS_PORT=$KITOD_PORT KITO_HTTP_PORT=0 \
    KITO_TLS_CERT="$BV/tls/cert.pem" KITO_TLS_KEY="$BV/tls/key.pem" \
    KITO_REDIS_HOST=127.0.0.1 KITO_REDIS_PORT=$REDIS_PORT \
    KITO_REDIS_USER=kito KITO_REDIS_PASSWORD="$KITO_REDIS_PASSWORD" \
    KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=$MYSQL_PORT KITO_MYSQL_USER=kito \
    KITO_MYSQL_PASSWORD="$KITO_MYSQL_PASSWORD" KITO_MYSQL_DB=kito \
    KITO_STOREFRONT_DIR="$ROOT/storefront" KITO_SIGNING_KEY="$BV/signing-ed25519.pem" \
    KITO_PHOTO_DIR="$BV/photos" KITO_ACCESS_LOG="$BV/access.log" KITO_METRICS_PORT=0 \
    "$BUILD/api/kitod" >"$BV/kitod.log" 2>&1 &
pids+=($!)
API="https://localhost:$KITOD_PORT"
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$BV/tls/ca.pem" "$API/healthz")" = 200 ] && break
    sleep 0.1
done
post() { curl -s --cacert "$BV/tls/ca.pem" -H 'Content-Type: application/json' -d "$2" "$API$1"; }

# ---- seed: one miner registered through the API (her PIN hashed at the production cost), her
# hash copied to the others
say "seeding $MINERS miners"
first=+255712000001
post /v1/accounts "{\"role\":\"miner\",\"name\":\"Bench Miner\",\"phone\":\"$first\",\"pin\":\"$PIN\",\"payout\":{\"rail\":\"mpesa\"}}" >"$BV/register.json"
hash=$(SQL -e "SELECT secret_hash FROM accounts WHERE phone = '$first'")
[ -n "$hash" ] || die "the first miner was not registered: $(cat "$BV/register.json")"
: >"$BV/phones.txt"
values=""
for i in $(seq 1 "$MINERS"); do
    phone=$(printf "+25571300%04d" "$i")
    echo "$phone" >>"$BV/phones.txt"
    values+="${values:+,}('miner', 'Bench Miner $i', '$phone', 'pin', '$hash', 'TZ')"
done
SQL -e "INSERT INTO accounts (role, name, phone, secret_kind, secret_hash, country) VALUES $values"
token=$(post /v1/sessions "{\"phone\":\"$first\",\"pin\":\"$PIN\"}" | jq -r .token)
[ -n "$token" ] && [ "$token" != null ] || die "sign-in failed"

p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; printf "%.1f", v }' "$1"; }
read_run() { # OUT
    wrk -t1 -c2 -d"${DURATION}s" --timeout 30s --latency -H "Authorization: Bearer $token" "$API/v1/accounts/me" >"$1" 2>&1
}

say "reads alone: wrk -t1 -c2 -d${DURATION}s GET /v1/accounts/me"
read_run "$BV/wrk_read_alone.txt"
read_alone=$(p99_ms "$BV/wrk_read_alone.txt")

say "sign-in flood (wrk -t1 -c48) and the same reads, ${DURATION}s"
lines=$(wc -l <"$BV/access.log")
BENCH_PHONES="$BV/phones.txt" BENCH_PIN=$PIN \
    wrk -t1 -c48 -d"${DURATION}s" --timeout 30s --latency -s "$ROOT/tests/bench/bench_signin.lua" "$API" \
    >"$BV/wrk_signin.txt" 2>&1 &
flood=$!
read_run "$BV/wrk_read_flood.txt"
wait "$flood"
sleep 0.5
tail -n +$((lines + 1)) "$BV/access.log" | grep -F '"route":"/v1/sessions"' |
    grep -oE '"status":[0-9]+' | sort | uniq -c >"$BV/statuses.txt"
say "sign-in answers by status: $(tr -s ' \n' ' ' <"$BV/statuses.txt")"
ok=$(awk '$2 == "\"status\":201" {print $1}' "$BV/statuses.txt"); ok=${ok:-0}
busy=$(awk '$2 == "\"status\":503" {print $1}' "$BV/statuses.txt"); busy=${busy:-0}
total=$(awk '{t += $1} END {print t + 0}' "$BV/statuses.txt")
grep -E "Requests/sec|99%" "$BV/wrk_signin.txt" "$BV/wrk_read_flood.txt" "$BV/wrk_read_alone.txt" >&2
grep -E "ERROR|runtime error|Assertion" "$BV/kitod.log" >&2

echo "BENCH signin_per_sec $(awk -v a="$ok" -v d="$DURATION" 'BEGIN {printf "%.1f", a / d}')"
echo "BENCH signin_busy_share $(awk -v a="$busy" -v t="$total" 'BEGIN {if (t > 0) printf "%.2f", a / t; else print 0}')"
echo "BENCH signin_p99_ms $(p99_ms "$BV/wrk_signin.txt")"
echo "BENCH read_p99_ms_during_signins $(p99_ms "$BV/wrk_read_flood.txt")"
echo "BENCH read_p99_ms_alone $read_alone"
