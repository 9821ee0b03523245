# Shared shell functions for ops/kito and the test harness. Sourced, never run.
# Every service here binds to 127.0.0.1 and keeps its data under $KITO_VAR (git-ignored).

KITO_ROOT=${KITO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
VAR=${KITO_VAR:-$KITO_ROOT/var}
# The test command's services use their own ports and folder, so tests never touch the demo.
TEST_VAR=$VAR/test
TEST_REDIS_PORT=${KITO_TEST_REDIS_PORT:-6391}
TEST_MYSQL_PORT=${KITO_TEST_MYSQL_PORT:-3317}

# Debian packages the build, the services and the tests need. Browser-test packages are separate
# because only the test command needs them.
KITO_PACKAGES="build-essential cmake pkg-config clang-format libh2o-dev libuv1-dev libwslay-dev
libssl-dev openssl libhiredis-dev libmariadb-dev libjansson-dev libcriterion-dev
libcurl4-openssl-dev libnghttp2-dev libjpeg-dev libpng-dev redis-server redis-tools mariadb-server mariadb-client
curl ca-certificates jq nghttp2-client wrk testssl.sh bsdextrautils john-data systemd
libqrencode-dev zbar-tools tzdata"
KITO_BROWSER_PACKAGES="chromium"

log() { printf '\033[1m[kito]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[kito] error:\033[0m %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG...: installs the missing ones; silent when nothing is missing.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Debian's service scripts must not start system-wide Redis/MariaDB on install: ours run privately.
    local prc=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod +x "$prc"; created=1; fi
    if ! apt-get install -y -qq "${missing[@]}" >"${TMPDIR:-/tmp}/kito-apt.log" 2>&1; then
        apt-get update -qq >/dev/null 2>&1
        apt-get install -y -qq "${missing[@]}" >"${TMPDIR:-/tmp}/kito-apt.log" 2>&1 ||
            { [ $created = 1 ] && rm -f "$prc"; cat "${TMPDIR:-/tmp}/kito-apt.log" >&2; die "apt-get install failed"; }
    fi
    [ $created = 1 ] && rm -f "$prc"
    return 0
}

# build_tree DIR [cmake args...]: configures once, then builds incrementally.
build_tree() {
    local dir=$1; shift
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S "$KITO_ROOT" -B "$dir" "$@" >/dev/null || die "cmake configure failed"
    fi
    # The build's own status, whatever the shell's options (with pipefail, the old
    # `cmake ... | grep ... || true` then PIPESTATUS read the status of `true`: a failed build
    # passed, and the tests ran the binaries of the last good one).
    { local rc=0; cmake --build "$dir" -j"$(nproc)" 2>&1 || rc=$?; echo $rc >"$dir/.build-status"; } |
        { grep -Ev '^\[ *[0-9]+%\] (Building|Linking|Built)|^Consolidate|^Scanning' || true; }
    [ "$(cat "$dir/.build-status")" = 0 ] || die "build failed"
}

# ---- secrets ---------------------------------------------------------------------------------
# One stack's generated secrets live in one file (var/secrets.env; mode 0600, git-ignored, never
# committed), as NAME=value lines a shell can source:
#   KITO_MYSQL_PASSWORD        MariaDB's application user kito@127.0.0.1
#   KITO_REDIS_PASSWORD        Redis's ACL user kito (kitod's: no admin or dangerous commands)
#   KITO_REDIS_ADMIN_PASSWORD  Redis's default user (the operator's: ops scripts, redis-cli)
# secrets_ensure FILE adds whichever are missing (an older file gains the new ones).
KITO_SECRET_NAMES="KITO_MYSQL_PASSWORD KITO_REDIS_PASSWORD KITO_REDIS_ADMIN_PASSWORD"
secrets_ensure() {
    local f=$1 name
    (umask 077 && mkdir -p "$(dirname "$f")" && touch "$f") || die "cannot create $f"
    chmod 600 "$f"
    for name in $KITO_SECRET_NAMES; do
        grep -q "^$name=." "$f" || printf '%s=%s\n' "$name" "$(openssl rand -hex 24)" >>"$f"
    done
}

# secret_get FILE NAME: the value of NAME in FILE ("" when absent).
secret_get() { [ -f "$1" ] && sed -n "s/^$2=//p" "$1" | tail -1; return 0; }

# rcli PORT SECRETS ARGS...: redis-cli as Redis's default user (the operator), the password passed
# in the environment (REDISCLI_AUTH), never on a command line that `ps` shows.
rcli() {
    local port=$1 secrets=$2
    shift 2
    REDISCLI_AUTH=$(secret_get "$secrets" KITO_REDIS_ADMIN_PASSWORD) \
        redis-cli --no-auth-warning -p "$port" "$@"
}

# ---- Redis ------------------------------------------------------------------------------------
# Access (issue 15, finding 2; ops/REDIS.md, "Access"): the default user needs the admin password
# (a redis-cli without it gets NOAUTH), kitod AUTHs as user kito, which may not run admin or
# dangerous commands (CONFIG, SHUTDOWN, FLUSHALL, KEYS, DEBUG, ...). The users are written to
# DIR/users.acl (0600, passwords as SHA-256) from SECRETS at every start. The folder is 0700 and
# its files 0600 (the append-only file holds reserves and sealed bids in plain text): Redis runs
# under umask 077.

# redis_acl_write DIR SECRETS: DIR/users.acl from the passwords in SECRETS.
redis_acl_write() {
    local dir=$1 secrets=$2 app admin
    app=$(printf %s "$(secret_get "$secrets" KITO_REDIS_PASSWORD)" | sha256sum | cut -d' ' -f1)
    admin=$(printf %s "$(secret_get "$secrets" KITO_REDIS_ADMIN_PASSWORD)" | sha256sum | cut -d' ' -f1)
    (umask 077
     printf '%s\n' "user default on #$admin ~* &* +@all" \
         "user kito on #$app ~* &* +@all -@admin -@dangerous" >"$dir/users.acl")
}

# redis_start DIR PORT [PROFILE [SECRETS]]: PROFILE is strict (appendfsync always, default) or
# fast (appendfsync everysec), or the path of a configuration file (a cluster node's, which
# includes a profile); SECRETS defaults to DIR's parent's secrets.env. Reuses a running
# instance on PORT that takes the password; restarts one that needs none (started before the ACL).
redis_start() {
    local dir=$1 port=$2 profile=${3:-strict} secrets=${4:-$(dirname "$1")/secrets.env} pong
    secrets_ensure "$secrets"
    (umask 077 && mkdir -p "$dir")
    chmod 700 "$dir"
    pong=$(redis-cli -p "$port" ping 2>/dev/null || true)
    if [ "$pong" = PONG ]; then
        log "Redis on port $port needs no password: restarting it with the ACL users"
        redis_stop "$dir" "$port" "$secrets"
    elif [ -n "$pong" ]; then
        [ "$(rcli "$port" "$secrets" ping 2>/dev/null)" = PONG ] ||
            die "Redis on port $port does not take the admin password in $secrets"
        chmod -R go-rwx "$dir"
        return 0
    fi
    redis_acl_write "$dir" "$secrets"
    chmod -R go-rwx "$dir"
    local conf=$KITO_ROOT/ops/redis/$profile.conf
    [[ $profile == */* ]] && conf=$profile
    (umask 077
     redis-server "$conf" --port "$port" --bind 127.0.0.1 \
         --dir "$dir" --aclfile "$dir/users.acl" --daemonize yes --pidfile "$dir/redis.pid" \
         --logfile "$dir/redis.log") || die "redis-server failed to start (see $dir/redis.log)"
    local i
    for i in $(seq 1 300); do
        # PONG only once the append-only file is loaded (before that Redis answers LOADING)
        [ "$(rcli "$port" "$secrets" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    die "redis did not answer on port $port (see $dir/redis.log)"
}

# redis_stop DIR PORT [SECRETS]: SHUTDOWN as the admin; a Redis that does not take the password
# gets SIGTERM through DIR/redis.pid (Redis shuts down cleanly on it).
redis_stop() {
    local dir=$1 port=$2 secrets=${3:-$(dirname "$1")/secrets.env} pid i
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
        redis-cli -p "$port" shutdown >/dev/null 2>&1 || true # one from before the ACL
    else
        rcli "$port" "$secrets" shutdown >/dev/null 2>&1 || true
    fi
    pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        [ "$i" = 20 ] && kill -TERM "$pid" 2>/dev/null
        sleep 0.1
    done
}

# ---- MariaDB ----------------------------------------------------------------------------------
# Access (issue 15, finding 2): root signs in by the unix socket only (unix_socket: the OS user
# root), never over TCP; the application signs in as kito@127.0.0.1 with its password. The
# folder is 0700 and its files 0600 (UMASK and UMASK_DIR are mariadbd's modes for new files and
# folders).

# mysql_start DIR PORT [OPTION...]: initialises the data folder on first use, then starts mariadbd
# (with the options given: a replication node's server id and binary log, say).
mysql_start() {
    local dir=$1 port=$2 extra=("${@:3}")
    (umask 077 && mkdir -p "$dir")
    chmod 700 "$dir"
    if mariadb-admin --socket="$dir/mysql.sock" -uroot ping >/dev/null 2>&1; then
        chmod -R go-rwx "$dir"
        mysql_harden "$dir"
        return 0
    fi
    # temporary tables and sort files go to the private folder too, not the shared /tmp (where
    # they were readable by the group and, in containers sharing /tmp, collided by name)
    (umask 077 && mkdir -p "$dir/tmp")
    if [ ! -d "$dir/data/mysql" ]; then
        (umask 077
         UMASK=0600 UMASK_DIR=0700 mariadb-install-db --no-defaults --datadir="$dir/data" \
             --tmpdir="$dir/tmp" --user=root --auth-root-authentication-method=socket \
             >"$dir/install.log" 2>&1) ||
            { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
    fi
    chmod -R go-rwx "$dir"
    (umask 077
     UMASK=0600 UMASK_DIR=0700 setsid mariadbd --defaults-file="$KITO_ROOT/ops/mariadb/kito.cnf" \
         --datadir="$dir/data" --socket="$dir/mysql.sock" --port="$port" --bind-address=127.0.0.1 \
         --tmpdir="$dir/tmp" --user=root --pid-file="$dir/mysqld.pid" \
         --log-error="$dir/mysqld.err" "${extra[@]}" </dev/null >/dev/null 2>&1 &)
    local i
    for i in $(seq 1 300); do
        if mariadb-admin --socket="$dir/mysql.sock" -uroot ping >/dev/null 2>&1; then
            mysql_harden "$dir"
            return 0
        fi
        sleep 0.1
    done
    tail -20 "$dir/mysqld.err" >&2
    die "mariadbd did not start on port $port"
}

# mysql_harden DIR: root by the socket only, no other root and no anonymous accounts. A data
# folder made before (--auth-root-authentication-method=normal: root with no password, also over
# TCP as root@127.0.0.1) is brought in line; a no-op on one made by mysql_start.
mysql_harden() {
    local dir=$1 drops
    drops=$(mariadb --socket="$dir/mysql.sock" -uroot -N -B -e "SELECT CONCAT('DROP USER ',
        QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = '' OR
        (User = 'root' AND Host <> 'localhost')") || die "cannot read MariaDB's accounts"
    # not written to the binary log: each node of a replicated pair hardens its own accounts (a
    # primary's DROP USER replayed on a replica that already dropped the account stops replication)
    mariadb --socket="$dir/mysql.sock" -uroot <<SQL || die "cannot restrict MariaDB's root"
SET SESSION sql_log_bin = 0;
$drops
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket;
SQL
}

mysql_stop() {
    local dir=$1
    mariadb-admin --socket="$dir/mysql.sock" -uroot shutdown >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 100); do
        [ -f "$dir/mysqld.pid" ] && kill -0 "$(cat "$dir/mysqld.pid")" 2>/dev/null || return 0
        sleep 0.1
    done
}

# mysql_bootstrap DIR DB SECRETS_FILE: creates the database and the application user with a random
# password kept in SECRETS_FILE (mode 0600, never committed). Idempotent.
mysql_bootstrap() {
    local dir=$1 db=$2 secrets=$3
    secrets_ensure "$secrets"
    # shellcheck disable=SC1090
    . "$secrets"
    mariadb --socket="$dir/mysql.sock" -uroot <<SQL || die "could not create database $db"
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'kito'@'127.0.0.1' IDENTIFIED BY '$KITO_MYSQL_PASSWORD';
ALTER USER 'kito'@'127.0.0.1' IDENTIFIED BY '$KITO_MYSQL_PASSWORD';
GRANT ALL PRIVILEGES ON \`$db\`.* TO 'kito'@'127.0.0.1';
SQL
}

# tls_local_ca DIR: a private certificate authority (ca.pem) and a certificate for localhost and
# 127.0.0.1 signed by it (cert.pem + key.pem, ECDSA P-256), unless DIR already holds them. Clients
# that trust ca.pem verify kitod for real; a browser asks once. An operator with a real
# certificate points KITO_TLS_CERT and KITO_TLS_KEY at it instead.
tls_local_ca() {
    local dir=$1
    mkdir -p "$dir"
    [ -s "$dir/ca.pem" ] && [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && return 0
    (umask 077
     set -e
     openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
         -subj "/O=Kito local/CN=Kito local CA" -days 3650 \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
         -keyout "$dir/ca-key.pem" -out "$dir/ca.pem"
     openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
         -subj /CN=localhost -keyout "$dir/key.pem" -out "$dir/leaf.csr"
     printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
         'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
         'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$dir/leaf.ext"
     openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
         -CAcreateserial -days 365 -sha256 -extfile "$dir/leaf.ext" -out "$dir/cert.pem"
     rm -f "$dir/leaf.csr" "$dir/leaf.ext" "$dir/ca.srl") >/dev/null 2>&1 ||
        die "openssl could not create the local certificates"
    chmod 644 "$dir/ca.pem" "$dir/cert.pem"
}

# Test services: a fresh database every run, on ports apart from the demo's.
test_services_start() {
    # a fresh Redis every run: no journal, outbox or consumer group of an earlier run
    redis_stop "$TEST_VAR/redis" "$TEST_REDIS_PORT"
    rm -rf "$TEST_VAR/redis"
    redis_start "$TEST_VAR/redis" "$TEST_REDIS_PORT" strict
    [ "$(rcli "$TEST_REDIS_PORT" "$TEST_VAR/secrets.env" flushall)" = OK ] ||
        die "cannot empty the test Redis"
    mysql_start "$TEST_VAR/mysql" "$TEST_MYSQL_PORT"
    mariadb --socket="$TEST_VAR/mysql/mysql.sock" -uroot -e 'DROP DATABASE IF EXISTS kito'
    mysql_bootstrap "$TEST_VAR/mysql" kito "$TEST_VAR/secrets.env"
    "$KITO_ROOT/ops/migrate.sh" --socket="$TEST_VAR/mysql/mysql.sock" -uroot kito
    tls_local_ca "$TEST_VAR/tls"
}

test_services_stop() {
    redis_stop "$TEST_VAR/redis" "$TEST_REDIS_PORT"
    mysql_stop "$TEST_VAR/mysql"
}


# redis_kill DIR: SIGKILL, as a crash would (the fault tests use it).
redis_kill() {
    local dir=$1 pid
    pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 0
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$dir/redis.pid"
}
