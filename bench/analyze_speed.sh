#!/usr/bin/env bash
# bench/analyze_speed.sh: how long `scaleprof analyze` takes on a 5-point sweep
# with profiles (docs/DESIGN.md §6 target: < 1 s), next to `google-pprof --text` on ONE
# of its profiles. Usage: bench/analyze_speed.sh [BUILD_DIR] [ROUNDS]
#
# Builds a synthetic results folder from analysis/tests/scaling (N = 10..50,
# 3 repeats, interleaved: 15 gperftools CPU profiles; each point's CPU from the
# shell's user+sys time, window_s = 1), then times the two commands
# interleaved, ROUNDS rounds (default 7), and prints every time and the
# medians. With BEFORE=/path/to/older/scaleprof it also times that binary's
# analyze in the same rounds (before/after side by side). The machine is
# shared and noisy: read the ratio, not one time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) # absolute: sweep.json names the binary
rounds=${2:-7}
case $rounds in '' | *[!0-9]*) echo "analyze_speed: ROUNDS must be a number" >&2; exit 2 ;; esac
scaling=$build/analysis/tests/scaling
scaleprof=$build/harness/scaleprof
for f in "$scaling" "$scaleprof"; do
    [ -x "$f" ] || { echo "analyze_speed: $f not built (ninja -C $build)" >&2; exit 2; }
done
command -v google-pprof >/dev/null || { echo "analyze_speed: google-pprof missing" >&2; exit 2; }

if [ -n "${KEEP:-}" ]; then # KEEP=DIR: build the sweep in DIR (new) and leave it there
    work=$KEEP
    mkdir "$work"
else
    work=$(mktemp -d /tmp/analyze_speed.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
sweep=$work/sweep
mkdir -p "$sweep"
pts=""
seq=0
TIMEFORMAT='%3U %3S'
for r in 1 2 3; do
    for n in 10 20 30 40 50; do
        d=$n\_services/run-$r
        mkdir -p "$sweep/$d"
        t=$( { time CPUPROFILE="$sweep/$d/cpu.prof" "$scaling" "$n" 1 >/dev/null 2>&1; } \
            2>&1 )
        cpu_ns=$(awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.0f", (a[1] + a[2]) * 1e9 }')
        printf '{"services": %d, "repeat": %d, "window_s": 1.0, "cpu_ns": %s, %s}\n' \
            "$n" "$r" "$cpu_ns" \
            '"rss_bytes": 1000000, "threads": 1, "wakeups_per_s": 0, "contaminated": false' \
            >"$sweep/$d/stats.json"
        pt=$(printf '{"services":%d,"repeat":%d,"sequence":%d,"dir":"%s","status":"ok"}' \
            "$n" "$r" "$seq" "$d")
        pts="$pts${pts:+,}$pt"
        seq=$((seq + 1))
    done
done
printf '{"scaleprof_version":"0.1.0","status":"complete",%s,%s,"points":[%s]}\n' \
    "\"target\":{\"name\":\"scaling\",\"binary\":\"$scaling\"}" \
    '"flags":{"warmup_s":0,"duration_s":1,"repeat":3}' "$pts" >"$sweep/sweep.json"
one=$sweep/50_services/run-1/cpu.prof
echo "sweep: 15 profiles in $sweep ($(du -sk "$sweep" | cut -f1) KiB)"

now() { date +%s%N; }
a_times=()
p_times=()
b_times=()
before=${BEFORE:-}
for ((i = 1; i <= rounds; i++)); do
    t0=$(now)
    "$scaleprof" analyze "$sweep" --out "$work/report" >/dev/null
    t1=$(now)
    google-pprof --text "$scaling" "$one" >/dev/null 2>&1
    t2=$(now)
    a_times+=($(( (t1 - t0) / 1000000 )))
    p_times+=($(( (t2 - t1) / 1000000 )))
    extra=""
    if [ -n "$before" ]; then
        "$before" analyze "$sweep" --out "$work/report_before" >/dev/null
        t3=$(now)
        b_times+=($(( (t3 - t2) / 1000000 )))
        extra=", before: analyze ${b_times[-1]} ms"
    fi
    echo "round $i: analyze ${a_times[-1]} ms, google-pprof --text ${p_times[-1]} ms$extra"
done
median() {
    printf '%s\n' "$@" | sort -n |
        awk '{ v[NR] = $1 }
             END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ma=$(median "${a_times[@]}")
mp=$(median "${p_times[@]}")
ratio=$(awk -v a="$ma" -v p="$mp" 'BEGIN { printf "%.2f", a / p }')
echo "median over $rounds interleaved rounds: analyze (15 profiles) $ma ms," \
     "google-pprof --text (1 profile) $mp ms, ratio $ratio"
if [ -n "$before" ]; then
    mb=$(median "${b_times[@]}")
    rb=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')
    echo "before ($before): analyze median $mb ms; after/before $rb"
fi
grep -o '"verdict": *"[a-z]*"' "$work/report/report.json" || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
