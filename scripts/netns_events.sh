#!/usr/bin/env bash
# netns_events: netlink address events at a known rate, without touching the host.
#
# Creates a network namespace, brings its own lo up, optionally starts COMMAND
# inside it (e.g. refproxy), then adds and removes an extra address
# (127.0.0.<host>/8 on the namespace's lo) at RATE changes per second for
# DURATION seconds. Every change is one RTM_NEWADDR or RTM_DELADDR (plus the
# local-route messages the kernel sends with it) seen by every NETLINK_ROUTE
# socket in the namespace and by nothing outside it. No traffic leaves the
# namespace. The namespace and COMMAND are removed on every exit path.
#
# Usage: scripts/netns_events.sh [-r RATE] [-d DURATION] [-w WARMUP] [-n NAME | -N NAME]
#                                [-a HOST] [-- COMMAND ARGS...]
#   -r RATE      address changes per second (default 2; 0 = none, just run COMMAND)
#   -d DURATION  seconds of events (default 10)
#   -w WARMUP    seconds between starting COMMAND and the first event (default 1)
#   -n NAME      namespace name (default scaleprof-ev-<pid>)
#   -N NAME      use the existing namespace NAME (its lo must be up) and leave it in place
#   -a HOST      last octet of the toggled address (default 77)
# Needs root (ip netns add). Prints "events: N" at the end. Exit status: COMMAND's
# if it exited by itself before the end, else 0.
set -euo pipefail

rate=2 duration=10 warmup=1 name="scaleprof-ev-$$" host=77 own_ns=1
while getopts "r:d:w:n:N:a:h" opt; do
    case $opt in
    r) rate=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    n) name=$OPTARG ;;
    N) name=$OPTARG own_ns= ;;
    a) host=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift

for v in "$rate" "$duration" "$warmup" "$host"; do
    [[ $v =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "netns_events: not a number: $v" >&2; exit 2; }
done

cmd_pid=
cleanup() {
    if [[ -n $cmd_pid ]] && kill -0 "$cmd_pid" 2>/dev/null; then
        kill -TERM "$cmd_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$cmd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$cmd_pid" 2>/dev/null || true
        wait "$cmd_pid" 2>/dev/null || true
    fi
    if [[ -n $own_ns ]]; then
        ip netns del "$name" 2>/dev/null || true
    else
        ip -n "$name" addr del "127.0.0.$host/8" dev lo 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $own_ns ]]; then
    ip netns add "$name"
    ip -n "$name" link set lo up
fi

if (($#)); then
    ip netns exec "$name" "$@" &
    cmd_pid=$!
    sleep "$warmup"
fi

addr="127.0.0.$host/8"
events=0
if [[ $rate != 0 && $rate != 0.0 ]]; then
    total=$(awk -v r="$rate" -v d="$duration" 'BEGIN { printf "%d", r * d }')
    period=$(awk -v r="$rate" 'BEGIN { printf "%.6f", 1 / r }')
    start=$(date +%s.%N)
    for ((i = 0; i < total; i++)); do
        if [[ -n $cmd_pid ]] && ! kill -0 "$cmd_pid" 2>/dev/null; then
            break
        fi
        if ((i % 2 == 0)); then
            ip -n "$name" addr add "$addr" dev lo
        else
            ip -n "$name" addr del "$addr" dev lo
        fi
        events=$((events + 1))
        # sleep until the next slot on an absolute schedule, so ip's own time
        # does not lower the rate
        next=$(awk -v s="$start" -v i="$i" -v p="$period" \
            'BEGIN { printf "%.6f", s + (i + 1) * p }')
        now=$(date +%s.%N)
        delay=$(awk -v n="$next" -v t="$now" 'BEGIN { d = n - t; printf "%.6f", (d > 0 ? d : 0) }')
        sleep "$delay"
    done
    # leave the namespace as we found it
    ip -n "$name" addr del "$addr" dev lo 2>/dev/null || true
elif [[ -n $cmd_pid ]]; then
    sleep "$duration"
fi
echo "events: $events"

status=0
if [[ -n $cmd_pid ]] && ! kill -0 "$cmd_pid" 2>/dev/null; then
    wait "$cmd_pid" || status=$?
    cmd_pid=
fi
exit "$status"
