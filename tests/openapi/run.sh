#!/usr/bin/env bash
# Lints schemas/openapi.yaml with Redocly CLI, pinned in package.json (issue 15, finding 11): the
# lint must report 0 errors and 0 warnings beyond what redocly.yaml and .redocly.lint-ignore.yaml
# (at the repository root) silence, each with its reason. Called by ops/test.sh (group openapi);
# needs Node.js and npm, and installs nothing but the npm packages of package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
# no usage report and no update check: the lint talks to nobody
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
if [ ! -x node_modules/.bin/redocly ]; then
    npm ci --no-audit --no-fund --silent
fi
# redocly exits non-zero on errors; the totals decide either way
json=$(node_modules/.bin/redocly lint --config "$root/redocly.yaml" --format=json \
    "$root/schemas/openapi.yaml") || true
jq -r '.problems[] | "\(.severity) \(.ruleId) \(.location[0].pointer): \(.message)"' <<<"$json"
errors=$(jq -r '.totals.errors' <<<"$json")
warnings=$(jq -r '.totals.warnings' <<<"$json")
ignored=$(jq -r '.totals.ignored' <<<"$json")
echo "redocly lint: $errors errors, $warnings warnings, $ignored silenced with a reason"
[ "$errors" = 0 ] && [ "$warnings" = 0 ]
