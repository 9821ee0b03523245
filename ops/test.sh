#!/usr/bin/env bash
# The test command: ops/kito test [GROUP...]
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer, starts a private Redis and MariaDB on
# test ports (fresh database each run), runs every group and exits non-zero on any failure.
# Groups: unit sim fuzz openapi integration browser (default: all, in that order).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KITO_ROOT"

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(unit sim fuzz openapi integration browser)
want() { local g; for g in "${groups[@]}"; do [ "$g" = "$1" ] && return 0; done; return 1; }

ensure_packages $KITO_PACKAGES
if want browser && [ -d "$KITO_ROOT/tests/browser" ]; then
    ensure_packages $KITO_BROWSER_PACKAGES
fi
if want browser || want openapi; then
    # Node.js may come from elsewhere than Debian (a newer build is common); only without one
    # install Debian's.
    command -v node >/dev/null && command -v npm >/dev/null || ensure_packages nodejs npm
fi

BUILD=$KITO_ROOT/build/test
log "building with sanitizers"
build_tree "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DKITO_SANITIZE=ON -DKITO_BENCH=OFF
LOGS=$VAR/test/logs
rm -rf "$LOGS" && mkdir -p "$LOGS"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0
failures=()

# run_criterion NAME LOG-NAME BINARY ARGS...: runs one Criterion program, prints its closing line
# and adds its counts to the totals. A program that crashes before its summary counts as a failure.
run_criterion() {
    local label=$1 bin=$2; shift 2
    local logf=$LOGS/$(basename "$bin").log rc line tested passing
    timeout 900 "$bin" "$@" >"$logf" 2>&1
    rc=$?
    line=$(grep -a 'Synthesis:' "$logf" | tail -1)
    tested=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$line")
    passing=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    printf '%-12s %-40s %s\n' "$label" "$(basename "$bin")" "${line:-no summary (exit $rc)}"
    passed=$((passed + ${passing:-0}))
    failed=$((failed + ${tested:-1} - ${passing:-0}))
    if [ $rc -ne 0 ] || [ "${tested:-x}" != "${passing:-y}" ]; then
        # A crash after a clean summary still fails the program: count it once.
        [ "${tested:-x}" != "${passing:-y}" ] || failed=$((failed + 1))
        failures+=("$(basename "$bin")")
        grep -a -E '\[FAIL\]|\[----\]|ERROR|runtime error|Sanitizer|Assertion|Test failed|crash' "$logf" | head -40
    fi
}

# programs LABEL: the test programs CTest knows with that label (tests/CMakeLists.txt registers
# each one), so a program left in the build folder by an older layout is never run or counted.
programs() {
    ctest --test-dir "$BUILD" -N -L "^$1\$" | sed -n 's/^ *Test *#[0-9]*: //p' |
        while read -r name; do echo "$BUILD/tests/$name"; done
}

if want unit; then
    for bin in $(programs unit); do
        [ -x "$bin" ] && run_criterion unit "$bin"
    done
fi

if want sim; then
    for bin in $(programs sim); do
        [ -x "$bin" ] && run_criterion sim "$bin"
    done
fi

if want fuzz; then
    # Each fuzz target replays its corpus and then mutates inputs for a bounded time.
    for bin in $(programs fuzz); do
        [ -x "$bin" ] || continue
        name=$(basename "$bin")
        corpus=$KITO_ROOT/tests/fuzz/corpus/$name
        if timeout 300 "$bin" -max_total_time="${KITO_FUZZ_SECONDS:-15}" -seed=1 -artifact_prefix="$LOGS/" "$corpus" \
            >"$LOGS/$name.log" 2>&1; then
            printf '%-12s %-40s %s\n' fuzz "$name" "$(tail -1 "$LOGS/$name.log")"
            passed=$((passed + 1))
        else
            printf '%-12s %-40s FAILED\n' fuzz "$name"
            tail -40 "$LOGS/$name.log"
            failed=$((failed + 1))
            failures+=("$name")
        fi
    done
fi

if want openapi && [ -f "$KITO_ROOT/tests/openapi/run.sh" ]; then
    # The OpenAPI document passes Redocly's lint (tests/openapi/run.sh; issue 15, finding 11).
    if bash "$KITO_ROOT/tests/openapi/run.sh" >"$LOGS/openapi.log" 2>&1; then
        printf '%-12s %-40s %s\n' openapi redocly-lint "$(tail -1 "$LOGS/openapi.log")"
        passed=$((passed + 1))
    else
        printf '%-12s %-40s FAILED\n' openapi redocly-lint
        tail -40 "$LOGS/openapi.log"
        failed=$((failed + 1))
        failures+=(openapi)
    fi
fi

if want integration || want browser; then
    log "starting test services (redis :$TEST_REDIS_PORT, mariadb :$TEST_MYSQL_PORT)"
    trap test_services_stop EXIT
    test_services_start
    # shellcheck disable=SC1091
    . "$TEST_VAR/secrets.env"
    export KITO_TEST_ROOT=$KITO_ROOT KITO_TEST_VAR=$TEST_VAR KITO_TEST_BUILD=$BUILD
    export KITO_TEST_REDIS_PORT=$TEST_REDIS_PORT KITO_TEST_MYSQL_PORT=$TEST_MYSQL_PORT
    export KITO_TEST_MYSQL_PASSWORD=$KITO_MYSQL_PASSWORD
    # Redis: kitod's ACL user, and the admin (the default user) for tests that arrange or inspect
    # Redis themselves; redis-cli in tests reads REDISCLI_AUTH
    export KITO_TEST_REDIS_PASSWORD=$KITO_REDIS_PASSWORD
    export KITO_TEST_REDIS_ADMIN_PASSWORD=$KITO_REDIS_ADMIN_PASSWORD REDISCLI_AUTH=$KITO_REDIS_ADMIN_PASSWORD
fi

if want integration; then
    # One test at a time: some of them stop and start the shared Redis and MariaDB.
    # KITO_TEST_ONLY=sales,stones runs just those programs (while working on them).
    for bin in $(programs integration); do
        [ -x "$bin" ] || continue
        name=${bin##*/integration_test_}
        [ -z "${KITO_TEST_ONLY:-}" ] || [[ ",$KITO_TEST_ONLY," == *",$name,"* ]] || continue
        run_criterion integration "$bin" --jobs 1
    done
fi

if want browser && [ -f "$KITO_ROOT/tests/browser/run.sh" ]; then
    if bash "$KITO_ROOT/tests/browser/run.sh" >"$LOGS/browser.log" 2>&1; then
        line=$(grep -E '^# (pass|fail) ' "$LOGS/browser.log" | tr '\n' ' ')
        printf '%-12s %-40s %s\n' browser playwright "$line"
    else
        printf '%-12s %-40s FAILED\n' browser playwright
        tail -40 "$LOGS/browser.log"
        failures+=(browser)
    fi
    bp=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$LOGS/browser.log" | tail -1)
    bf=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$LOGS/browser.log" | tail -1)
    passed=$((passed + ${bp:-0}))
    failed=$((failed + ${bf:-0}))
    [ -n "$bp" ] || failed=$((failed + 1))
fi

echo
[ ${#failures[@]} -eq 0 ] || echo "failing programs: ${failures[*]}"
echo "kito: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
