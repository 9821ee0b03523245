#!/usr/bin/env bash
# ops/kito cluster up|down|status [redis|mysql] and ops/kito cluster promote: the stores of several
# nodes on loopback (issue 20; ops/SCALE.md), each part alone or both (the default):
#   redis  a Redis Cluster, three masters with a replica each. Each node is a Redis like the single
#          one (lib.sh's redis_start: the strict profile, the ACL users from the stack's secrets, a
#          0700 folder), plus cluster mode. Replicas authenticate to their masters as the default
#          (operator) user; the password is in the node's 0600 configuration file, never on a
#          command line.
#   mysql  MariaDB, a primary and a replica: GTID replication, semi-synchronous (a commit returns
#          once the replica has the transaction in its relay log, or after
#          KITO_CLUSTER_SEMISYNC_TIMEOUT_MS without it: then the primary carries on alone and says so
#          in its error log), the replica read-only. The replica signs in as repl@127.0.0.1 (its
#          password, KITO_MYSQL_REPL_PASSWORD, in the secrets file). The database and the kito user
#          are made on the primary and replicate.
#   promote  the runbook's automatic step when the primary is lost (ops/SCALE.md, "MariaDB primary
#          lost"): the replica applies what it received, stops replicating, and takes writes.
#
#   KITO_CLUSTER_PORTS       six ports, masters first (default 7001 ... 7006); each node's cluster
#                            bus is its port + 10000
#   KITO_CLUSTER_VAR         folder of the nodes (default $KITO_VAR/cluster)
#   KITO_CLUSTER_SECRETS     the secrets file (default $KITO_VAR/secrets.env; made if missing)
#   KITO_CLUSTER_NODE_TIMEOUT_MS  how long a master may be unreachable before its replica is
#                            promoted (default 1000; Redis's own default is 15000)
#   KITO_CLUSTER_MYSQL_PORTS the MariaDB primary's and replica's ports (default 3411 3412)
#   KITO_CLUSTER_SEMISYNC_TIMEOUT_MS  (default 2000)
#
# up is idempotent: running nodes are kept, and the cluster is created only when its nodes know
# no slots yet. It returns once every slot is served and every replica is in sync.
set -euo pipefail
# shellcheck source=ops/lib.sh
. "$(dirname "$0")/lib.sh"

