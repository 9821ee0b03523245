#!/usr/bin/env bash
# Backup and restore benchmark (issue 15), run by `ops/kito bench` (ops/bench.sh) with
# KITO_BENCH_ROOT, KITO_BENCH_BUILD (a release build) and KITO_BENCH_VAR. Builds a market of
# 10,000 sold lots with 10 journaled bids each (100,000 bids) in its own Redis (6392) and MariaDB
# (3392), lets a real kitod (9553) settle all 10,000 from the outbox (settlements, invoices,
# ledger), takes `ops/kito backup` of it, restores it onto fresh folders (Redis 6393, MariaDB
# 3393), checks the copy (`ops/kito checksums` of both must agree: every money table and every
# stream), and prints:
#
#   BENCH backup_restore_s <n>     seconds for the restore (backup_restore in ops/backup.sh: check
#                                  SHA256SUMS, Redis from the RDB to a rewritten append-only file,
#                                  a fresh MariaDB, the dump loaded, users made)
#   BENCH backup_copy_floor_s <n>  the floor, measured in the same run: seconds to copy the same
#                                  backup folder with cp -a and sync it to disk
#   BENCH backup_take_s <n>        seconds for the online backup itself (RDB + dump)
#   BENCH backup_bytes <n>         the backup folder's size
#
# The bids are written straight into Redis in the journal's layout (lot:{ID}:journal entries of
# record size, config and snapshot hashes, one outbox entry per lot): what a restore moves is
# bytes and keys, not their meaning. BENCH_BACKUP_LOTS scales the market (default 10000).
set -uo pipefail
ROOT=${KITO_BENCH_ROOT:?run through ops/kito bench}
BUILD=${KITO_BENCH_BUILD:?}
. "$ROOT/ops/lib.sh"
. "$ROOT/ops/backup.sh"
BV=${KITO_BENCH_VAR:?}/backup
SRC=$BV/src DST=$BV/dst
SRC_REDIS=6392 SRC_MYSQL=3392 DST_REDIS=6393 DST_MYSQL=3393 KITOD_PORT=9553
LOTS=${BENCH_BACKUP_LOTS:-10000}
BIDS_PER_LOT=10

say() { printf '[bench_backup] %s %s\n' "$(date +%T)" "$*" >&2; }
kitod_pid=
cleanup() {
    [ -n "$kitod_pid" ] && kill "$kitod_pid" 2>/dev/null && wait "$kitod_pid" 2>/dev/null
    redis_stop "$SRC/redis" "$SRC_REDIS"
    mysql_stop "$SRC/mysql"
    redis_stop "$DST/redis" "$DST_REDIS"
    mysql_stop "$DST/mysql"
}
trap cleanup EXIT
cleanup
rm -rf "$BV"
mkdir -p "$BV"

# ---- the source stack ------------------------------------------------------------------------
redis_start "$SRC/redis" "$SRC_REDIS" strict
mysql_start "$SRC/mysql" "$SRC_MYSQL"
mysql_bootstrap "$SRC/mysql" kito "$SRC/secrets.env"
"$ROOT/ops/migrate.sh" --socket="$SRC/mysql/mysql.sock" -uroot kito >/dev/null ||
    die "migrations failed"
. "$SRC/secrets.env"
SQL() { mariadb --socket="$SRC/mysql/mysql.sock" -uroot kito -N -B "$@"; }

say "a sale of $LOTS lots in MariaDB"
SQL <<SQL || die "seeding MariaDB failed"
INSERT INTO accounts (role, name, email, secret_kind, secret_hash) VALUES
  ('organizer', 'Bench Organizer', 'org@bench.test', 'password', 'scrypt\$x'),
  ('buyer', 'Bench Buyer', 'buyer@bench.test', 'password', 'scrypt\$x');
INSERT INTO accounts (role, name, phone, secret_kind, secret_hash, country) VALUES
  ('miner', 'Bench Miner', '+255700000009', 'pin', 'scrypt\$x', 'TZ');
INSERT INTO associations (name, country, levy_bps) VALUES ('Bench Association', 'TZ', 100);
INSERT INTO miner_profiles (account_id, association_id, country, payout_msisdn, payout_rail)
  SELECT a.id, s.id, 'TZ', '+255700000009', 'mpesa' FROM accounts a, associations s
  WHERE a.role = 'miner';
INSERT INTO royalty_rates (country, species, form, rate_bps, effective_from) VALUES
  ('TZ', 'zoisite', 'rough', 600, '2020-01-01');
INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at, buyer_premium_bps,
  commission_bps, ladder_json, status) VALUES ((SELECT id FROM accounts WHERE role = 'organizer'),
  'Bench sale', 'timed', 'USD', UTC_TIMESTAMP(3) - INTERVAL 2 DAY,
  UTC_TIMESTAMP(3) - INTERVAL 1 DAY, 1000, 500, '[{"from_minor":0,"step_minor":100}]', 'open');
INSERT INTO stones (seller_id, listed_by, species, weight_cct, origin_country, status)
  SELECT m.id, m.id, 'zoisite', 100 + s.seq % 900, 'TZ', 'listed' FROM seq_1_to_$LOTS s,
  (SELECT id FROM accounts WHERE role = 'miner') m ORDER BY s.seq;
INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor, state)
  SELECT (SELECT id FROM sales LIMIT 1), st.id, st.rn, st.rn - 1, 100, 'open'
  FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM stones) st;
