#!/usr/bin/env bash
# ops/kito cluster up|down|status: a Redis Cluster on loopback, three masters with a replica each
# (issue 20; ops/SCALE.md). Each node is a Redis like the single one (lib.sh's redis_start: the
# strict profile, the ACL users from the stack's secrets, a 0700 folder), plus cluster mode.
# Replicas authenticate to their masters as the default (operator) user; the password is in the
# node's 0600 configuration file, never on a command line.
#
#   KITO_CLUSTER_PORTS       six ports, masters first (default 7001 ... 7006); each node's cluster
#                            bus is its port + 10000
#   KITO_CLUSTER_VAR         folder of the nodes (default $KITO_VAR/cluster)
#   KITO_CLUSTER_SECRETS     the secrets file (default $KITO_VAR/secrets.env; made if missing)
#   KITO_CLUSTER_NODE_TIMEOUT_MS  how long a master may be unreachable before its replica is
#                            promoted (default 1000; Redis's own default is 15000)
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
[ ${#PORTS[@]} -eq 6 ] || die "KITO_CLUSTER_PORTS must name six ports (three masters, three replicas)"

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

cmd_up() {
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

cmd_down() {
    local p
    for p in "${PORTS[@]}"; do
        [ -d "$DIR/node-$p" ] && redis_stop "$DIR/node-$p" "$p" "$SECRETS"
    done
    return 0
}

cmd_status() {
    local p
    for p in "${PORTS[@]}"; do
        if state_ok "$p"; then
            rcli "$p" "$SECRETS" cluster nodes | awk -v p="$p" '$2 ~ ":"p"@" {print "node", p, $3, $4 == "-" ? "" : "of " $4, $9 ? "slots " $9 : ""}'
        else
            echo "node $p down (or not in a healthy cluster)"
        fi
    done
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*) echo "usage: ops/kito cluster up|down|status" >&2; exit 2 ;;
esac
