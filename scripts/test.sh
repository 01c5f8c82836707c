#!/usr/bin/env bash
# Runs every test of the project: the workspace's cargo tests (unit, integration, property,
# doc tests, fuzz-corpus replays, end-to-end tests of the binary), then the browser
# end-to-end tests of the demo and status page in headless Chromium (tests/browser/run.sh
# installs Chromium and its node packages when they are missing).
# Ends with one summary line: "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

cargo test --workspace 2>&1 | tee "$log"
cargo_rc=${PIPESTATUS[0]}

# Sum cargo's per-binary "test result:" lines.
read -r passed failed < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
        if ($(i+1) ~ /^passed/) p += $i
        if ($(i+1) ~ /^failed/) f += $i
    }
} END { print p + 0, f + 0 }' "$log")

browser_rc=0
if [ "${GANGWAY_SKIP_BROWSER:-0}" = 1 ]; then
    echo "browser tests skipped (GANGWAY_SKIP_BROWSER=1)"
else
    bash tests/browser/run.sh
    browser_rc=$?
    if [ "$browser_rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

if [ "$cargo_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # A build failure runs no test: count it so the summary never reads as clean.
    failed=1
fi
echo
echo "tests: $passed passed, $failed failed"
[ "$cargo_rc" -eq 0 ] && [ "$browser_rc" -eq 0 ]
