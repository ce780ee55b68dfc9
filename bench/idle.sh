#!/bin/sh
# idle.sh: idle cost of refproxy (shared architecture, 1 worker) at N services:
# context switches of all its threads over a window, RSS, and start-up time.
#   bench/idle.sh [REFPROXY] [N...]      defaults: build/proxy/refproxy, 1 1000 10000
# Env: WINDOW (seconds, default 30), STARTS (start-up runs, default 5).
# Prints one line per N: services, rss_kb, kb_per_service (vs the first N),
# ctxsw over WINDOW, median start-up ms from exec to the "ready" line as seen
# by this script (includes its 5 ms polling) and as refproxy reports it (self_ms).
set -eu
BIN=${1:-build/proxy/refproxy}
[ $# -gt 0 ] && shift
NS=${*:-1 1000 10000}
WINDOW=${WINDOW:-30}
STARTS=${STARTS:-5}
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

gen() { # N -> config; each service on its own 127.2.x.y address, same port
    n=$1
    {
        echo "prometheusAddr: \"127.0.0.1:$admin\""
        echo "architecture: shared"
        echo "workers: 1"
        echo "services:"
        i=0
        while [ $i -lt "$n" ]; do
            echo "  - {name: s$i, listenAddr: \"127.2.$((i / 250)).$((i % 250 + 1)):$port\", respond: {body: \"s$i\"}}"
            i=$((i + 1))
        done
    } > "$TMP/n$n.yaml"
}

ctxsw() { # sum of voluntary+nonvoluntary switches over every thread of $1
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s + 0}'
}

start() { # config -> sets PID and START_MS (exec to the "ready" line)
    : > "$TMP/log"
    t0=$(date +%s%N)
    "$BIN" --config "$1" 2> "$TMP/log" &
    PID=$!
    i=0
    while ! grep -q ready "$TMP/log"; do
        i=$((i + 1)); [ $i -gt 3000 ] && { echo "no ready line" >&2; cat "$TMP/log" >&2; exit 1; }
        sleep 0.005
    done
    t1=$(date +%s%N)
    START_MS=$(( (t1 - t0) / 1000000 ))
    SELF_MS=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$TMP/log" | head -1)
}

stop() { kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

printf '%-9s %9s %12s %12s %12s %12s\n' services rss_kb kb_per_svc ctxsw/${WINDOW}s startup_ms self_ms
base_rss=; base_n=
for n in $NS; do
    gen "$n"
    times=
    selfs=
    k=0
    while [ $k -lt "$STARTS" ]; do
        start "$TMP/n$n.yaml"
        times="$times $START_MS"
        selfs="$selfs $SELF_MS"
        stop
        k=$((k + 1))
    done
    med=$(echo $times | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    smed=$(echo $selfs | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    start "$TMP/n$n.yaml"
    sleep 1 # settle
    rss=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)
    c0=$(ctxsw $PID); sleep "$WINDOW"; c1=$(ctxsw $PID)
    stop
    per=-
    if [ -n "$base_rss" ] && [ "$n" -gt "$base_n" ]; then
        per=$(awk -v a="$rss" -v b="$base_rss" -v n="$n" -v m="$base_n" 'BEGIN {printf "%.2f", (a - b) / (n - m)}')
    fi
    [ -z "$base_rss" ] && { base_rss=$rss; base_n=$n; }
    printf '%-9s %9s %12s %12s %12s %12s\n' "$n" "$rss" "$per" "$((c1 - c0))" "$med" "$smed"
done
