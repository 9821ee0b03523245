# Backups, restores and the checksums that prove them (issue 15; the runbook is ops/BACKUP.md).
# Sourced by ops/kito after lib.sh, never run. Each function works on one stack, named by its
# folder (VAR: secrets.env, redis/, mysql/, keys/, photos/) and its two ports.

BACKUP_FORMAT=kito-backup/1
BACKUP_DB=kito
BACKUP_OUTBOX=outbox:settlement
# The tables money moves through: what a restore must bring back to the row.
MONEY_TABLES="settlements invoices payments mpesa_c2b_payments ledger_transactions ledger_entries payouts payout_attempts"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; } # elapsed T0 T1

# backup_take OUT VAR REDIS_PORT MYSQL_PORT: an online backup of the running stores into the new
# folder OUT (0700, files 0600): redis.rdb, mysql.sql.gz, keys/, photos/, manifest.txt and
# SHA256SUMS. It is written as OUT.partial and renamed when complete, so a folder named OUT is
# always a whole backup.
#
# Order matters (ops/BACKUP.md, "Consistency"): Redis first, MySQL second. The settlement worker
# acknowledges an outbox entry only after its MySQL transaction committed, so every entry the
# Redis copy shows as acknowledged has its settlement in the later MySQL snapshot; entries settled
# in between are settled again after a restore, and settlement is idempotent per lot.
backup_take() {
    local out=$1 var=$2 rport=$3 mport=$4 secrets=$2/secrets.env sock=$2/mysql/mysql.sock
    local tmp=$out.partial t0 t_redis t_mysql latest
    [ ! -e "$out" ] || die "$out exists: each backup goes into a new folder"
    [ "$(rcli "$rport" "$secrets" ping 2>/dev/null)" = PONG ] ||
        die "Redis does not answer on port $rport with the admin password in $secrets"
    mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1 ||
        die "MariaDB does not answer on $sock"
    rm -rf "$tmp"
    (umask 077 && mkdir -p "$tmp") || die "cannot create $tmp"
    t0=$(now_s)

    # Redis: a point-in-time RDB from a fork (what a replica's first sync gets), streamed to us;
    # the server's own folder is not touched and writes go on meanwhile. (A Redis started before
    # ops/redis/*.conf said so would wait 5 s for more replicas first.)
    rcli "$rport" "$secrets" config set repl-diskless-sync-delay 0 >/dev/null
    rcli "$rport" "$secrets" --rdb "$tmp/redis.rdb" >"$tmp/redis-rdb.log" 2>&1 ||
        { cat "$tmp/redis-rdb.log" >&2; die "the Redis copy failed"; }
    rm -f "$tmp/redis-rdb.log"
    t_redis=$(now_s)

    # MySQL: one consistent InnoDB snapshot (REPEATABLE READ), no table locks
    latest=$(mariadb --socket="$sock" -uroot -N -B "$BACKUP_DB" -e \
        "SELECT CONCAT(version, ' ', name) FROM schema_migrations ORDER BY version DESC LIMIT 1")
    (umask 077
     set -o pipefail
     mariadb-dump --socket="$sock" -uroot --single-transaction --quick --hex-blob --routines \
         --triggers --events --default-character-set=utf8mb4 --databases "$BACKUP_DB" |
         gzip -1 >"$tmp/mysql.sql.gz") || die "the MySQL dump failed"
    t_mysql=$(now_s)

    # the platform's signing key (certificates are verified against it: without it every
    # certificate issued so far fails verification) and the stone photos (content-addressed)
    local d
    for d in keys photos; do
        if [ -d "$var/$d" ]; then cp -a "$var/$d" "$tmp/$d" || die "cannot copy $var/$d"; fi
    done

    {
        echo "format $BACKUP_FORMAT"
        echo "created_at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "host $(hostname)"
        echo "kito_commit $(git -C "$KITO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
        echo "redis_version $(rcli "$rport" "$secrets" info server | sed -n 's/^redis_version:\([^\r]*\).*/\1/p')"
        echo "mariadb_version $(mariadb --socket="$sock" -uroot -N -B -e 'SELECT VERSION()')"
        echo "database $BACKUP_DB"
        echo "schema $latest"
        echo "redis_copy_s $(elapsed "$t0" "$t_redis")"
        echo "mysql_dump_s $(elapsed "$t_redis" "$t_mysql")"
    } >"$tmp/manifest.txt"
    (cd "$tmp" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort |
        xargs -r -d '\n' sha256sum >SHA256SUMS) || die "cannot write the checksums"
    chmod -R go-rwx "$tmp"
    mv "$tmp" "$out" || die "cannot rename $tmp to $out"
    log "backup in $out ($(du -sh "$out" | cut -f1); Redis $(elapsed "$t0" "$t_redis") s," \
        "MySQL $(elapsed "$t_redis" "$t_mysql") s)"
}

