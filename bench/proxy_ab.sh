#!/usr/bin/env bash
# proxy_ab.sh: two refproxy binaries side by side as the proxy (and HAProxy as a third,
# when installed), to measure a change in how refproxy proxies.
#
#   bench/proxy_ab.sh OLD_BINARY NEW_BINARY [--services N] [--rounds R] [--duration S]
#                     [--rate R] [--bytes B] [--origin refproxy|nginx] [--no-haproxy]
#
# One origin (OLD_BINARY's `respond` service, a 12-byte body or B bytes; or with --origin
# nginx, bench/peers.sh's nginx origin: 12 bytes, or 1 MiB by sendfile when B is 1048576)
# on CPU 1 with the load; every
# proxy up at once on CPU 0 with N services (default 100) on 127.9.0.1. Each round drives
# each proxy in turn, each round starting one later (old new haproxy, new haproxy old, …,
# so none always runs first): 4 generators with 8 connections each on
# 4 of the N ports, a different 4 each round, as bench/peers.sh does at N=100 (at N=1 all
# 4 on the one port). Closed loop (wrk -c8 each) by default; with --rate R, h2load at R
# req/s in all (exact p50/p99 over every request). Per run: req/s, p50, p99, the proxy's
# CPU µs per request, CPU 1's (origin + generators) µs per request, and per request the
# proxy's context switches (how often it slept in epoll_wait) and the wakeups done on
# CPU 1 (sched_waking: a proxy that sleeps is woken by the writes of the origin and the
# generators, and CPU 1 pays for that; one whose core is saturated never sleeps). Then new/old,
# haproxy/old and new/haproxy: the median over rounds of each round's ratio, in how many
# rounds the first was better, and the two-sided sign test's p for that split.
# HAProxy adds X-Forwarded-For/-Proto/-Host as refproxy does, so the origin's work per
# request is the same behind all three.
set -euo pipefail
usage() { sed -n '2,24p' "$0"; exit 2; }
(($# >= 2)) || usage
old=$1 new=$2; shift 2
n=100 rounds=12 dur=4 rate=0 use_ha=1 bytes=0 origin_kind=refproxy
while (($#)); do
    case $1 in
    --services) n=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --duration) dur=$2; shift ;;
    --rate) rate=$2; shift ;;
    --bytes) bytes=$2; shift ;;
    --origin) origin_kind=$2; shift ;;
    --no-haproxy) use_ha=0 ;;
    *) usage ;;
    esac
    shift
done
gen=wrk; ((rate > 0)) && gen=h2load
for c in $gen taskset perf curl; do command -v $c > /dev/null || { echo "needs $c" >&2; exit 2; }; done
command -v haproxy > /dev/null || use_ha=0
ADDR=127.9.0.1 ORIGIN=19600 ORIGIN_ADMIN=19601
declare -A base=([old]=19610 [new]=$((19610 + n + 10)) [haproxy]=$((19610 + 2 * n + 20)))
declare -A admin=([old]=19602 [new]=19603)
variants="old new"; ((use_ha)) && variants="old new haproxy"
work=$(mktemp -d /tmp/proxy_ab.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

case $origin_kind in
refproxy)
    body='hello world\n'
    ((bytes > 0)) && body=$(head -c "$bytes" /dev/zero | tr '\0' x)
    printf 'prometheusAddr: "%s:%d"\nworkers: 1\nservices:\n  - {name: o, listenAddr: "%s:%d", respond: {body: "%s"}}\n' \
        $ADDR $ORIGIN_ADMIN $ADDR $ORIGIN "$body" > "$work/origin.yaml"
    taskset -c 1 "$old" --config "$work/origin.yaml" > "$work/origin.log" 2>&1 &
    origin_pid=$!; pids+=($!)
    ;;
