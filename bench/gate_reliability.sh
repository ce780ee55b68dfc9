#!/usr/bin/env bash
# gate_reliability: run the CI gate (scripts/ci_gate.sh) RUNS times back to
# back and tabulate, per case and run, the gate's exit code against the one
# expected and the fitted figures from `scaleprof analyze`. Runs 2..RUNS are
# also gated against run 1's sweep as a baseline (`gate --baseline DIR`), which
# measures how often the baseline checks would hold if CI used them.
#
#   bench/gate_reliability.sh [RUNS] [OUT]     (default 10 runs, bench/out/gate-reliability)
#
# About 7 minutes per run. Writes OUT/summary.md and prints it.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-10}
out=${2:-bench/out/gate-reliability}
build_dir=${BUILD_DIR:-build}
sp=$build_dir/harness/scaleprof
[[ -x $sp ]] || { echo "gate_reliability: $sp not built" >&2; exit 2; }
if [[ -e $out ]]; then
    echo "gate_reliability: $out exists; move it away first (earlier results are not overwritten)" >&2
    exit 2
fi
mkdir -p "$out"
cases=(shared-load per-service-fixed per-service-default)
declare -A expect=([shared-load]=0 [per-service-fixed]=0 [per-service-default]=1)

started=$(date -u +%FT%TZ)
for ((i = 1; i <= runs; i++)); do
    dir=$out/run$i
    mkdir -p "$dir"
    t0=$(date +%s)
    echo "==== run $i/$runs ($(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
    BUILD_DIR=$build_dir GATE_KEEP=$dir scripts/ci_gate.sh >"$dir/gate.log" 2>&1
    echo "$?" >"$dir/rc"
    echo $(($(date +%s) - t0)) >"$dir/seconds"
    grep -E '^gate case' "$dir/gate.log"
done

# final_sweep DIR: the sweep whose verdict stood (a case without a verdict is
# measured again as DIR-attempt2, DIR-attempt3; older runs named it DIR-again).
final_sweep() {
    local d=$1 s
    for s in "$1-again" "$1-attempt2" "$1-attempt3"; do
        [[ -d $s ]] && d=$s
    done
    echo "$d"
}

# One row per run and case: the gate's exit, then the fit from report.json
# (analysed at the gate's one-sided 99%, so the verdict is the gate's).
row() { # DIR CASE BASELINE
    local d rc fields
    d=$(final_sweep "$1/$2")
    rc=$(sed -n "s/^gate case $2: exit \([0-9]*\).*/\1/p" "$1/gate.log" | head -1)
    "$sp" analyze "$d/results" --out "$d/results/report" --confidence 0.99 >/dev/null 2>&1
    # Numbers to 3 significant figures; a missing report gives dashes.
    fields=$(jq -r '[.verdict, .sequential.rounds, .fit.c_t, .fit.material_share, .fit.b,
                     .fit.c, .per_service_cpu_ratio] | map(. // "-" | tostring) | @tsv' \
                 "$d/results/report/report.json" 2>/dev/null |
             awk -F'\t' '{ for (i = 1; i <= NF; i++) { v = $i
                              if (v ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) v = sprintf("%.3g", v)
                              printf "%s%s", v, (i < NF ? " | " : "") } }')
    [[ -n $fields ]] || fields="- | - | - | - | - | - | -"
    printf '| %s | %s | %s | %s | %s |\n' "${1##*/}" "${rc:-?}" \
        "$([[ $rc == "${expect[$2]}" ]] && echo yes || echo NO)" "$fields" "$3"
}

{
    echo "# CI gate reliability: $runs consecutive runs of scripts/ci_gate.sh"
    echo
    echo "Started $started, finished $(date -u +%FT%TZ) on $(nproc) CPUs, $(uname -sr)."
    echo "Command: \`bench/gate_reliability.sh $runs $out\`. Each run: N=${GATE_COUNTS:-10,20,30,40,50},"
    echo "interleaved rounds until decided (first look after ${GATE_FIRST_ROUNDS:-2}, at most ${GATE_MAX_ROUNDS:-4}, budget ${GATE_BUDGET:-300} s), ${GATE_WARMUP:-2} s warm-up,"
    echo "${GATE_DURATION:-5} s window per point. A case whose sweep reached no verdict (exit 2) is"
    echo "measured again, up to twice (its log says so); the row is the final sweep."
    echo "b and c are in CPU % per service and per service²; c t is the one-sided t of c."
    for c in "${cases[@]}"; do
        echo
        echo "## $c (expected exit ${expect[$c]})"
        echo
        echo "| run | exit | as expected | verdict | rounds | c t | 2cNmax/b | b | c | CPU/svc ratio | vs run 1 baseline |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|"
        for ((i = 1; i <= runs; i++)); do
            base=-
            if ((i > 1)) && [[ $c != per-service-default ]]; then
                cur=$(final_sweep "$out/run$i/$c") base1=$(final_sweep "$out/run1/$c")
                "$sp" gate "$cur/results" --baseline "$base1/results" \
                    >"$cur/baseline.log" 2>&1
                case $? in 0) base=pass ;; 1) base=FAIL ;; *) base=unusable ;; esac
            fi
            row "$out/run$i" "$c" "$base"
        done
        ok=0
        for ((i = 1; i <= runs; i++)); do
            rc=$(sed -n "s/^gate case $c: exit \([0-9]*\).*/\1/p" "$out/run$i/gate.log" | head -1)
            [[ $rc == "${expect[$c]}" ]] && ok=$((ok + 1))
        done
        echo
        echo "$c: $ok of $runs runs as expected."
    done
    echo
    echo "Whole gate step, seconds per run: $(cat "$out"/run*/seconds | sort -n | tr '\n' ' ')"
} >"$out/summary.md"
cat "$out/summary.md"
