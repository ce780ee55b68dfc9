#!/usr/bin/env bash
# syscalls.sh: system calls per proxied request, refproxy next to its peers — the
# "why" behind bench/peers.sh's throughput table. For each peer: the same N=1 config
# as peers.sh, the refproxy `respond` origin, a fixed number of requests
# (h2load --h1 -c32 -n REQS), with `strace -c -f` attached to the proxy's worker.
# strace slows the proxy a lot, so only the counts mean anything, never the times.
#   bench/peers/syscalls.sh [REQS] [PEERS]     defaults: 20000, "refproxy nginx haproxy"
# Needs strace, h2load, and build-bench/proxy/refproxy (run bench/peers.sh once).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
reqs=${1:-20000}
peers=${2:-refproxy nginx haproxy}
bin=$root/build-bench/proxy/refproxy
[[ -x $bin ]] || { echo "syscalls: no $bin (run bench/peers.sh first)" >&2; exit 2; }
# shellcheck source=bench/peers/configs.sh
. "$here/configs.sh"
work=$(mktemp -d /tmp/peers-sys.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -KILL $(pgrep -P "$p") "$p" 2>/dev/null || true # nginx: its worker too
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
wait_port() { # PORT: until it listens on $ADDR, at most 10 s
    local i
    for ((i = 0; i < 2000; i++)); do
        [[ $(ss -Hltn "( src $ADDR and sport = :$1 )" | wc -l) -gt 0 ]] && return 0
        sleep 0.005
    done
    echo "syscalls: port $1 did not open" >&2; exit 1
}

conf_origin_refproxy "$work" 20980 20981 20982
taskset -c 1 "$bin" --config "$work/origin.yaml" > "$work/origin.log" 2>&1 &
pids+=($!)
wait_port 20980
printf '%-10s %10s %12s  %s\n' peer requests calls/req "top calls per request"
port=20983
for p in $peers; do
    d=$work/$p; mkdir -p "$d"
    "conf_$p" "$d" 1 "$port" 20980 20984
    case $p in
    refproxy) taskset -c 0 "$bin" --config "$d/refproxy.yaml" > "$d/out.log" 2>&1 & ;;
    nginx) taskset -c 0 nginx -e "$d/error.log" -c "$d/nginx.conf" -p "$d" > "$d/out.log" 2>&1 & ;;
    haproxy) taskset -c 0 haproxy -db -f "$d/haproxy.cfg" > "$d/out.log" 2>&1 & ;;
    h2o) taskset -c 0 h2o -c "$d/h2o.conf" > "$d/out.log" 2>&1 & ;;
    *) echo "syscalls: peer $p not supported here" >&2; continue ;;
    esac
    pid=$!; pids+=("$pid")
    wait_port "$port"
    # nginx: the worker is the child of the master we started
    target=$pid; [[ $p = nginx ]] && { sleep 0.2; target=$(pgrep -P "$pid" | head -1); }
    h2load --h1 -c32 -n 2000 "http://$ADDR:$port/" > /dev/null # warm the upstream pool
    strace -c -f -q -o "$d/strace" -p "$target" &
    sp=$!
    sleep 0.5 # strace attaches asynchronously
    h2load --h1 -c32 -n "$reqs" "http://$ADDR:$port/" > "$d/h2load" 2>&1
    kill -INT "$sp"; wait "$sp" 2>/dev/null || true
    ok=$(awk '/^status codes:/ {print $3}' "$d/h2load")
    awk -v n="$ok" -v p="$p" '$1 ~ /^[0-9.]+$/ && NF >= 5 {
            c = $4; name = $NF; if (name == "total") { total = c; next }
            calls[name] = c }
        END {
            line = ""
            for (k = 0; k < 5; k++) {
                best = ""
                for (x in calls) if (best == "" || calls[x] > calls[best]) best = x
                if (best == "") break
                line = line sprintf("%s %.2f  ", best, calls[best] / n); delete calls[best] }
            printf "%-10s %10d %12.2f  %s\n", p, n, total / n, line }' "$d/strace"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    port=$((port + 1))
done
