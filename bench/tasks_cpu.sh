#!/usr/bin/env bash
# tasks_cpu: process CPU % of an idle refproxy at several service counts, for the
# task variants of proxy/tasks/README.md (the tsnsrv default and each fix).
#
# For every N and every variant (interleaved, so variants at one N are measured
# side by side): write a config of N `respond` services, start refproxy, wait
# until /healthz answers, warm up, then sum the first field of
# /proc/<pid>/task/*/schedstat (ns on CPU) at the start and end of the window.
# CPU % = delta ns / window ns * 100. Prints one table row per point (with
# poll_ms, the self-accounted mean CPU of one portlist run from /metrics) and a
# summary of CPU per service at the largest N over the smallest.
#
# With -e RATE every point runs inside a private network namespace where
# scripts/netns_events.sh adds/removes an address on lo at RATE changes per
# second during warm-up and window (netmon's event load; needs root).
#
# Usage: bench/tasks_cpu.sh [-b BUILD_DIR] [-c "10 20 30 40 50"] [-w WARMUP_S] [-d WINDOW_S]
#                           [-v "default portlist-off portlist-shared netmon-shared arch-shared"]
#                           [-e EVENTS_PER_S] [-r REPEATS] [-x EXTRA_YAML_TASKS_LINE]
# -r R measures every point R times (all points of a repeat before the next
# repeat) and reports the median; -x adds a line under `tasks:` to every
# per-service variant, e.g. -x "footprint: {tcpConns: 30}".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build counts="10 20 30 40 50" warmup=10 window=30
variants="default portlist-off portlist-shared netmon-shared arch-shared"
events=0 repeats=1 extra=
while getopts "b:c:w:d:v:e:r:x:h" opt; do
    case $opt in
    b) build=$OPTARG ;;
    c) counts=$OPTARG ;;
    w) warmup=$OPTARG ;;
    d) window=$OPTARG ;;
    v) variants=$OPTARG ;;
    e) events=$OPTARG ;;
    r) repeats=$OPTARG ;;
    x) extra=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
    esac
done
bin=$build/proxy/refproxy
[[ -x $bin ]] || { echo "tasks_cpu: no $bin (build it first)" >&2; exit 2; }
work=$(mktemp -d /tmp/tasks_cpu.XXXXXX)
pid= evpid= ns= nsexec=()
cleanup() {
    if [[ -n $evpid ]] && kill -0 "$evpid" 2>/dev/null; then
        kill -TERM "$evpid" 2>/dev/null || true
        wait "$evpid" 2>/dev/null || true
    fi
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    if [[ -n $ns ]]; then ip netns del "$ns" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $events != 0 ]]; then
    ns=tasks-cpu-$$
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    nsexec=(ip netns exec "$ns") # execs in place: $! stays refproxy's pid
fi

# Services listen on their own loopback address (127.77.x.y) at one port, so
# 50 services need one free port, not 50.
pick_ports() {
    admin_port=$((20000 + RANDOM % 10000))
    svc_port=$((40000 + RANDOM % 20000))
}
pick_ports

# write_config N VARIANT FILE
write_config() {
    local n=$1 variant=$2 f=$3 arch=per-service tasks=""
    case $variant in
    default) ;;
    portlist-off) tasks="  portlist: {mode: off}" ;;
    portlist-shared) tasks="  portlist: {mode: shared}" ;;
    netmon-shared) tasks="  netmon: {mode: shared}" ;;
    arch-shared) arch=shared extra= ;;
    *) echo "tasks_cpu: unknown variant $variant" >&2; exit 2 ;;
    esac
    {
        echo "prometheusAddr: \"127.0.0.1:$admin_port\""
        echo "architecture: $arch"
        if [[ -n $tasks || ( -n $extra && $arch == per-service ) ]]; then
            echo "tasks:"
            [[ -n $tasks ]] && echo "$tasks"
            [[ -n $extra && $arch == per-service ]] && echo "  $extra"
        fi
        echo "services:"
        for ((i = 0; i < n; i++)); do
            echo "  - name: svc$i"
            echo "    listenAddr: \"127.77.$((i / 250)).$((i % 250 + 1)):$svc_port\""
            echo "    respond: {status: 200, body: \"ok\"}"
        done
    } >"$f"
}

