#!/usr/bin/env bash
# origin_ab.sh: two refproxy binaries side by side as an origin (a `respond` service with a
# 1 MiB body), to measure a change in how refproxy answers by itself.
#
#   bench/origin_ab.sh OLD_BINARY NEW_BINARY [--rounds R] [--duration S] [--bytes B]
#
# Both run at once, pinned to CPU 0, on 127.9.0.1 (ports 19502 and 19503); wrk -t1 -c32
# on CPU 1 drives each in turn, interleaved (old new old new …) for R rounds (default 5)
# of S seconds (default 8). Per run: req/s, p99, the origin's CPU per request (from
# /proc/PID/stat ticks) and its RSS. Then the medians and new / old.
set -euo pipefail
(($# >= 2)) || { sed -n '2,10p' "$0"; exit 2; }
old=$1 new=$2; shift 2
rounds=5 dur=8 bytes=1048576
while (($#)); do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --duration) dur=$2; shift ;;
    --bytes) bytes=$2; shift ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
    esac
    shift
done
for c in wrk taskset; do command -v $c > /dev/null || { echo "needs $c" >&2; exit 2; }; done
work=$(mktemp -d /tmp/origin_ab.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
body=$(head -c "$bytes" /dev/zero | tr '\0' x)
declare -A port=([old]=19502 [new]=19503) admin=([old]=19512 [new]=19513)
declare -A pid=()
for v in old new; do
    printf 'prometheusAddr: "127.9.0.1:%d"\nworkers: 1\nservices:\n  - {name: big, listenAddr: "127.9.0.1:%d", respond: {body: "%s"}}\n' \
        "${admin[$v]}" "${port[$v]}" "$body" > "$work/$v.yaml"
    bin=$old; [[ $v = new ]] && bin=$new
    taskset -c 0 "$bin" --config "$work/$v.yaml" > "$work/$v.log" 2>&1 &
    pid[$v]=$!; pids+=($!)
done
for v in old new; do
    for ((i = 0; i < 500; i++)); do
        curl -sf -o /dev/null "http://127.9.0.1:${port[$v]}/" && break
        sleep 0.01
    done
done
clk=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for ((r = 1; r <= rounds; r++)); do
    for v in old new; do
        t0=$(ticks "${pid[$v]}")
        out=$(taskset -c 1 wrk -t1 -c32 -d"${dur}s" --latency "http://127.9.0.1:${port[$v]}/")
        t1=$(ticks "${pid[$v]}")
        awk -v v=$v -v r=$r -v t=$((t1 - t0)) -v hz="$clk" \
            -v rss="$(awk '/VmRSS/ {print $2}' "/proc/${pid[$v]}/status")" '
            /Requests\/sec/ {rps = $2} /requests in/ {n = $1}
            $1 == "99%" {p99 = $2; if (p99 ~ /ms$/) p99 += 0; else if (p99 ~ /us$/) p99 /= 1000
                         else if (p99 ~ /s$/) p99 *= 1000}
            END {printf "%d %s %.0f %.2f %.1f %d\n", r, v, rps, p99, t / hz * 1e6 / n, rss}' \
            <<< "$out"
    done
done | tee "$work/runs.txt" | awk '{printf "round %s %s: %s req/s, p99 %s ms, %s us CPU/req, RSS %s KiB\n", $1, $2, $3, $4, $5, $6}'
awk 'function med(k,   n, i, j, t, a) { n = c[k]; for (i = 1; i <= n; i++) a[i] = x[k, i]
         for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
         return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
     { for (f = 3; f <= 6; f++) { k = $2 SUBSEP f; x[k, ++c[k]] = $f } }
     END { split("req/s p99_ms cpu_us_per_req rss_kib", name, " ")
           printf "medians of %d rounds:\n", c["old" SUBSEP 3]
           for (f = 3; f <= 6; f++)
               printf "  %-15s old %10.2f  new %10.2f  new/old %.2f\n", name[f - 2],
                   med("old" SUBSEP f), med("new" SUBSEP f), med("new" SUBSEP f) / med("old" SUBSEP f) }' \
    "$work/runs.txt"
