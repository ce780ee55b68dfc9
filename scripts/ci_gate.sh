#!/usr/bin/env bash
# ci_gate: the CPU-per-service gate of .ci/run. Three short sweeps of refproxy
# (interleaved repeats, a few seconds per point) and `scaleprof gate` on each:
#   1. shared architecture under a fixed request rate per service   → must pass
#   2. per-service with portlist and netmon shared (the fixes)       → must pass
#   3. per-service default (portlist per service, the tsnsrv shape)  → the gate must FAIL it
# The step fails when a fixed variant is flagged or the known super-linear case is not caught.
# A case without a verdict (exit 2: a contaminated or failed point) is measured again, up to twice.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
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
sweep_flags=(--warmup "${GATE_WARMUP:-2}" --duration "${GATE_DURATION:-5}" --order interleaved)
# Repeats per case. The known super-linear case gets two more: in 10 runs
# with 3 repeats (bench/gate_reliability.sh) its c t ranged from 1.62 to 5.79
# and fell below the critical 1.80 twice, so the gate missed it; 5 repeats
# give about 1.3x the t for the same effect. More repeats cannot make the
# cases that must pass fail more often (the test's size stays at its level).
# The misses all had a negative fitted fixed cost; the fit now holds a at 0
# then (analysis/README.md, "Why a >= 0"), which alone turns all 13 kept
# sweeps of this case into failures; the repeats stay as a margin.
# The gate tests at one-sided 99% (analysis/README.md, "Why the gate tests
# at 99%"): at 95% the per-service-fixed case, whose per-service cost is too
# small to weigh c against, failed a CI run by chance (c t = 1.96 > 1.80).
repeat=${GATE_REPEAT:-3}
repeat_superlinear=${GATE_REPEAT_SUPERLINEAR:-$((repeat + 2))}

# sweep_and_gate NAME DIR REPEAT [gen --set …] [-- sweep flags…]: one sweep and
# its gate; returns the gate's exit code.
sweep_and_gate() {
    local name=$1 dir=$2 rep=$3
    shift 3
    local gen=() sweep=()
    while (($#)) && [[ $1 != -- ]]; do gen+=("$1"); shift; done
    (($#)) && shift
    sweep=("$@")
    "$sp" gen --counts "$counts" "${gen[@]}" --out "$dir/configs" > /dev/null || return 2
    "$sp" sweep --configs "$dir/configs" --out "$dir/results" "${sweep_flags[@]}" \
        --repeat "$rep" "${sweep[@]}"
    local sweep_rc=$?
    if ((sweep_rc != 0)); then
        echo "gate case $name: sweep exited $sweep_rc (some points failed)"
    fi
    "$sp" gate "$dir/results" --junit "$dir/junit.xml"
}

# run_case NAME EXPECTED_EXIT REPEAT [gen --set …] [-- sweep flags…]
# Exit 2 means no verdict was reached (a point contaminated by other load on
# this shared machine, or failed): the case is measured again, in a fresh
# sweep, up to twice (2 of 13 shared-load sweeps had no verdict in
# bench/gate_reliability.sh: one retry would still leave ~2% of CI runs
# failing on it). The first verdict stands. Neither a pass nor a failure is
# ever retried.
run_case() {
    local name=$1 expected=$2 rep=$3
    shift 3
    echo "---- gate case: $name (expect exit $expected, $rep repeats)"
    local dir=$work/$name
    sweep_and_gate "$name" "$dir" "$rep" "$@"
    local rc=$? attempt
    for attempt in 2 3; do
        ((rc == 2)) || break
        echo "gate case $name: no verdict (exit 2); measuring it again (attempt $attempt of 3)"
        dir=$work/$name-attempt$attempt
        sweep_and_gate "$name" "$dir" "$rep" "$@"
        rc=$?
    done
    if ((rc == expected)); then
        echo "gate case $name: exit $rc as expected"
        return 0
    fi
    echo "gate case $name: exit $rc, expected $expected"
    [[ -f $dir/results/report/report.md ]] && cat "$dir/results/report/report.md"
    return 1
}

fail=0
run_case shared-load 0 "$repeat" --set architecture=shared -- --load "${GATE_LOAD:-20}" || fail=1
run_case per-service-fixed 0 "$repeat" --set tasks.portlist.mode=shared --set tasks.netmon.mode=shared ||
    fail=1
run_case per-service-default 1 "$repeat_superlinear" || fail=1
exit $fail
