#!/usr/bin/env bash
# run_tests: bootstrap, build, run every test, end with "N passed, N failed".
#   ./run_tests.sh [meson test arguments…]     e.g. ./run_tests.sh --suite proxy
# BUILD_DIR selects the build directory (default build/); MESON_ARGS configures
# a new one (e.g. MESON_ARGS=-Dwerror=true).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}

scripts/bootstrap.sh test || { echo "0 passed, 1 failed"; exit 2; }

meson test -C "$build_dir" --print-errorlogs "$@"
rc=$?

# Count from meson's own log: skipped tests are reported, never counted as passed.
log=$build_dir/meson-logs/testlog.json
passed=0 failed=0 skipped=0
if [[ -f $log ]]; then
    passed=$(grep -c '"result": "OK"' "$log" || true)
    skipped=$(grep -c '"result": "SKIP"' "$log" || true)
    failed=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
fi
if ((rc != 0 && failed == 0)); then
    failed=1 # meson itself failed (e.g. a build error) before any test result was logged
fi
if ((skipped)); then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
((failed == 0 && rc == 0))
