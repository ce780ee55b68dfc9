#!/bin/bash
# profiler_overhead.sh: what refproxy's profiling costs and how accurate it is.
#
#   bench/profiler_overhead.sh [REFPROXY] [ROUNDS] [SECONDS]
#   (defaults: build/proxy/refproxy, 5 rounds, 5 s per wrk run)
#
# Prints three figures, each measured side by side on this machine:
#  1. accuracy: CPU in a CPU profile (samples x sampling period) against the
#     process CPU measured from outside (sum of /proc/PID/task/*/schedstat)
#     over the same request, busy (wrk running) and idle;
#  2. throughput cost of a running CPU profile (100 Hz): wrk req/s with and
#     without a /debug/pprof/profile window open, rounds interleaved, medians;
#  3. throughput cost of --heap-profile: two refproxies, one with it, rounds
#     interleaved, medians;
#  4. the profiler's own share of refproxy's CPU, measured directly: `perf
#     record` samples refproxy at 999 Hz under wrk while a 100 Hz profile
#     runs; the share of samples inside the SIGPROF path (kernel signal
#     delivery and return, gperftools' handler and its stack walk). Figure 2
#     cannot resolve a few percent on a noisy 2-core machine; this can.
# Needs wrk, curl, python3 (and perf for figure 4, skipped with a note without it). Loopback only; every process started is killed on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-"$here/build/proxy/refproxy"}
rounds=${2:-5}
secs=${3:-5}
work=$(mktemp -d /tmp/profiler_overhead.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME EXTRA_ARGS... : starts a refproxy with one respond service, 1 worker.
start() {
    local name=$1; shift
    local admin svc
    admin=$(free_port); svc=$(free_port)
    cat > "$work/$name.yaml" <<EOF
prometheusAddr: "127.0.0.1:$admin"
workers: 1
limits: {maxProfileSeconds: 300}
services:
  - name: bench
    listenAddr: "127.0.0.1:$svc"
    respond: {status: 200, body: "hello\n"}
EOF
    "$bin" --config "$work/$name.yaml" "$@" > "$work/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 1 200); do
        curl -sf "http://127.0.0.1:$admin/healthz" > /dev/null 2>&1 && break
        sleep 0.05
    done
    curl -sf "http://127.0.0.1:$admin/healthz" > /dev/null
    eval "${name}_pid=$pid ${name}_admin=$admin ${name}_svc=$svc"
}

proc_cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# samples and period (us) of a gperftools CPU profile
profile_cpu_ns() {
    python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
w = struct.unpack('<%dQ' % (len(d) // 8), d[:len(d) // 8 * 8])
period, i, total = w[3], 5, 0
while i + 1 < len(w):
    count, depth = w[i], w[i + 1]
    if count == 0 and depth == 1:
        break
    total += count
    i += 2 + depth
print(total, period, total * period * 1000)
EOF
}

rps() { wrk -t1 -c32 -d"${secs}s" "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

start plain
start heap --heap-profile
echo "refproxy: $bin; $rounds rounds of ${secs}s; $(nproc) cores"

# 1. accuracy
accuracy() { # label load(0/1)
    local load=$1 wrkpid=
    if [ "$load" = 1 ]; then
        wrk -t1 -c32 -d"$((secs + 3))s" "http://127.0.0.1:$plain_svc/" > /dev/null 2>&1 &
        wrkpid=$!; pids+=("$wrkpid"); sleep 0.5
    fi
    local c0 c1
    c0=$(proc_cpu_ns "$plain_pid")
    curl -sf -o "$work/acc.prof" "http://127.0.0.1:$plain_admin/debug/pprof/profile?seconds=$secs"
    c1=$(proc_cpu_ns "$plain_pid")
    [ -n "$wrkpid" ] && { kill "$wrkpid" 2>/dev/null || true; wait "$wrkpid" 2>/dev/null || true; }
    read -r samples period prof_ns < <(profile_cpu_ns "$work/acc.prof")
    python3 -c "
cpu=$c1-$c0; prof=$prof_ns
print('  %-5s profile %5d samples x %d us = %8.3f ms; schedstat %8.3f ms; ratio %s' % (
    '$2', $samples, $period, prof/1e6, cpu/1e6, '%.3f' % (prof/cpu) if cpu > 0 else 'n/a'))"
}
echo "1. profile CPU vs process CPU from outside (same request window, ${secs}s):"
for r in $(seq 1 "$rounds"); do accuracy 1 busy; done
accuracy 0 idle

# Opens a 100 Hz CPU profile window of secs + 2 s on the plain instance in the
# background (its curl's pid in cp) and returns once refproxy says it runs.
start_profile() {
    curl -sf -o /dev/null "http://127.0.0.1:$plain_admin/debug/pprof/profile?seconds=$((secs + 2))" &
    cp=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$plain_admin/metrics" | grep -q '^refproxy_cpu_profile_active 1' && return
        sleep 0.02
    done
}

# 2. throughput with and without a CPU profile window
echo "2. throughput, 1 worker, wrk -t1 -c32 -d${secs}s; with/without a 100 Hz CPU profile:"
: > "$work/off"; : > "$work/on"
for r in $(seq 1 "$rounds"); do
    rps "$plain_svc" >> "$work/off"
    start_profile
    rps "$plain_svc" >> "$work/on"
    wait "$cp"
done
off=$(median < "$work/off"); on=$(median < "$work/on")
echo "  without: $(tr '\n' ' ' < "$work/off")-> median $off req/s"
echo "  with:    $(tr '\n' ' ' < "$work/on")-> median $on req/s"
python3 -c "print('  cost of a running CPU profile: %.1f%%' % (100 * (1 - $on / $off)))"

# 3. --heap-profile
echo "3. throughput without/with --heap-profile (two instances, interleaved):"
: > "$work/hoff"; : > "$work/hon"
for r in $(seq 1 "$rounds"); do
    rps "$plain_svc" >> "$work/hoff"
    rps "$heap_svc" >> "$work/hon"
done
hoff=$(median < "$work/hoff"); hon=$(median < "$work/hon")
echo "  without: $(tr '\n' ' ' < "$work/hoff")-> median $hoff req/s"
echo "  with:    $(tr '\n' ' ' < "$work/hon")-> median $hon req/s"
python3 -c "print('  cost of --heap-profile: %.1f%%' % (100 * (1 - $hon / $hoff)))"

# 4. the SIGPROF path's share of refproxy's CPU, sampled by perf
echo "4. share of refproxy's CPU in the profiler's SIGPROF path (perf record -F 999 -g, busy, 100 Hz profile):"
if ! command -v perf > /dev/null || ! perf record -o /dev/null -q true 2> /dev/null; then
    echo "  skipped: perf is not installed or not permitted here"
    exit 0
fi
for r in $(seq 1 "$rounds"); do
    start_profile
    wrk -t1 -c32 -d"$((secs + 1))s" "http://127.0.0.1:$plain_svc/" > /dev/null 2>&1 &
    wp=$!
    sleep 0.5
    perf record -q -F 999 -g -o "$work/perf.data" -p "$plain_pid" -- sleep "$secs" > /dev/null 2>&1
    wait "$wp" "$cp"
    # one line per sample: its frames, leaf first; a sample is in the path when
    # any frame is the handler, the stack walk or the kernel's signal code
    perf script -i "$work/perf.data" -F ip,sym 2> /dev/null | awk '
        /^$/ { if (n) { total++; if (hit) sig++ }; n = 0; hit = 0; next }
        { n++; s = $2
          if (s ~ /ProfileHandler|ProfileData|CpuProfiler|prof_handler|GetStackTrace|_Unwind|unw_|CpuProfile/ ||
              s ~ /^(get_signal|handle_signal|x64_setup_rt_frame|setup_rt_frame|restore_sigcontext|__x64_sys_rt_sigreturn|__restore_rt|signal_setup_done|arch_do_signal_or_restart|do_signal|send_sigqueueinfo|posix_timer_fn|send_sigqueue|posix_timer_queue_signal|complete_signal|__send_signal_locked|run_posix_cpu_timers|handle_posix_cpu_timers)$/ ||
              s ~ /^(posix_cpu_timers_work|posixtimer_send_sigqueue|posix_timer_)/) hit = 1 }
        END { if (n) { total++; if (hit) sig++ }
              printf "  round: %d samples, %d in the SIGPROF path: %.2f%%\n", total, sig, total ? 100 * sig / total : 0 }'
done
