#!/usr/bin/env bash
# Redis Cluster failover (issue 20; ops/SCALE.md), run by `ops/kito bench` (ops/bench.sh) with
# KITO_BENCH_ROOT and KITO_BENCH_VAR. Builds a local cluster with `ops/kito cluster up redis`
# (ports 27301-27306), writes to one lot's journal key without pause (redis-cli -c follows MOVED),
# kills that key's master with SIGKILL, and times the gap until a write is accepted again:
#
#   BENCH redis_failover_s <s>       from the SIGKILL to the first write the promoted replica took,
#                                    the median of RUNS kills (each master's replica in turn, the
#                                    killed node restarted as a replica between runs); issue 20's
#                                    goal: under the cluster node timeout + 2 s
#   BENCH redis_cluster_node_timeout_s <s>  the node timeout of this cluster (KITO_CLUSTER_NODE_TIMEOUT_MS,
#                                    1 s here; Redis's default is 15 s): the baseline, the least a
#                                    failover can take, since a replica waits that long before it
#                                    calls its master failed
#
# Kito's own client (api/adapters/redis_cluster.c) retries every 100 ms on the same signals, so
# kitod's gap would be this one plus up to 0.1 s; the book store does not use it yet.
set -uo pipefail
ROOT=${KITO_BENCH_ROOT:?run through ops/kito bench}
. "$ROOT/ops/lib.sh"
RUNS=${KITO_BENCH_FAILOVER_RUNS:-3}
export KITO_CLUSTER_VAR=${KITO_BENCH_VAR:?}/cluster KITO_CLUSTER_SECRETS=$KITO_BENCH_VAR/cluster/secrets.env
export KITO_CLUSTER_PORTS="27301 27302 27303 27304 27305 27306" KITO_CLUSTER_NODE_TIMEOUT_MS=1000
rm -rf "$KITO_CLUSTER_VAR"
cleanup() {
    local p
    for p in $KITO_CLUSTER_PORTS; do
        [ -f "$KITO_CLUSTER_VAR/node-$p/redis.pid" ] && kill -9 "$(cat "$KITO_CLUSTER_VAR/node-$p/redis.pid")" 2>/dev/null
    done
    rm -rf "$KITO_CLUSTER_VAR"
}
trap cleanup EXIT
"$ROOT/ops/kito" cluster up redis >/dev/null || die "ops/kito cluster up redis failed"
ADMIN=$(secret_get "$KITO_CLUSTER_SECRETS" KITO_REDIS_ADMIN_PASSWORD)
cli() { REDISCLI_AUTH=$ADMIN redis-cli --no-auth-warning -c -p "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; } # seconds since $1

key="lot:{4242}:journal"
gaps=()
for run in $(seq 1 "$RUNS"); do
    # the key's master now (after earlier runs it may be a former replica)
    master=$(cli 27301 cluster nodes | awk -v slot="$(cli 27301 cluster keyslot "$key")" '
        $3 ~ /master/ && $3 !~ /fail/ { for (i = 9; i <= NF; i++) { split($i, r, "-");
            if (r[2] == "") r[2] = r[1]; if (slot >= r[1] && slot <= r[2]) { split($2, a, "[:@]"); print a[2] } } }')
    [ -n "$master" ] || die "no master for $key"
    ask=$(for p in $KITO_CLUSTER_PORTS; do [ "$p" != "$master" ] && echo "$p" && break; done)
    cli "$ask" xadd "$key" '*' run "$run" >/dev/null || die "cannot write before the kill"
    t0=$(now)
    kill -9 "$(cat "$KITO_CLUSTER_VAR/node-$master/redis.pid")"
    while :; do
        cli "$ask" xadd "$key" '*' run "$run" 2>/dev/null | grep -Eqx '[0-9]+-[0-9]+' && break
        awk -v s="$(since "$t0")" 'BEGIN {exit !(s > 60)}' && die "no failover within 60 s"
        sleep 0.02
    done
    gap=$(since "$t0")
    echo "run $run: master :$master killed; writes accepted again after ${gap} s" >&2
    gaps+=("$gap")
    rm -f "$KITO_CLUSTER_VAR/node-$master/redis.pid"
    "$ROOT/ops/kito" cluster up redis >/dev/null || die "the killed node did not rejoin"
done
median=$(printf '%s\n' "${gaps[@]}" | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)]}')
echo "BENCH redis_failover_s $median"
echo "BENCH redis_cluster_node_timeout_s $(awk -v ms="$KITO_CLUSTER_NODE_TIMEOUT_MS" 'BEGIN {printf "%.2f", ms / 1000}')"