nginx)
    command -v nginx > /dev/null || { echo "--origin nginx: nginx is not installed" >&2; exit 2; }
    ((bytes == 0 || bytes == 1048576)) || { echo "--origin nginx serves 12 bytes or 1048576" >&2; exit 2; }
    source "$(dirname "$0")/peers/configs.sh"
    small=$ORIGIN big=$ORIGIN
    ((bytes > 0)) && small=$ORIGIN_ADMIN || big=$ORIGIN_ADMIN # the unused one on the spare port
    conf_origin_nginx "$work" $small $big
    taskset -c 1 nginx -e "$work/error.log" -c "$work/nginx.conf" -p "$work" > "$work/origin.log" 2>&1 &
    pids+=($!)
    for ((i = 0; i < 500; i++)); do # the worker does the work: measure it, not the master
        origin_pid=$(pgrep -P $! nginx | head -1) && [[ -n $origin_pid ]] && break
        sleep 0.01
    done
    [[ -n ${origin_pid:-} ]] || { echo "nginx origin did not start" >&2; exit 2; }
    ;;
*) usage ;;
esac
declare -A pid=()
for v in old new; do
    {
        printf 'prometheusAddr: "%s:%d"\narchitecture: shared\nworkers: 1\nservices:\n' $ADDR "${admin[$v]}"
        for ((i = 0; i < n; i++)); do
            printf '  - {name: s%d, listenAddr: "%s:%d", upstream: "http://%s:%d"}\n' \
                $i $ADDR $((base[$v] + i)) $ADDR $ORIGIN
        done
    } > "$work/$v.yaml"
    bin=$old; [[ $v = new ]] && bin=$new
    taskset -c 0 "$bin" --config "$work/$v.yaml" > "$work/$v.log" 2>&1 &
    pid[$v]=$!; pids+=($!)
done
if ((use_ha)); then
    {
        printf 'global\n    nbthread 1\n    maxconn 4096\ndefaults\n    mode http\n'
        printf '    option forwardfor\n    timeout connect 5s\n    timeout client 60s\n'
        printf '    timeout server 60s\n    timeout http-keep-alive 60s\n    http-reuse always\n'
        printf 'backend origin\n    server o %s:%d\n' $ADDR $ORIGIN
        for ((i = 0; i < n; i++)); do
            printf 'frontend s%d\n    bind %s:%d\n' $i $ADDR $((base[haproxy] + i))
            printf '    http-request set-header X-Forwarded-Proto http\n'
            printf '    http-request set-header X-Forwarded-Host %%[req.hdr(host)]\n'
            printf '    default_backend origin\n'
        done
    } > "$work/haproxy.cfg"
    taskset -c 0 haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
    pid[haproxy]=$!; pids+=($!)
fi
for v in $variants; do
    for ((i = 0; i < 500; i++)); do
        curl -sf -o /dev/null "http://$ADDR:$((base[$v] + n - 1))/" && break
        sleep 0.01
    done
    curl -sf -o /dev/null "http://$ADDR:$((base[$v] + n - 1))/" ||
        { echo "$v does not answer" >&2; cat "$work/$v.log" >&2; exit 2; }
done

