#!/usr/bin/env bash
# Browser tests: Debian's Chromium driven by playwright-core (never a downloaded browser).
# Called by ops/test.sh with the test services running and KITO_TEST_* exported.
set -euo pipefail
cd "$(dirname "$0")"
[ -x /usr/bin/chromium ] || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 1; }
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@axe-core/playwright ] ||
    [ ! -d node_modules/lighthouse ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
fi
# KITO_TEST_ONLY=console,pages runs just those files (while working on them), as for integration.
files=(./*.test.mjs)
if [ -n "${KITO_TEST_ONLY:-}" ]; then
    files=()
    for name in ${KITO_TEST_ONLY//,/ }; do
        [ ! -f "./$name.test.mjs" ] || files+=("./$name.test.mjs")
    done
    [ ${#files[@]} -gt 0 ] || { echo "# pass 0"; echo "# fail 0"; exit 0; }
fi
exec node --test --test-concurrency=1 --test-reporter=tap "${files[@]}"