read -r -a PORTS <<<"${KITO_CLUSTER_PORTS:-7001 7002 7003 7004 7005 7006}"
DIR=${KITO_CLUSTER_VAR:-$VAR/cluster}
SECRETS=${KITO_CLUSTER_SECRETS:-$VAR/secrets.env}
NODE_TIMEOUT=${KITO_CLUSTER_NODE_TIMEOUT_MS:-1000}
read -r -a MYSQL_PORTS <<<"${KITO_CLUSTER_MYSQL_PORTS:-3411 3412}"
SEMISYNC_TIMEOUT=${KITO_CLUSTER_SEMISYNC_TIMEOUT_MS:-2000}
[ ${#PORTS[@]} -eq 6 ] || die "KITO_CLUSTER_PORTS must name six ports (three masters, three replicas)"
[ ${#MYSQL_PORTS[@]} -eq 2 ] || die "KITO_CLUSTER_MYSQL_PORTS must name two ports (primary, replica)"

node_conf() { # node_conf PORT: the node's configuration file (0600)
    local port=$1 d=$DIR/node-$1
    (umask 077 && mkdir -p "$d"
     printf '%s\n' "include $KITO_ROOT/ops/redis/strict.conf" \
         "cluster-enabled yes" "cluster-config-file nodes.conf" \
         "cluster-node-timeout $NODE_TIMEOUT" \
         "masteruser default" "masterauth $(secret_get "$SECRETS" KITO_REDIS_ADMIN_PASSWORD)" \
         >"$d/node.conf")
    echo "$d/node.conf"
}

known_slots() { rcli "$1" "$SECRETS" cluster info 2>/dev/null | sed -n 's/^cluster_slots_assigned:\([0-9]*\).*/\1/p'; }
state_ok() { rcli "$1" "$SECRETS" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
replica_synced() { rcli "$1" "$SECRETS" info replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up'; }

cmd_up_redis() {
    secrets_ensure "$SECRETS"
    (umask 077 && mkdir -p "$DIR")
    local p i
    for p in "${PORTS[@]}"; do
        redis_start "$DIR/node-$p" "$p" "$(node_conf "$p")" "$SECRETS"
    done
    if [ "$(known_slots "${PORTS[0]}")" = 0 ]; then
        log "creating the cluster: masters ${PORTS[*]:0:3}, replicas ${PORTS[*]:3:3}"
        local nodes=()
        for p in "${PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
        (umask 077
         REDISCLI_AUTH=$(secret_get "$SECRETS" KITO_REDIS_ADMIN_PASSWORD) \
             redis-cli --no-auth-warning --cluster create "${nodes[@]}" --cluster-replicas 1 \
             --cluster-yes >"$DIR/create.log" 2>&1) || die "redis-cli --cluster create failed (see $DIR/create.log)"
    fi
    for i in $(seq 1 600); do
        local ok=1
        for p in "${PORTS[@]}"; do state_ok "$p" || ok=0; done
        local synced=0
        for p in "${PORTS[@]}"; do replica_synced "$p" && synced=$((synced + 1)); done
        [ "$ok" = 1 ] && [ "$synced" -ge 3 ] && { log "cluster up: ${PORTS[*]}"; return 0; }
        sleep 0.1
    done
    die "the cluster did not reach cluster_state:ok with three synced replicas (see $DIR/node-*/redis.log)"
}

cmd_down_redis() {
    local p
    for p in "${PORTS[@]}"; do
        [ -d "$DIR/node-$p" ] && redis_stop "$DIR/node-$p" "$p" "$SECRETS"
    done
    return 0
}

# ---- MariaDB: a primary and a replica --------------------------------------------------------
PRIMARY_DIR=$DIR/mysql-primary REPLICA_DIR=$DIR/mysql-replica
msql() { mariadb --socket="$1/mysql.sock" -uroot -N -B "${@:2}"; } # msql DIR ARGS: as root
slave_status() { mariadb --socket="$1/mysql.sock" -uroot -e 'SHOW SLAVE STATUS\G'; } # Field: value lines
replication_options() { # replication_options SERVER_ID [read-only]
    printf '%s\n' --server-id="$1" --log-bin=mysql-bin --binlog-format=ROW --log-slave-updates \
        --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-slave-enabled=ON \
        --rpl-semi-sync-master-timeout="$SEMISYNC_TIMEOUT" --read-only="${2:-OFF}"
}

cmd_up_mysql() {
    KITO_SECRET_NAMES="$KITO_SECRET_NAMES KITO_MYSQL_REPL_PASSWORD" secrets_ensure "$SECRETS"
    local repl primary_opts replica_opts
    repl=$(secret_get "$SECRETS" KITO_MYSQL_REPL_PASSWORD)
    mapfile -t primary_opts < <(replication_options 1)
    mapfile -t replica_opts < <(replication_options 2 ON)
    # a promoted replica stays the primary, and the old primary stays down: started again as it
    # was, it would be a second writable primary (ops/SCALE.md says how it rejoins)
    if [ -f "$DIR/mysql-promoted" ]; then
        mapfile -t replica_opts < <(replication_options 2)
        mysql_start "$REPLICA_DIR" "${MYSQL_PORTS[1]}" "${replica_opts[@]}"
        log "MariaDB: the promoted replica :${MYSQL_PORTS[1]} is the primary; the old one is left down"
        return 0
    fi
    mysql_start "$PRIMARY_DIR" "${MYSQL_PORTS[0]}" "${primary_opts[@]}"
    mysql_start "$REPLICA_DIR" "${MYSQL_PORTS[1]}" "${replica_opts[@]}"
    msql "$PRIMARY_DIR" <<SQL || die "cannot make the replication user on the primary"
CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY '$repl';
ALTER USER 'repl'@'127.0.0.1' IDENTIFIED BY '$repl';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
SQL
    mysql_bootstrap "$PRIMARY_DIR" kito "$SECRETS"
    if [ -z "$(msql "$REPLICA_DIR" -e 'SHOW SLAVE STATUS')" ]; then
        log "MariaDB: replica :${MYSQL_PORTS[1]} of primary :${MYSQL_PORTS[0]}"
        # the replica's own binary log (its start-up's account fixes) would clash with the
        # primary's GTIDs: it starts from an empty one and takes everything from the primary
        msql "$REPLICA_DIR" <<SQL || die "cannot start the replica"
RESET MASTER;
SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${MYSQL_PORTS[0]}, MASTER_USER = 'repl',
  MASTER_PASSWORD = '$repl', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
START SLAVE;
SQL
    fi
    local i pos
    for i in $(seq 1 300); do
        pos=$(msql "$PRIMARY_DIR" -e 'SELECT @@gtid_binlog_pos')
        if [ "$(msql "$REPLICA_DIR" -e "SELECT MASTER_GTID_WAIT('$pos', 0.1)")" = 0 ]; then
            log "MariaDB up: primary :${MYSQL_PORTS[0]}, replica :${MYSQL_PORTS[1]} (at $pos)"
            return 0
        fi
    done
    slave_status "$REPLICA_DIR" >&2
    die "the MariaDB replica did not catch up with the primary"
}

cmd_down_mysql() {
    [ -d "$REPLICA_DIR" ] && mysql_stop "$REPLICA_DIR"
    [ -d "$PRIMARY_DIR" ] && mysql_stop "$PRIMARY_DIR"
    return 0
}

# The primary is lost: the replica applies every transaction it received (the relay log), stops
# replicating, forgets its primary and takes writes. Semi-synchronous replication means a commit
# the primary acknowledged is in that relay log (unless the primary had fallen back to
# asynchronous after KITO_CLUSTER_SEMISYNC_TIMEOUT_MS: its error log says so).
cmd_promote() {
    msql "$REPLICA_DIR" -e 'SELECT 1' >/dev/null || die "the replica does not answer"
    msql "$REPLICA_DIR" -e 'STOP SLAVE IO_THREAD' || true
    local i state
    for i in $(seq 1 600); do
        state=$(slave_status "$REPLICA_DIR" | sed -n 's/^ *Slave_SQL_Running_State: //p')
        [[ $state == *"read all relay log"* || -z $state ]] && break
        sleep 0.1
    done
    msql "$REPLICA_DIR" <<SQL || die "cannot promote the replica"
STOP SLAVE;
RESET SLAVE ALL;
SET GLOBAL read_only = OFF;
SQL
    touch "$DIR/mysql-promoted"
    log "MariaDB: the replica :${MYSQL_PORTS[1]} is the primary now (at $(msql "$REPLICA_DIR" -e 'SELECT @@gtid_current_pos')); point kitod's KITO_MYSQL_PORT at it"
}

cmd_status_mysql() {
    local d
    for d in "$PRIMARY_DIR" "$REPLICA_DIR"; do
        if msql "$d" -e 'SELECT 1' >/dev/null 2>&1; then
            msql "$d" -e "SELECT CONCAT('mariadb ', @@port, IF(@@read_only, ' read-only', ' writable'), ' at ', @@gtid_current_pos)"
            slave_status "$d" | sed -n 's/^ *\(Slave_IO_Running\|Slave_SQL_Running\|Seconds_Behind_Master\|Last_Error\): /  \1: /p'
        else
            echo "mariadb in $d down"
        fi
    done
}

cmd_status_redis() {
    local p
    for p in "${PORTS[@]}"; do
        if state_ok "$p"; then
            rcli "$p" "$SECRETS" cluster nodes | awk -v p="$p" '$2 ~ ":"p"@" {print "node", p, $3, $4 == "-" ? "" : "of " $4, $9 ? "slots " $9 : ""}'
        else
            echo "node $p down (or not in a healthy cluster)"
        fi
    done
}

parts=(redis mysql)
[ -n "${2:-}" ] && parts=("$2")
case "${1:-}/${parts[*]}" in
up/* | down/* | status/*) ;;
promote/*) cmd_promote; exit 0 ;;
*) echo "usage: ops/kito cluster up|down|status [redis|mysql], ops/kito cluster promote" >&2; exit 2 ;;
esac
for part in "${parts[@]}"; do
    case $part in
    redis | mysql) "cmd_$1_$part" ;;
    *) echo "usage: ops/kito cluster up|down|status [redis|mysql]" >&2; exit 2 ;;
    esac
done
