#!/usr/bin/env bash
# ci_gate: the CPU-per-service gate of .ci/run. Three short sweeps of refproxy
# (interleaved rounds, a few seconds per point, repeated until the verdict is
# decided) and `scaleprof gate` on each:
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
# Rounds per case: `sweep --until-decided` (analysis/README.md, "Repeats until
# the question is decided") looks at the verdict after the first 2 rounds and
# after each round added, up to 4, and stops as soon as it is superlinear or
# linear at the gate's one-sided 99% held over all the looks (each look tests
# at 99.54%, Pocock's boundary). The fixed design it replaces ran 3 rounds for
# the cases that must pass and 5 for the known super-linear case; simulated
# on the per-service default shape (2cNmax/b = 1.1 as measured in CI, 5%
# noise) the sequential one catches 2000 of 2000 sweeps in 2.2 rounds on
# average (test_sequential), and a case that must pass stays at or under 1%
# false alarms. The gate reads the design from sweep.json and judges at the
# same corrected level, so its verdict is the one that stopped the sweep.
# --budget bounds each case's sweep: no round is added that would end more
# than GATE_BUDGET seconds after it started. A round of 5 points takes ~36 s
# here (2 s warm-up, 5 s window, ~0.2 s to start and stop), so all 4 rounds
# fit unless rounds take over twice that. The gate tests at one-sided 99%
# (analysis/README.md, "Why the gate tests at 99%"): at 95% the
# per-service-fixed case failed a CI run by chance (c t = 1.96 > 1.80).
first_rounds=${GATE_FIRST_ROUNDS:-2}
max_rounds=${GATE_MAX_ROUNDS:-4}
budget=${GATE_BUDGET:-300}
sweep_flags+=(--until-decided --repeat "$first_rounds" --max-rounds "$max_rounds"
    --budget "$budget" --confidence 0.99)
# A point contaminated by other load on this shared machine is measured again
# at once (twice at most; the attempt is kept aside, never fitted): with up to
# 20 points a case, one blip used to cost the whole sweep (exit 2), and the
# shared-load case, whose own run delay is high, lost 3 sweeps in a row to it.
sweep_flags+=(--retry-contaminated 2)

# sweep_and_gate NAME DIR [gen --set …] [-- sweep flags…]: one sweep and its
# gate; returns the gate's exit code.
sweep_and_gate() {
    local name=$1 dir=$2
    shift 2
    local gen=() sweep=()
    while (($#)) && [[ $1 != -- ]]; do gen+=("$1"); shift; done
    (($#)) && shift
    sweep=("$@")
    "$sp" gen --counts "$counts" "${gen[@]}" --out "$dir/configs" > /dev/null || return 2
    "$sp" sweep --configs "$dir/configs" --out "$dir/results" "${sweep_flags[@]}" "${sweep[@]}"
    local sweep_rc=$?
    if ((sweep_rc != 0)); then
        echo "gate case $name: sweep exited $sweep_rc (some points failed)"
    fi
    "$sp" gate "$dir/results" --junit "$dir/junit.xml"
}

# run_case NAME EXPECTED_EXIT [gen --set …] [-- sweep flags…]
# Exit 2 means no verdict was reached (a point contaminated by other load on
# this shared machine, or failed): the case is measured again, in a fresh
# sweep, up to twice (2 of 13 shared-load sweeps had no verdict in
# bench/gate_reliability.sh: one retry would still leave ~2% of CI runs
# failing on it). The first verdict stands. Neither a pass nor a failure is
# ever retried.
run_case() {
    local name=$1 expected=$2
    shift 2
    echo "---- gate case: $name (expect exit $expected, $first_rounds to $max_rounds rounds)"
    local dir=$work/$name
    sweep_and_gate "$name" "$dir" "$@"
    local rc=$? attempt
    for attempt in 2 3; do
        ((rc == 2)) || break
        echo "gate case $name: no verdict (exit 2); measuring it again (attempt $attempt of 3)"
        dir=$work/$name-attempt$attempt
        sweep_and_gate "$name" "$dir" "$@"
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
run_case shared-load 0 --set architecture=shared -- --load "${GATE_LOAD:-20}" || fail=1
run_case per-service-fixed 0 --set tasks.portlist.mode=shared --set tasks.netmon.mode=shared ||
    fail=1
run_case per-service-default 1 || fail=1
exit $fail