task_clock() { awk -F, '$3 ~ /task-clock/ {s += $1} END {print s + 0}' "$@"; } # ms
: > "$work/runs.txt"
for ((r = 1; r <= rounds; r++)); do
    vs=($variants)
    for ((k = 0; k < ${#vs[@]}; k++)); do
        v=${vs[(k + r - 1) % ${#vs[@]}]}
        rm -f "$work"/g.* "$work"/s.*
        perf stat -x, -e task-clock,context-switches -p "${pid[$v]}" -o "$work/s.proxy" \
            -- sleep $((dur + 1)) &
        sp=$!
        perf stat -x, -a -C 1 -e sched:sched_waking -o "$work/s.cpu1" -- sleep $((dur + 1)) &
        sc=$!
        perf stat -x, -e task-clock -p $origin_pid -o "$work/s.origin" -- sleep $((dur + 1)) &
        so=$!
        sleep 0.2
        ws=()
        for i in 0 1 2 3; do
            port=${base[$v]}
            ((n > 1)) && port=$((base[$v] + (7 * r + 25 * i) % n))
            if ((rate > 0)); then
                perf stat -x, -e task-clock -o "$work/s.g$i" -- taskset -c 1 h2load --h1 -c8 \
                    --rps=$((rate / 32)) -D "$dur" --log-file="$work/g.$i" \
                    "http://$ADDR:$port/" > /dev/null 2>&1 &
            else
                perf stat -x, -e task-clock -o "$work/s.g$i" -- taskset -c 1 wrk -t1 -c8 \
                    -d"${dur}s" --latency "http://$ADDR:$port/" > "$work/g.$i" 2>&1 &
            fi
            ws+=($!)
        done
        wait "${ws[@]}" $sp $so $sc
        if ((rate > 0)); then
            cnt=$(cat "$work"/g.? | wc -l)
            lat=$(awk '{print $3}' "$work"/g.? | sort -n |
                awk '{a[NR] = $1} END {printf "%.3f %.3f", a[int(NR * .5)] / 1000, a[int(NR * .99)] / 1000}')
        else # wrk: p50 the mean of the 4, p99 the largest
            cnt=$(awk '/requests in/ {s += $1} END {print s}' "$work"/g.?)
            lat=$(awk 'function ms(v) { return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000 }
                $1 == "50%" {s += ms($2); k++} $1 == "99%" {v = ms($2); if (v > m) m = v}
                END {printf "%.3f %.3f", s / k, m}' "$work"/g.?)
        fi
        awk -v r=$r -v v=$v -v c="$cnt" -v d="$dur" -v lat="$lat" -v p="$(task_clock "$work/s.proxy")" \
            -v one="$(task_clock "$work/s.origin" "$work"/s.g?)" \
            -v cs="$(awk -F, '$3 ~ /context-switches/ {print $1 + 0}' "$work/s.proxy")" \
            -v wk="$(awk -F, '$3 ~ /sched_waking/ {print $1 + 0}' "$work/s.cpu1")" \
            'BEGIN {printf "%d %s %.0f %s %.2f %.2f %.3f %.3f\n", r, v, c / d, lat, p * 1000 / c,
                one * 1000 / c, cs / c, wk / c}'
    done
done | tee -a "$work/runs.txt" |
    awk '{printf "round %s %-7s %7s req/s  p50 %s ms  p99 %s ms  proxy %s us/req  CPU 1 %s us/req" \
        "  proxy sleeps %s/req  CPU 1 wakeups %s/req\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'
echo "$gen, $n services, $rounds rounds of $dur s$( ((rate > 0)) && echo ", $rate req/s offered")$( ((bytes > 0)) && echo ", $bytes-byte body"), $origin_kind origin:"
awk -v variants="$variants" '
    function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]
            for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    function sign_p(k, w,   n, m, i, c, t) { n = k + w; m = k < w ? k : w; c = 1; t = 0
        for (i = 0; i <= m; i++) { t += c; c = c * (n - i) / (i + 1) }
        return n ? (2 * t / 2 ^ n > 1 ? 1 : 2 * t / 2 ^ n) : 1 }
    { for (f = 3; f <= 9; f++) x[$1, $2, f] = $f; rounds[$1] = 1 }
    END { split("req/s p50_ms p99_ms proxy_us/req cpu1_us/req sleeps/req cpu1_wakeups/req", name, " ")
        nv = split(variants, vs, " ")
        for (f = 3; f <= 9; f++) {
            line = sprintf("  %-16s", name[f - 2])
            for (k = 1; k <= nv; k++) {
                m = 0; for (r in rounds) a[++m] = x[r, vs[k], f]
                line = line sprintf(" %s %9.2f", vs[k], med(a, m))
            }
            np = split(nv == 3 ? "new old haproxy old new haproxy" : "new old", pr, " ")
            for (k = 1; k < np; k += 2) {
                m = 0; better = 0; worse = 0
                for (r in rounds) { if (x[r, pr[k + 1], f] == 0) continue
                    q = x[r, pr[k], f] / x[r, pr[k + 1], f]; a[++m] = q
                    if (f == 3 ? q > 1 : q < 1) better++; else if (q != 1) worse++ }
                line = line sprintf("  %s/%s %.3f (%d/%d, p %.3f)", pr[k], pr[k + 1], med(a, m),
                    better, m, sign_p(better, worse))
            }
            print line
        } }' "$work/runs.txt"