SQL
read -r sale first miner buyer < <(SQL -e "SELECT (SELECT id FROM sales LIMIT 1), MIN(l.id),
    (SELECT id FROM accounts WHERE role = 'miner'), (SELECT id FROM accounts WHERE role = 'buyer')
    FROM lots l")

say "$((LOTS * BIDS_PER_LOT)) bids and $LOTS closes in Redis"
now=$(($(date +%s) * 1000))
awk -v lots="$LOTS" -v bids="$BIDS_PER_LOT" -v first="$first" -v sale="$sale" \
    -v miner="$miner" -v buyer="$buyer" -v now="$now" '
    function rnd(n,   s, i) { s = ""; for (i = 0; i < n; i++) s = s substr(abc, int(rand() * 64) + 1, 1); return s }
    BEGIN {
        srand(1)
        abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        for (i = 0; i < lots; i++) {
            id = first + i
            printf "HSET lot:{%d}:config sale_id %d seller_id %d currency USD format 0 tender_price 0" \
                   " opening_minor 100 reserve_minor 0 starts_at_ms %d sale_ends_at_ms %d" \
                   " index_in_sale %d stagger_s 60 soft_close_s 120 ladder 0:100\n",
                   id, sale, miner, now - 172800000, now - 86400000, i
            for (b = 1; b <= bids; b++)
                printf "XADD lot:{%d}:journal %d-0 c %s\n", id, b, rnd(30)
            printf "HSET lot:{%d}:snap seq %d data %s\n", id, bids, rnd(300)
            printf "XADD outbox:settlement * lot_id %d sale_id %d seller_id %d winner %d" \
                   " hammer_minor %d currency USD result sold reason 0 seq %d ends_at_ms %d" \
                   " closed_at_ms %d format 0\n",
                   id, sale, miner, buyer, 100000 + i * 37, bids + 1, now, now
        }
    }' | rcli "$SRC_REDIS" "$SRC/secrets.env" --pipe >"$BV/fill.log" 2>&1 ||
    { cat "$BV/fill.log" >&2; die "filling Redis failed"; }

say "kitod settles the $LOTS lots"
tls_local_ca "$BV/tls"
mkdir -p "$SRC/keys"
env -i PATH="$PATH" KITO_BIND=127.0.0.1 KITO_HTTPS_PORT=$KITOD_PORT KITO_HTTP_PORT=0 \
    KITO_TLS_CERT="$BV/tls/cert.pem" KITO_TLS_KEY="$BV/tls/key.pem" \
    KITO_REDIS_HOST=127.0.0.1 KITO_REDIS_PORT=$SRC_REDIS KITO_REDIS_USER=kito \
    KITO_REDIS_PASSWORD="$KITO_REDIS_PASSWORD" KITO_MYSQL_HOST=127.0.0.1 \
    KITO_MYSQL_PORT=$SRC_MYSQL KITO_MYSQL_USER=kito KITO_MYSQL_PASSWORD="$KITO_MYSQL_PASSWORD" \
    KITO_MYSQL_DB=kito KITO_STOREFRONT_DIR="$ROOT/storefront" \
    KITO_SIGNING_KEY="$SRC/keys/signing-ed25519.pem" KITO_PHOTO_DIR="$SRC/photos" \
    KITO_ACCESS_LOG="$BV/access.log" "$BUILD/api/kitod" >"$BV/kitod.log" 2>&1 &
kitod_pid=$!
for i in $(seq 1 6000); do
    n=$(SQL -e 'SELECT COUNT(*) FROM settlements' 2>/dev/null || echo 0)
    [ "$n" = "$LOTS" ] && break
    kill -0 "$kitod_pid" 2>/dev/null || { tail -20 "$BV/kitod.log" >&2; die "kitod stopped"; }
    sleep 0.1
done
[ "$n" = "$LOTS" ] || die "kitod settled $n of $LOTS lots in 10 minutes"
kill -TERM "$kitod_pid" && wait "$kitod_pid"
kitod_pid=

# ---- backup, floor, restore --------------------------------------------------------------------
t0=$(now_s)
backup_take "$BV/backup" "$SRC" "$SRC_REDIS" "$SRC_MYSQL"
t1=$(now_s)
bytes=$(du -sb "$BV/backup" | cut -f1)
cp -a "$BV/backup" "$BV/copy" && find "$BV/copy" -type f -exec sync {} + || die "cp failed"
t2=$(now_s)
backup_restore "$BV/backup" "$DST" "$DST_REDIS" "$DST_MYSQL" strict
t3=$(now_s)
say "backup $(elapsed "$t0" "$t1") s ($bytes bytes), copy $(elapsed "$t1" "$t2") s," \
    "restore $(elapsed "$t2" "$t3") s"

# ---- check what was measured -----------------------------------------------------------------
kito_checksums "$DST" "$DST_REDIS" "$DST_MYSQL" >"$BV/dst.sums"
kito_checksums "$SRC" "$SRC_REDIS" "$SRC_MYSQL" >"$BV/src.sums"
cmp -s "$BV/src.sums" "$BV/dst.sums" || { diff "$BV/src.sums" "$BV/dst.sums" | head >&2
    die "the restored copy differs from the source"; }
grep -q "^table settlements rows $LOTS " "$BV/dst.sums" || die "the copy lacks settlements"
grep -q "^books streams $((LOTS + 1)) entries $((LOTS * BIDS_PER_LOT + LOTS)) " "$BV/dst.sums" ||
    die "the copy lacks journal entries: $(grep '^books' "$BV/dst.sums")"
grep -v '^stream' "$BV/dst.sums" >&2

cleanup
trap - EXIT
[ -n "${BENCH_BACKUP_KEEP:-}" ] || rm -rf "$BV" # BENCH_BACKUP_KEEP=1: keep it to look at
echo "BENCH backup_restore_s $(elapsed "$t2" "$t3")"
echo "BENCH backup_copy_floor_s $(elapsed "$t1" "$t2")"
echo "BENCH backup_take_s $(elapsed "$t0" "$t1")"
echo "BENCH backup_bytes $bytes"
