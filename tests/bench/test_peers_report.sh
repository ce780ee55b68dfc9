#!/usr/bin/env bash
# test_peers_report: bench/peers/report.awk's verdicts from made-up rounds whose
# answers are known: the sign test, ties, one-run figures, the paired profiler cost.
#   test_peers_report.sh PATH/TO/report.awk
set -uo pipefail
awkf=$1
fails=0
raw=$(mktemp); out=$(mktemp)
trap 'rm -f "$raw" "$out"' EXIT
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$raw"; }
for r in 1 2 3 4 5 6 7 8; do
    # req/s: refproxy better in all 8 rounds -> ahead, p = 2/256
    row "t" "req/s" refproxy $r $((1000 + r)); row "t" "req/s" haproxy $r 900
    # p99: refproxy worse in 7 of 8 -> behind, p = 18/256 = 0.0703: not under 5%: tie
    row "t" "p99 ms" refproxy $r $((r == 1 ? 1 : 3)); row "t" "p99 ms" haproxy $r 2
    # CPU: refproxy worse in all 8 -> behind
    row "t" "CPU us/req" refproxy $r 20; row "t" "CPU us/req" haproxy $r $((10 + r))
    # the profiler pair: +prof slower by 2% in 6 rounds, faster by 1% in 2
    row "t" "busy" refproxy $r 90
done
for r in 1 2 3 4 5 6 7 8; do
    row "small N=1 wrk" "req/s" refproxy $r 1000
    row "small N=1 wrk" "req/s" "refproxy+prof" $r $((r <= 6 ? 980 : 1010))
    row "small N=1 wrk" "req/s" haproxy $r 900
done
for r in 1 2 3 4 5 6 7 8 9 10 11 12; do # 12 of 12: p = 2/4096
    row "u" "req/s" refproxy $r 2000; row "u" "req/s" nginx $r 1999
done
row "idle" "RSS KiB" refproxy 1 100; row "idle" "RSS KiB" haproxy 1 200
row "idle" "wakeups/s" refproxy 1 0; row "idle" "wakeups/s" haproxy 1 0
awk -F'\t' -f "$awkf" "$raw" > "$out" || { echo "report.awk failed"; exit 1; }

expect() { # PATTERN WHY
    if grep -qF -- "$1" "$out"; then echo "ok: $2"
    else echo "FAIL: $2: no line with: $1"; fails=$((fails + 1)); fi
}
expect "| t: req/s | 1004 | haproxy | 900 | 1.12 | 8/8 | ahead, p = 0.008 |" "8 of 8 rounds is ahead"
expect "| t: p99 ms | 3.00 | haproxy | 2.00 | 1.50 | 1/8 | tie, p = 0.07 |" "1 of 8 is not yet behind"
expect "| t: CPU us/req | 20.00 | haproxy | 14.50 | 1.38 | 0/8 | **behind**, p = 0.008 |" "0 of 8 is behind"
expect "| u: req/s | 2000 | nginx | 1999 | 1.00 | 12/12 | ahead, p < 0.001 |" "tiny p is not printed as 0"
expect "| idle: RSS KiB | 100 | haproxy | 200 | 0.50 | 1/1 | ahead (1 run) |" "one run is called by its value"
expect "| idle: wakeups/s | 0.000 | haproxy | 0.000 | — | 0/1, 1 tied | tie (1 run) |" "equal single runs tie"
expect "| req/s | 0.980 (cost 2.0%) | 6/8 | p = 0.29 |" "profiler cost: median of the per-round ratios"
if grep -q "t: busy" "$out"; then echo "FAIL: busy % is context, not a figure to score"; fails=$((fails + 1))
else echo "ok: busy % is not scored"; fi
if ((fails)); then echo "--- report:"; cat "$out"; fi
exit $((fails > 0))
