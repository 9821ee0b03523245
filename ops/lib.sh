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
libcurl4-openssl-dev libnghttp2-dev redis-server redis-tools mariadb-server mariadb-client
curl ca-certificates jq nghttp2-client wrk testssl.sh bsdextrautils john-data"
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

# redis_start DIR PORT [PROFILE]: PROFILE is strict (appendfsync always, default) or fast
# (appendfsync everysec). Reuses a running instance on PORT.
redis_start() {
    local dir=$1 port=$2 profile=${3:-strict}
    mkdir -p "$dir"
    if redis-cli -p "$port" ping >/dev/null 2>&1; then return 0; fi
    redis-server "$KITO_ROOT/ops/redis/$profile.conf" --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" ||
        die "redis-server failed to start (see $dir/redis.log)"
    local i
    for i in $(seq 1 300); do
        # PONG only once the append-only file is loaded (before that Redis answers LOADING)
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    die "redis did not answer on port $port (see $dir/redis.log)"
}

redis_stop() {
    local dir=$1 port=$2
    redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do
        [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null || return 0
        sleep 0.1
    done
}

# mysql_start DIR PORT: initialises the data folder on first use, then starts mariadbd.
mysql_start() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    if mariadb-admin --socket="$dir/mysql.sock" -uroot ping >/dev/null 2>&1; then return 0; fi
    if [ ! -d "$dir/data/mysql" ]; then
        mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
            --auth-root-authentication-method=normal >"$dir/install.log" 2>&1 ||
            { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
    fi
    (setsid mariadbd --defaults-file="$KITO_ROOT/ops/mariadb/kito.cnf" --datadir="$dir/data" \
        --socket="$dir/mysql.sock" --port="$port" --bind-address=127.0.0.1 --user=root \
        --pid-file="$dir/mysqld.pid" --log-error="$dir/mysqld.err" </dev/null >/dev/null 2>&1 &)
    local i
    for i in $(seq 1 300); do
        mariadb-admin --socket="$dir/mysql.sock" -uroot ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -20 "$dir/mysqld.err" >&2
    die "mariadbd did not start on port $port"
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
    if [ ! -s "$secrets" ]; then
        umask 077
        printf 'KITO_MYSQL_PASSWORD=%s\n' "$(openssl rand -hex 24)" >"$secrets"
    fi
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
    [ "$(redis-cli -p "$TEST_REDIS_PORT" flushall)" = OK ] || die "cannot empty the test Redis"
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
