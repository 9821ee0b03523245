#!/usr/bin/env bash
# The bench command: ops/kito bench [NAME...]
# Builds for speed (-O2, no sanitizers) and runs every benchmark in tests/bench: each bench_*.c
# program and each bench_*.sh script. Every benchmark measures its own baseline in the same run
# and prints its figures as `BENCH <name> <value>` lines; this script repeats them at the end.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KITO_ROOT"

ensure_packages $KITO_PACKAGES
BUILD=$KITO_ROOT/build/release
log "building (release)"
build_tree "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKITO_TESTS=OFF
LOGS=$VAR/bench && mkdir -p "$LOGS"
export KITO_BENCH_ROOT=$KITO_ROOT KITO_BENCH_BUILD=$BUILD KITO_BENCH_VAR=$LOGS

status=0
for b in "$BUILD"/tests/bench_* "$KITO_ROOT"/tests/bench/bench_*.sh; do
    [ -e "$b" ] || continue
    name=$(basename "$b" .sh)
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    log "running $name"
    if [[ $b == *.sh ]]; then cmd=(bash "$b"); else cmd=("$b"); fi
    "${cmd[@]}" 2>&1 | tee "$LOGS/$name.log" | grep -v '^BENCH '
    [ "${PIPESTATUS[0]}" -eq 0 ] || { log "$name failed"; status=1; }
done
echo
cat "$LOGS"/bench_*.log 2>/dev/null | grep '^BENCH ' || true
exit $status