# Summed ns on CPU of every thread of $1.
proc_cpu_ns() {
    local sum=0 t v
    for t in /proc/"$1"/task/*/schedstat; do
        read -r v _ <"$t" 2>/dev/null || continue
        sum=$((sum + v))
    done
    echo "$sum"
}

now_ns() { date +%s%N; }

# measure N VARIANT: sets result="cpu_pct threads"; 1 when refproxy never got ready.
# Runs in this shell (not $(...)) so the EXIT trap knows pid and evpid.
measure() {
    local n=$1 v=$2 cfg=$work/$2-$1.yaml ok= c0 c1 t0 t1 threads poll_ms
    write_config "$n" "$v" "$cfg"
    "${nsexec[@]}" "$bin" --config "$cfg" >"$work/$v-$n.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        if "${nsexec[@]}" curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/healthz" \
            2>/dev/null; then
            ok=1; break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -z $ok ]]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
        return 1
    fi
    if [[ -n $ns ]]; then
        "$root/scripts/netns_events.sh" -N "$ns" -r "$events" -w 0 \
            -d $((warmup + window + 5)) >/dev/null &
        evpid=$!
    fi
    sleep "$warmup"
    c0=$(proc_cpu_ns "$pid") t0=$(now_ns)
    sleep "$window"
    c1=$(proc_cpu_ns "$pid") t1=$(now_ns)
    threads=$(ls /proc/"$pid"/task | wc -l)
    # The self-accounted mean CPU per portlist run (ms) since start, from /metrics.
    poll_ms=$("${nsexec[@]}" curl -fsS "http://127.0.0.1:$admin_port/metrics" 2>/dev/null |
        awk '/^refproxy_task_cpu_seconds_total\{task="portlist"/ { c += $NF }
             /^refproxy_task_runs_total\{task="portlist"/ { r += $NF }
             END { if (r > 0) printf "%.3f", 1000 * c / r; else printf "-" }') || poll_ms=-
    if [[ -n $evpid ]]; then
        kill -TERM "$evpid" 2>/dev/null || true
        wait "$evpid" 2>/dev/null || true
        evpid=
    fi
    kill -TERM "$pid"; wait "$pid" || true; pid=
    result=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v th="$threads" -v pm="$poll_ms" \
        'BEGIN { printf "%.3f %d %s\n", 100 * c / t, th, pm }')
}

printf "%-16s %4s %6s %8s %12s %8s %8s\n" variant N repeat cpu_pct cpu_pct_per_svc threads \
    poll_ms
declare -A samples per_svc
for ((r = 1; r <= repeats; r++)); do
    for n in $counts; do
        for v in $variants; do
            result=
            for attempt in 1 2 3; do # a port taken by someone else: new ports, again
                if measure "$n" "$v"; then break; fi
                echo "tasks_cpu: $v N=$n not ready (attempt $attempt):" >&2
                tail -2 "$work/$v-$n.log" >&2
                result=
                pick_ports
            done
            [[ -n $result ]] || { echo "tasks_cpu: giving up on $v N=$n" >&2; exit 1; }
            read -r pct threads poll_ms <<<"$result"
            samples[$v,$n]+="$pct "
            printf "%-16s %4d %6d %8s %12s %8d %8s\n" "$v" "$n" "$r" "$pct" \
                "$(awk -v p="$pct" -v n="$n" 'BEGIN { printf "%.4f", p / n }')" "$threads" \
                "$poll_ms"
        done
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END {
    if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
echo "median over $repeats repeat(s):"
printf "%-16s %4s %8s %12s\n" variant N cpu_pct cpu_pct_per_svc
for v in $variants; do
    for n in $counts; do
        m=$(median <<<"${samples[$v,$n]}")
        per_svc[$v,$n]=$(awk -v p="$m" -v n="$n" 'BEGIN { printf "%.4f", p / n }')
        printf "%-16s %4d %8s %12s\n" "$v" "$n" "$m" "${per_svc[$v,$n]}"
    done
done
first=${counts%% *} last=${counts##* }
echo
echo "CPU per service at N=$last over N=$first:"
for v in $variants; do
    awk -v a="${per_svc[$v,$last]}" -v b="${per_svc[$v,$first]}" -v v="$v" 'BEGIN {
        if (b > 0) printf "  %-16s %.2f\n", v, a / b
        else printf "  %-16s n/a (zero at N=first)\n", v }'
done
