#!/usr/bin/env bash
# ci_gate: the CPU-per-service gate of .ci/run. Three short sweeps of refproxy
# (interleaved repeats, a few seconds per point) and `scaleprof gate` on each:
#   1. shared architecture under a fixed request rate per service   → must pass
#   2. per-service with portlist and netmon shared (the fixes)       → must pass
#   3. per-service default (portlist per service, the tsnsrv shape)  → the gate must FAIL it
# The step fails when a fixed variant is flagged or the known super-linear case is not caught.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
sp=$build_dir/harness/scaleprof
# GATE_KEEP=DIR keeps every case's configs, results and JUnit in DIR (for
# bench/gate_reliability.sh); otherwise they live in a temporary folder.
if [[ -n ${GATE_KEEP:-} ]]; then
    work=$GATE_KEEP
    mkdir -p "$work" || exit 2
else
    work=$(mktemp -d /tmp/scaleprof-gate.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi

counts=${GATE_COUNTS:-10,20,30,40,50}
sweep_flags=(--warmup "${GATE_WARMUP:-2}" --duration "${GATE_DURATION:-5}" --repeat "${GATE_REPEAT:-3}"
             --order interleaved)

# run_case NAME EXPECTED_EXIT [gen --set …] [-- sweep flags…]
run_case() {
    local name=$1 expected=$2
    shift 2
    local gen=() sweep=()
    while (($#)) && [[ $1 != -- ]]; do gen+=("$1"); shift; done
    (($#)) && shift
    sweep=("$@")
    echo "---- gate case: $name (expect exit $expected)"
    "$sp" gen --counts "$counts" "${gen[@]}" --out "$work/$name/configs" || return 1
    "$sp" sweep --configs "$work/$name/configs" --out "$work/$name/results" "${sweep_flags[@]}" \
        "${sweep[@]}"
    local sweep_rc=$?
    if ((sweep_rc != 0)); then
        echo "gate case $name: sweep exited $sweep_rc (some points failed)"
    fi
    "$sp" gate "$work/$name/results" --junit "$work/$name/junit.xml"
    local rc=$?
    if ((rc == expected)); then
        echo "gate case $name: exit $rc as expected"
        return 0
    fi
    echo "gate case $name: exit $rc, expected $expected"
    [[ -f $work/$name/results/report/report.md ]] && cat "$work/$name/results/report/report.md"
    return 1
}

fail=0
run_case shared-load 0 --set architecture=shared -- --load "${GATE_LOAD:-20}" || fail=1
run_case per-service-fixed 0 --set tasks.portlist.mode=shared --set tasks.netmon.mode=shared || fail=1
run_case per-service-default 1 || fail=1
exit $fail