# backup_verify DIR: the folder is a whole backup of this format and every file matches
# SHA256SUMS (none missing, none added). Dies otherwise.
backup_verify() {
    local dir=$1 listed present
    [ -f "$dir/manifest.txt" ] && [ -f "$dir/SHA256SUMS" ] || die "$dir is not a Kito backup"
    grep -qx "format $BACKUP_FORMAT" "$dir/manifest.txt" ||
        die "$dir is not a backup of format $BACKUP_FORMAT"
    (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS) ||
        die "$dir is damaged: its files do not match SHA256SUMS"
    listed=$(sed 's/^[0-9a-f]*  //' "$dir/SHA256SUMS" | LC_ALL=C sort)
    present=$(cd "$dir" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort)
    [ "$listed" = "$present" ] || die "$dir has files that SHA256SUMS does not list"
}

# redis_load_rdb DIR PORT PROFILE SECRETS RDB: a fresh Redis in DIR holding the RDB's data in its
# append-only file. Redis 7 ignores an RDB when appendonly is on and no AOF exists, so: start with
# appendonly off on the RDB, switch it on (Redis rewrites the AOF from memory), wait for the
# rewrite, shut down, and start as usual (redis_start) on the new AOF.
redis_load_rdb() {
    local dir=$1 port=$2 profile=$3 secrets=$4 rdb=$5 i info
    (umask 077 && mkdir -p "$dir" && cp "$rdb" "$dir/dump.rdb") || die "cannot copy the RDB"
    chmod 700 "$dir"
    redis_acl_write "$dir" "$secrets"
    (umask 077
     redis-server "$KITO_ROOT/ops/redis/$profile.conf" --appendonly no --dbfilename dump.rdb \
         --port "$port" --bind 127.0.0.1 --dir "$dir" --aclfile "$dir/users.acl" \
         --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log") ||
        die "redis-server failed to start (see $dir/redis.log)"
    for i in $(seq 1 600); do
        [ "$(rcli "$port" "$secrets" ping 2>/dev/null)" = PONG ] && break
        sleep 0.1
    done
    [ "$(rcli "$port" "$secrets" config set appendonly yes 2>&1)" = OK ] ||
        die "Redis did not take appendonly (see $dir/redis.log)"
    for i in $(seq 1 3000); do
        info=$(rcli "$port" "$secrets" info persistence | tr -d '\r')
        if grep -qx 'aof_rewrite_in_progress:0' <<<"$info" &&
            grep -qx 'aof_rewrite_scheduled:0' <<<"$info" && ! grep -qx 'aof_rewrites:0' <<<"$info"; then
            grep -qx 'aof_last_bgrewrite_status:ok' <<<"$info" ||
                die "Redis could not write the append-only file (see $dir/redis.log)"
            break
        fi
        sleep 0.1
    done
    redis_stop "$dir" "$port" "$secrets"
    rm -f "$dir/dump.rdb"
    redis_start "$dir" "$port" "$profile" "$secrets"
}

# backup_restore DIR VAR REDIS_PORT MYSQL_PORT [PROFILE]: the backup in DIR onto fresh folders
# under VAR (no redis/ or mysql/ data there yet), served on the two ports (nothing may listen on
# them): checks the backup, starts Redis and MariaDB, loads them, makes the application users
# with VAR's own secrets (generated when VAR has none), puts back the signing key and photos.
# Leaves both stores running.
backup_restore() {
    local dir=$1 var=$2 rport=$3 mport=$4 profile=${5:-strict} secrets=$2/secrets.env p
    backup_verify "$dir"
    for p in "$var/redis/appendonlydir" "$var/redis/dump.rdb" "$var/mysql/data"; do
        [ ! -e "$p" ] || die "$p exists: a restore goes onto fresh folders (move it away first)"
    done
    port_in_use "$rport" && die "port $rport is in use: stop what listens there first"
    port_in_use "$mport" && die "port $mport is in use: stop what listens there first"
    if [ -f "$dir/keys/signing-ed25519.pem" ] && [ -f "$var/keys/signing-ed25519.pem" ] &&
        ! cmp -s "$dir/keys/signing-ed25519.pem" "$var/keys/signing-ed25519.pem"; then
        die "$var/keys holds another signing key: move it away first"
    fi
    secrets_ensure "$secrets"
    local t0 t1 t2 t3
    t0=$(now_s)

    redis_load_rdb "$var/redis" "$rport" "$profile" "$secrets" "$dir/redis.rdb"
    t1=$(now_s)

    mysql_start "$var/mysql" "$mport"
    t2=$(now_s)
    (set -o pipefail
     gunzip -c "$dir/mysql.sql.gz" | mariadb --socket="$var/mysql/mysql.sock" -uroot) ||
        die "loading the MySQL dump failed"
    mysql_bootstrap "$var/mysql" "$BACKUP_DB" "$secrets"
    t3=$(now_s)
    log "restore: Redis $(elapsed "$t0" "$t1") s, a fresh MariaDB $(elapsed "$t1" "$t2") s," \
        "the dump loaded $(elapsed "$t2" "$t3") s"

    for p in keys photos; do
        [ -d "$dir/$p" ] || continue
        (umask 077 && mkdir -p "$var/$p" && cp -a "$dir/$p/." "$var/$p/") ||
            die "cannot restore $p"
    done
}

# kito_checksums VAR REDIS_PORT MYSQL_PORT [UPTO]: what a restore must reproduce, one line each:
#   table NAME rows N max_id M sha256 H      every money table (MONEY_TABLES), rows in id order
#   stream KEY entries N                     every journal stream and the settlement outbox
#   books streams K entries N sha256 H       all of those streams' entries, in key order
# With UPTO (a file of these lines, e.g. from a restored copy), each table is read only up to
# its max_id there and only the streams listed there, each up to its entries: the source as it
# was when the backup was taken, while it goes on taking bids and settling (ops/BACKUP.md,
# "Drill"). The hashes cover every column and every entry's id and fields.
kito_checksums() {
    local var=$1 rport=$2 mport=$3 upto=${4:-} secrets=$1/secrets.env sock=$1/mysql/mysql.sock
    local t bound where stats rows max streams keys key n total=0 count=0
    local sql=(mariadb --socket="$sock" -uroot -N -B "$BACKUP_DB")
    for t in $MONEY_TABLES; do
        where=
        if [ -n "$upto" ]; then
            bound=$(awk -v t="$t" '$1 == "table" && $2 == t { print $6 }' "$upto")
            where="WHERE id <= ${bound:-0}"
        fi
        stats=$("${sql[@]}" -e "SELECT COUNT(*), IFNULL(MAX(id), 0) FROM $t $where") ||
            die "cannot read $t"
        read -r rows max <<<"$stats"
        echo "table $t rows $rows max_id $max sha256 $("${sql[@]}" --quick -e \
            "SELECT * FROM $t $where ORDER BY id" | sha256sum | cut -d' ' -f1)"
    done
    if [ -n "$upto" ]; then
        streams=$(awk '$1 == "stream" { print $2, $4 }' "$upto")
    else
        # one redis-cli for all the XLENs (commands on stdin, answers in order)
        keys=$({ rcli "$rport" "$secrets" --scan --pattern 'lot:*:journal'
                 echo "$BACKUP_OUTBOX"; } | LC_ALL=C sort -u)
        streams=$(paste -d' ' <(echo "$keys") \
            <(sed 's/^/XLEN /' <<<"$keys" | rcli "$rport" "$secrets"))
    fi
    while read -r key n; do
        [ -n "$key" ] || continue
        echo "stream $key entries $n"
        total=$((total + n))
        count=$((count + 1))
    done <<<"$streams"
    echo "books streams $count entries $total sha256 $(
        while read -r key n; do
            [ -n "$key" ] && [ "$n" -gt 0 ] && echo "XRANGE $key - + COUNT $n"
        done <<<"$streams" | rcli "$rport" "$secrets" | sha256sum | cut -d' ' -f1)"
}
