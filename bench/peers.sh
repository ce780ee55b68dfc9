#!/usr/bin/env bash
# peers.sh: refproxy side by side with nginx, HAProxy, h2o and Caddy (issue 9).
#
#   bench/peers.sh [--quick] [--rounds R] [--duration S] [--idle-window S]
#                  [--peers "refproxy nginx haproxy h2o caddy"] [--idle-ns "10 100 1000 10000"]
#                  [--phases "n1 n100 1mib idle start"] [--origin nginx|refproxy]
#                  [--no-install] [--out FILE]
#
# Installs the Debian packages it needs when missing, builds refproxy and scaleprof in
# build-bench (release), writes each peer's config for N services with `scaleprof gen`
# (one port each, all proxying to one origin; 1 worker/thread, access log off, upstream
# keep-alive; bench/peers/configs.sh) into a temp dir,
# starts everything on 127.9.0.1 (loopback) and measures, interleaving the peers
# (A B C … B C A … C A B …: each round starts one peer later, so no peer always runs
# first, straight after the previous figure's heaviest load) for R rounds (default 8),
# reporting medians, each peer's ratio to refproxy, and a sign test over the rounds:
#   small responses, keep-alive: wrk -t1 -c32 and h2load --h1 -c32, N=1 and N=100;
#   a 1 MiB response (wrk); p50/p99 and CPU per request at one offered load for all
#   (h2load --rps: small at 24,000 req/s, 1 MiB at 800 req/s); refproxy with a CPU profile running (pseudo-peer
#   "refproxy+prof", N=1 wrk); idle wakeups/s and memory per idle service at N in
#   --idle-ns; start-up time at the largest N. With every throughput figure, the
#   proxy's own CPU per request, how busy its core was and how busy CPU 1 was (a
#   proxy under ~95% busy with CPU 1 near 100% was held back by CPU 1, and CPU per
#   request is the figure that compares).
# The origin is nginx (`return` for the small body, sendfile for 1 MiB) unless --origin
# refproxy: a program that is not under test, and the same one every run. (Picking the
# faster of the two each run was a coin toss, 0.06% apart in one run, and moved figures
# such as nginx's 1 MiB throughput, 633 against 1181 req/s, for no reason of the proxies'.)
# CPU placement: every proxy is pinned to CPU 0, the origin and the load generators to
# CPU 1, so each proxy has one core to itself. Writes bench/RESULTS.md (tables made by
# bench/peers/report.awk from the raw figures this run printed). --quick: 3 s per
# measurement, 3 rounds, 3 s idle windows (about 6 minutes; too few rounds for the sign
# test to call anything but a tie); default 8 rounds of 4 s, 5 s idle windows (about
# 30 minutes). --phases runs only some: n1 and n100 (small body), 1mib, idle, start.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cmdline="bench/peers.sh $*"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
clk=$(getconf CLK_TCK)
rounds=8 dur=4 idlew=5 install=1 quick=0
phases="n1 n100 1mib idle start"
peers="refproxy nginx haproxy h2o caddy"
idle_ns="10 100 1000 10000"
origin_kind=nginx
out=$here/RESULTS.md
while [[ $# -gt 0 ]]; do
    case $1 in
    --quick) quick=1 rounds=3 dur=3 idlew=3 ;;
    --rounds) rounds=$2; shift ;;
    --duration) dur=$2; shift ;;
    --idle-window) idlew=$2; shift ;;
    --peers) peers=$2; shift ;;
    --idle-ns) idle_ns=$2; shift ;;
    --phases) phases=$2; shift ;;
    --origin) origin_kind=$2; shift ;;
    --no-install) install=0 ;;
    --out) out=$2; shift ;;
    *) sed -n '2,34p' "$0"; exit 2 ;;
    esac
    shift
done
for ph in $phases; do
    case $ph in n1 | n100 | 1mib | idle | start) ;;
    *) echo "peers: --phases: n1 n100 1mib idle start, not $ph" >&2; exit 2 ;; esac
done
# shellcheck source=bench/peers/configs.sh
. "$here/peers/configs.sh"

work=$(mktemp -d /tmp/peers.XXXXXX)
chmod 755 "$work" # nginx workers run as www-data and read files here
raw=$work/raw.tsv     # phase \t metric \t peer \t round \t value
notes=$work/notes.txt # lines copied into RESULTS.md
: > "$raw"; : > "$notes"
declare -A PID=()     # peer -> root pid of the running instance
bgpids=()
cleanup() {
    local p
    for p in "${PID[@]}" "${bgpids[@]}"; do kill_tree "$p"; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
note() { echo "$*"; echo "$*" >> "$notes"; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$raw"; } # phase metric peer round value

# ---- packages ---------------------------------------------------------------------
# command -> Debian package; a package Debian 12 lacks is reported and its peer skipped
declare -A pkg_of=([wrk]=wrk [nginx]=nginx-light [haproxy]=haproxy [h2o]=h2o [caddy]=caddy
    [h2load]=nghttp2-client [curl]=curl [ss]=iproute2 [taskset]=util-linux [meson]=meson
    [ninja]=ninja-build [awk]=mawk)
missing=()
for c in wrk h2load curl ss taskset awk meson ninja nginx haproxy h2o caddy; do
    command -v "$c" > /dev/null 2>&1 && continue
    p=${pkg_of[$c]}
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        note "- $p ($c) is not available from this system's Debian archive: skipped"
        continue
    fi
    if [[ $install = 1 && $(id -u) = 0 ]]; then
        missing+=("$p")
    else
        note "- $c missing: run \`apt-get install -y $p\`"
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing: ${missing[*]}"
    # policy: never let package scripts start system services on :80
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" > "$work/apt.log" 2>&1 ||
        { apt-get update > /dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" \
                >> "$work/apt.log" 2>&1; } ||
        { tail -20 "$work/apt.log"; echo "peers: apt-get install failed" >&2; exit 2; }
fi
for c in wrk h2load curl ss taskset; do
    command -v "$c" > /dev/null || { echo "peers: $c is required" >&2; exit 2; }
done
avail=
for p in $peers; do
    c=$p; [[ $p = refproxy ]] && c=meson
    if command -v "$c" > /dev/null 2>&1; then avail="$avail $p"
    else note "- peer $p: not installed, left out"; fi
done
peers=${avail# }

# ---- refproxy build -----------------------------------------------------------------
# release = -O3, not stripped (.symtab and .eh_frame stay: gperftools' profiler unwinds
# with libunwind from .eh_frame and scaleprof symbolizes from .symtab)
bdir=$root/build-bench
[[ -f $bdir/build.ninja ]] || meson setup "$bdir" "$root" -Dbuildtype=release > "$work/meson.log"
ninja -C "$bdir" proxy/refproxy harness/scaleprof > "$work/ninja.log" ||
    { tail -30 "$work/ninja.log"; exit 2; }
bin=$bdir/proxy/refproxy
SCALEPROF=$bdir/harness/scaleprof # writes the peers' configs (peers/configs.sh)

# ---- ports --------------------------------------------------------------------------
# below the ephemeral range (32768+), so client sockets never take one
O_SMALL=20990 O_BIG=20991 O_ADMIN=20992 R_ADMIN=20993 BASE=21000 IDLE_BASE=22000
range_busy() { ss -Hltn "( src $ADDR and sport >= :$1 and sport <= :$2 )" | wc -l; }
listening() { range_busy "$@"; }
maxn=0; for n in $idle_ns; do ((n > maxn)) && maxn=$n; done
((IDLE_BASE + maxn <= 32768)) || { echo "peers: --idle-ns too large for the ports" >&2; exit 2; }
b=$(range_busy 20990 $((IDLE_BASE + maxn)))
[[ $b = 0 ]] ||
    { echo "peers: $b ports in 20990..$((IDLE_BASE + maxn)) already listening" >&2; exit 2; }

# ---- processes ----------------------------------------------------------------------
tree() { # pid -> that pid and all its descendants
    ps -e -o pid=,ppid= | awk -v r="$1" '{p[$1] = $2} END {
        n = 1; s[1] = r; out = r; changed = 1
        while (changed) { changed = 0
            for (c in p) if (!(c in seen) && (p[c] in inset || p[c] == r)) {
                seen[c] = 1; inset[c] = 1; out = out " " c; changed = 1 } }
        print out }'
}
kill_tree() { # pid: SIGKILL it and its descendants (nginx's worker outlives a killed master)
    local t; t=$(tree "$1"); kill -KILL $t 2>/dev/null || true; }
ctxsw() { local p; for p in $(tree "$1"); do cat /proc/"$p"/task/*/status 2>/dev/null; done |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s + 0}'; }
cpu1_ticks() { # -> "busy total" clock ticks of CPU 1 (origin + generators) so far
    awk '$1 == "cpu1" {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' \
        /proc/stat; }
cpu_ticks() { # pid -> user + system clock ticks used so far by the process tree
    local p; for p in $(tree "$1"); do cat /proc/"$p"/stat 2>/dev/null; done |
        awk '{sub(/^.*\) /, ""); s += $12 + $13} END {print s + 0}'; }
mem_kb() { # pid -> "rss_kb pss_kb" summed over the process tree (PSS counts shared pages once)
    local p r s tr=0 ts=0
    for p in $(tree "$1"); do
        r=$(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
        s=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
        tr=$((tr + ${r:-0})); ts=$((ts + ${s:-0}))
    done
    echo "$tr $ts"
}

start_peer() { # PEER DIR N BASE ORIGIN ADMIN -> PID[PEER]; writes the config first
    local peer=$1 dir=$2 n=$3 base=$4 origin=$5 admin=$6 cfg
    mkdir -p "$dir"
    cfg=$(conf_peer "$peer" "$dir" "$n" "$base" "$origin" "$admin")
    case $peer in
    refproxy) taskset -c 0 "$bin" --config "$cfg" > "$dir/out.log" 2>&1 & ;;
    nginx) taskset -c 0 nginx -e "$dir/error.log" -c "$cfg" -p "$dir" \
        > "$dir/out.log" 2>&1 & ;;
    haproxy) taskset -c 0 haproxy -db -f "$cfg" > "$dir/out.log" 2>&1 & ;;
    h2o) taskset -c 0 h2o -c "$cfg" > "$dir/out.log" 2>&1 & ;;
    caddy) HOME=$dir XDG_DATA_HOME=$dir XDG_CONFIG_HOME=$dir GOMAXPROCS=1 \
        taskset -c 0 caddy run --adapter caddyfile --config "$cfg" \
        > "$dir/out.log" 2>&1 & ;;
    esac
    PID[$peer]=$!
}

wait_ready() { # PEER N BASE TIMEOUT_S -> 0 when all N ports listen, else 1
    local peer=$1 n=$2 base=$3 end=$((SECONDS + $4))
    while (($(listening "$base" $((base + n - 1))) < n)); do
        kill -0 "${PID[$peer]}" 2>/dev/null || return 1
        ((SECONDS > end)) && return 1
        sleep 0.005
    done
}

stop_peer() { # PEER
    local peer=$1 p=${PID[$1]:-} i
    [[ -n $p ]] || return 0
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < 500; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.01; done
    kill_tree "$p"
    wait "$p" 2>/dev/null || true
    unset "PID[$peer]"
}

fail_peer() { # PEER DIR WHAT
    note "- $1 failed $3; last lines of its log:"
    { tail -n 3 "$2"/out.log "$2"/error.log 2>/dev/null || true; } |
        sed 's/^/    /' | tee -a "$notes"
    stop_peer "$1"
}

# ---- load generators (pinned to CPU 1, with the origin) ------------------------------
to_ms() { awk '{v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    print (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v}'; }
wrk_parse() { # wrk output file -> "req/s p50_ms p99_ms errors"
    local rps p50 p99 err
    rps=$(awk '/^Requests\/sec/ {print $2}' "$1")
    p50=$(awk '$1 == "50%" {print $2}' "$1" | to_ms)
    p99=$(awk '$1 == "99%" {print $2}' "$1" | to_ms)
    err=$(awk '/Non-2xx|Socket errors/ {e = 1} END {print e + 0}' "$1")
    echo "${rps:-0} ${p50:-0} ${p99:-0} $err"
}
h2_parse() { # h2load output, log file(s) -> "req/s p50_ms p99_ms errors"
    local f=$1; shift
    local rps err
    rps=$(awk '/^finished in/ {gsub(",", ""); print $4}' "$f" | awk '{s += $1} END {print s + 0}')
    err=$(awk '/^requests:/ {f += $10 + $12 + $14} /^status codes:/ {f += $7 + $9}
        END {print (f > 0)}' "$f")
    cat "$@" | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {
        if (NR == 0) { print "0 0"; exit }
        i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
        printf "%.3f %.3f\n", a[i50] / 1000, a[i99] / 1000 }' |
        { read -r a b; echo "$rps $a $b $err"; }
}

# run_load TOOL PORTS... -> "req/s p50 p99 errors". With several ports, one generator per
# port (c32 split evenly), all at once; req/s summed; h2load percentiles are exact over
# all requests, wrk's p50 is the mean and p99 the max of the per-process figures.
# TOOL h2load@R: h2load at R requests per second in all (--rps R/32 per connection):
# the same offered load for every peer, so latency and CPU per request compare like
# with like (closed-loop runs give each proxy the load its own speed allows).
run_load() {
    local tool=$1; shift
    local k=$# c=$((32 / $#)) i=0 port pids=() rate=()
    [[ $tool = h2load@* ]] && rate=(--rps=$(( ${tool#h2load@} / 32 )))
    for port in "$@"; do
        if [[ $tool = wrk ]]; then
            timeout $((dur + 30)) taskset -c 1 wrk -t1 -c"$c" -d"${dur}s" --latency \
                "http://$ADDR:$port/" \
                > "$work/load.$i" 2>&1 &
        else
            timeout $((dur + 30)) taskset -c 1 h2load --h1 -c"$c" -D "$dur" "${rate[@]}" \
                --log-file="$work/h2log.$i" \
                "http://$ADDR:$port/" > "$work/load.$i" 2>&1 &
        fi
        pids+=($!); i=$((i + 1))
    done
    wait "${pids[@]}" || true
    if [[ $tool = wrk ]]; then
        for ((i = 0; i < k; i++)); do wrk_parse "$work/load.$i"; done |
            awk '{r += $1; p += $2; if ($3 > q) q = $3; e += $4}
                END {printf "%.2f %.3f %.3f %d\n", r, p / NR, q, e}'
    else
        cat "$work"/load.[0-9]* > "$work/load.all"
        h2_parse "$work/load.all" "$work"/h2log.[0-9]*
    fi
    rm -f "$work"/load.* "$work"/h2log.*
}

check_body() { # PORT EXPECTED_BYTES -> 0 when a GET returns 200 with that many bytes
    local got
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 5 \
        "http://$ADDR:$1/" || true)
    [[ $got = "200 $2" ]]
}

# ---- the origin -----------------------------------------------------------------------
start_origin() { # KIND
    local d=$work/origin-$1
    mkdir -p "$d"
    if [[ $1 = refproxy ]]; then
        conf_origin_refproxy "$d" $O_SMALL $O_BIG $O_ADMIN
        taskset -c 1 "$bin" --config "$d/origin.yaml" > "$d/out.log" 2>&1 &
    else
        conf_origin_nginx "$d" $O_SMALL $O_BIG
        taskset -c 1 nginx -e "$d/error.log" -c "$d/nginx.conf" -p "$d" > "$d/out.log" 2>&1 &
    fi
    ORIGIN_PID=$!; bgpids+=("$ORIGIN_PID")
    local i=0
    while (($(listening $O_SMALL $O_BIG) < 2)); do
        i=$((i + 1))
        ((i > 2000)) && { echo "origin $1 did not start" >&2; cat "$d/out.log" >&2; exit 2; }
        sleep 0.005
    done
    check_body $O_SMALL 12 && check_body $O_BIG 1048576 ||
        { echo "origin $1 answers wrongly" >&2
            for f in "$d"/*.log; do tail -n 5 "$f" >&2; done; exit 2; }
}
stop_origin() {
    local i
    kill -TERM "$ORIGIN_PID" 2>/dev/null || true
    for ((i = 0; i < 500; i++)); do kill -0 "$ORIGIN_PID" 2>/dev/null || break; sleep 0.01; done
    kill_tree "$ORIGIN_PID"
    wait "$ORIGIN_PID" 2>/dev/null || true
}

# the origin: --origin's; both measured straight (origin on CPU 1, wrk on CPU 0, best of
# 2 rounds) for the record
case $origin_kind in
nginx) command -v nginx > /dev/null || { echo "--origin nginx: nginx is not installed" >&2; exit 2; } ;;
refproxy) ;;
*) echo "--origin: nginx or refproxy, not $origin_kind" >&2; exit 2 ;;
esac
declare -A orps=()
okinds=refproxy; command -v nginx > /dev/null && okinds="refproxy nginx"
for r in 1 2; do
    for kind in $okinds; do
        start_origin "$kind"
        v=$(taskset -c 0 wrk -t1 -c32 -d2s "http://$ADDR:$O_SMALL/" |
            awk '/^Requests\/sec/ {print $2}')
        orps[$kind]="${orps[$kind]:-} $v"
        stop_origin
    done
done
for kind in $okinds; do
    record origin "req/s (direct, 2 s)" "$kind" 1 "$(echo ${orps[$kind]} | tr ' ' '\n' | sort -g | tail -1)"
done
note "- origin: $origin_kind (--origin; direct, best of 2 wrk -c32 runs:$(for k in $okinds; do
    printf ' %s %s req/s;' "$k" "$(echo ${orps[$k]} | tr ' ' '\n' | sort -g | tail -1)"; done)" \
    "pinned to CPU 1 with the load generators; every proxy pinned to CPU 0"
start_origin "$origin_kind"

# ---- phase: throughput at N services -------------------------------------------------
# all peers up at once (peer k on ports BASE + 200k …), interleaved per round
declare -A pbase=()
k=0; for p in $peers; do pbase[$p]=$((BASE + 200 * k)); k=$((k + 1)); done

profile_run() { # ROUND: refproxy with /debug/pprof/profile open during the wrk run
    local f=$work/prof.$1 i
    curl -sf --max-time $((dur + 30)) -o "$f" \
        "http://$ADDR:$R_ADMIN/debug/pprof/profile?seconds=$((dur + 3))" &
    local cp=$!
    for ((i = 0; i < 200; i++)); do
        curl -sf "http://$ADDR:$R_ADMIN/metrics" | grep -q '^refproxy_cpu_profile_active 1' && break
        sleep 0.01
    done
    run_load wrk "${pbase[refproxy]}"
    wait "$cp" || true
    [[ -s $f ]] && cp "$f" "$work/refproxy-wrk.prof"
}

round_order() { # ROUND PEERS... -> the peers, starting ROUND - 1 places later (rotated)
    local r=$1; shift
    local a=("$@") i
    for ((i = 0; i < $#; i++)); do echo -n "${a[(i + r - 1) % $#]} "; done
}

throughput_phase() { # N ORIGIN_PORT BODY_BYTES TOOLS PROFILE(0/1) PHASE
    local n=$1 oport=$2 bytes=$3 tools=$4 prof=$5 phase=$6 up="" p r tool res i ports order
    local t0 t1 w0 w1 c0 c1 cpu_us busy busy1
    local pd=$work/${phase//[^A-Za-z0-9=]/_}
    for p in $peers; do
        start_peer "$p" "$pd/$p" "$n" "${pbase[$p]}" "$oport" $R_ADMIN
    done
    for p in $peers; do
        if wait_ready "$p" "$n" "${pbase[$p]}" 60 && check_body "${pbase[$p]}" "$bytes"; then
            up="$up $p"
        else
            fail_peer "$p" "$pd/$p" "at $phase"
        fi
    done
    echo "== $phase: peers up:$up"
    for p in $up; do run_load wrk "${pbase[$p]}" > /dev/null; done # warm-up
    for ((r = 1; r <= rounds; r++)); do
        for tool in $tools; do
            # N > 1: 4 generators on 4 of the N ports, a different 4 each round.
            # refproxy+prof runs straight after refproxy: the pair the profiler's cost
            # is read from.
            order=
            for p in $(round_order "$r" $up); do
                order="$order $p"
                ((prof)) && [[ $p = refproxy && $tool = wrk ]] && order="$order refproxy+prof"
            done
            for p in $order; do
                ports=
                if ((n == 1)); then ports=${pbase[${p%+prof}]}
                else for i in 0 1 2 3; do
                    ports="$ports $((pbase[${p%+prof}] + (r * 7 + i * n / 4) % n))"; done
                fi
                # the proxy's own CPU over the run: per request, and how busy its core
                # was. Below ~95% busy the proxy was not the bottleneck (the origin
                # and the generators on CPU 1 were), and CPU per request is the
                # figure that compares proxies.
                # CPU 1 near 100% busy: the generators and the origin set the pace
                t0=$(cpu_ticks "${PID[${p%+prof}]}"); w0=$(date +%s.%N); c0=$(cpu1_ticks)
                if [[ $p = refproxy+prof ]]; then res=$(profile_run "$r")
                else res=$(run_load "$tool" $ports); fi
                t1=$(cpu_ticks "${PID[${p%+prof}]}"); w1=$(date +%s.%N); c1=$(cpu1_ticks)
                read -r rps p50 p99 err <<< "$res"
                read -r cpu_us busy busy1 <<< "$(awk -v t=$((t1 - t0)) -v hz="$clk" -v r="$rps" \
                    -v d="$dur" -v w0="$w0" -v w1="$w1" -v c0="$c0" -v c1="$c1" 'BEGIN {
                    c = (r > 0) ? t / hz * 1e6 / (r * d) : 0
                    split(c0, a, " "); split(c1, b, " ")
                    printf "%.2f %.1f %.1f\n", c, 100 * t / hz / (w1 - w0),
                        (b[2] > a[2]) ? 100 * (b[1] - a[1]) / (b[2] - a[2]) : 0 }')"
                echo "  round $r $tool $p: $rps req/s p50 $p50 ms p99 $p99 ms," \
                    "CPU $cpu_us us/req, $busy% busy, CPU 1 $busy1% busy${err/#0/}"
                [[ $err = 0 ]] || note "- $phase round $r $tool $p: errors or non-2xx responses"
                record "$phase $tool" "req/s" "$p" "$r" "$rps"
                record "$phase $tool" "p50 ms" "$p" "$r" "$p50"
                record "$phase $tool" "p99 ms" "$p" "$r" "$p99"
                record "$phase $tool" "CPU us/req" "$p" "$r" "$cpu_us"
                # refproxy+prof's window includes the wait for the profile: not comparable
                if [[ $p != *+prof ]]; then
                    record "$phase $tool" "CPU busy %" "$p" "$r" "$busy"
                    record "$phase $tool" "CPU 1 busy %" "$p" "$r" "$busy1"
                fi
            done
        done
    done
    for p in $up; do stop_peer "$p"; done
}

t_start=$(date +%s)
want() { [[ " $phases " = *" $1 "* ]]; }
want n1 && throughput_phase 1 $O_SMALL 12 "wrk h2load h2load@24000" 1 "small N=1"
want n100 && throughput_phase 100 $O_SMALL 12 "wrk h2load h2load@24000" 0 "small N=100"
want 1mib && throughput_phase 1 $O_BIG 1048576 "wrk h2load@800" 0 "1MiB N=1"
stop_origin

# ---- phase: idle cost and start-up ---------------------------------------------------
# one peer at a time on IDLE_BASE…; the origin is down (idle proxies never dial it)
declare -A base_pss=() base_n=()
for n in $(want idle && echo "$idle_ns"); do
    for p in $peers; do
        d=$work/idle-$n/$p
        t0=$(date +%s%N)
        start_peer "$p" "$d" "$n" $IDLE_BASE $O_SMALL $R_ADMIN
        if ! wait_ready "$p" "$n" $IDLE_BASE 120; then
            fail_peer "$p" "$d" "to start $n services"; continue
        fi
        t1=$(date +%s%N)
        sleep 1 # settle: let start-up work finish before counting
        read -r rss pss <<< "$(mem_kb "${PID[$p]}")"
        c0=$(ctxsw "${PID[$p]}"); sleep "$idlew"; c1=$(ctxsw "${PID[$p]}")
        stop_peer "$p"
        ws=$(awk -v c=$((c1 - c0)) -v w="$idlew" 'BEGIN {printf "%.2f", c / w}')
        if [[ -z ${base_pss[$p]:-} ]]; then base_pss[$p]=$pss; base_n[$p]=$n; per=
        else per=$(awk -v a="$pss" -v b="${base_pss[$p]}" -v n="$n" -v m="${base_n[$p]}" \
            'BEGIN {printf "%.2f", (a - b) / (n - m)}'); fi
        echo "  idle N=$n $p: $ws wakeups/s, RSS $rss KiB, PSS $pss KiB," \
            "per service ${per:--} KiB," \
            "start $(((t1 - t0) / 1000000)) ms"
        record "idle N=$n" "wakeups/s" "$p" 1 "$ws"
        record "idle N=$n" "RSS KiB" "$p" 1 "$rss"
        record "idle N=$n" "PSS KiB" "$p" 1 "$pss"
        [[ -n $per ]] && record "idle N=$n" "PSS KiB/service" "$p" 1 "$per"
    done
done

# start-up at the largest N: exec until every port listens, interleaved, up to 3 rounds
# (Caddy takes minutes for 10,000 sites)
start_rounds=0; want start && start_rounds=$((rounds < 3 ? rounds : 3))
for ((r = 1; r <= start_rounds; r++)); do
    for p in $peers; do
        d=$work/start/$p
        t0=$(date +%s%N)
        start_peer "$p" "$d" "$maxn" $IDLE_BASE $O_SMALL $R_ADMIN
        if wait_ready "$p" "$maxn" $IDLE_BASE 120; then
            t1=$(date +%s%N)
            ms=$(( (t1 - t0) / 1000000 ))
            echo "  start-up N=$maxn round $r $p: $ms ms"
            record "start-up N=$maxn" "ms to all ports listening" "$p" "$r" "$ms"
        else
            [[ $r = 1 ]] && note "- $p did not start $maxn services within 120 s"
        fi
        stop_peer "$p"
    done
done
t_end=$(date +%s)

# ---- RESULTS.md ------------------------------------------------------------------------
vers() {
    echo "- refproxy: $("$bin" --version 2>&1 | head -1), $bdir (release)"
    for p in $peers; do case $p in
        nginx) echo "- nginx: $(nginx -v 2>&1 | sed 's/.*: //')" ;;
        haproxy) echo "- haproxy: $(haproxy -v | head -1 | awk '{print $3}')" ;;
        h2o) echo "- h2o: $(h2o --version | head -1 | awk '{print $3}')" ;;
        caddy) echo "- caddy: $(caddy version | awk '{print $1}')" ;;
        esac; done
    echo "- load: $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')," \
        "$(h2load --version | head -1)"
}
{
    echo "# refproxy and its peers (issue 9)"
    echo
    echo "Generated by \`bench/peers.sh\` — every figure below is what that run printed."
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took $(( (t_end - t_start) / 60 )) min"
    echo "- machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))," \
        "kernel $(uname -r)"
    echo "- load average at start: $load0; at end: $(cut -d' ' -f1-3 /proc/loadavg)" \
        "(shared machine)"
    echo "- command: \`$cmdline\` ($rounds rounds, ${dur} s per measurement," \
        "${idlew} s idle windows)"
    vers
    echo
    echo "## Method"
    echo
    echo "- Each proxy: N services, one port each on $ADDR (loopback), all proxying to one"
    echo "  origin; 1 worker"
    echo "  (nginx worker_processes 1, haproxy nbthread 1, h2o num-threads 1, Caddy GOMAXPROCS=1,"
    echo "  refproxy workers 1); access logs off; upstream keep-alive (nginx keepalive 32)."
    echo "  nginx, haproxy, caddy: N server/frontend/site blocks sharing one upstream;"
    echo "  h2o: N hosts. Every peer sends the origin X-Forwarded-For, X-Forwarded-Proto and"
    echo "  X-Forwarded-Host, as refproxy and Caddy do by default (nginx proxy_set_header,"
    echo "  HAProxy option forwardfor + http-request set-header); h2o its default"
    echo "  x-forwarded-for, x-forwarded-proto and via. The origin is one program every run"
    echo "  (--origin, default nginx), not the faster of two."
    echo "- Small body: 12 bytes. Load: wrk -t1 -c32 --latency and h2load --h1 -c32 (-m1, no"
    echo "  pipelining), ${dur} s each. Peers interleaved per round, each round starting one"
    echo "  peer later (A B C, B C A, …) so none always runs first; medians of $rounds rounds."
    echo "- CPU busy %: the proxy's own CPU time over the run's wall time (its core is CPU 0)."
    echo "  CPU 1 busy %: all of CPU 1 (origin and load generators) from /proc/stat. Where CPU 1"
    echo "  is near 100% and the proxy's core is not, the generators and the origin set req/s,"
    echo "  not the proxy, and CPU us/req is the figure that compares proxies. Such a run also"
    echo "  charges CPU 1 for the proxy's idle time: a proxy that sleeps in epoll_wait between"
    echo "  requests has to be woken by the origin's and generators' writes, on CPU 1; one"
    echo "  whose core is saturated never sleeps."
    echo "- At one offered load: h2load --h1 -c32 --rps R/32 (R = 24,000 req/s small, 800 req/s"
    echo "  1 MiB; about half of what the fastest proxies sustain here), the same for every peer."
    echo "  The closed-loop runs give each proxy the load its own speed allows, so their p99s"
    echo "  mix speed and tail; at one load, p99 and CPU us/req compare like with like. A peer"
    echo "  whose req/s stays under R did not keep up. h2load starts the 32 connections' requests"
    echo "  together, so the load arrives in bursts of 32."
    echo "- N=100: one generator per port on 4 of the 100 ports (8 connections each, 32 in all),"
    echo "  a different 4 each round ((7r + 25i) mod 100). req/s is the sum; h2load p50/p99"
    echo "  are exact over all requests (from --log-file); wrk p50 is the mean and p99 the max"
    echo "  of the 4."
    echo "  Neither wrk nor h2load can spread one run over several ports; 100 generators would"
    echo "  swamp a 2-core machine."
    echo "- refproxy+prof: refproxy with /debug/pprof/profile?seconds=$((dur + 3)) (100 Hz) open"
    echo "  during its wrk run, started after refproxy_cpu_profile_active reads 1."
    echo "- Idle: the peer alone, 1 s after every port listens; wakeups/s = voluntary + involuntary"
    echo "  context switches of all threads of all its processes over ${idlew} s"
    echo "  (/proc/PID/task/*/status). RSS and PSS summed over its processes (nginx: master +"
    echo "  worker; PSS counts pages the two share once). KiB/service = PSS slope from the"
    echo "  smallest N."
    echo "- Start-up: exec until \`ss\` shows all N ports listening (5 ms polling), median of"
    echo "  up to 3 interleaved starts; a peer that needs over 120 s is left out."
    echo "- Ratios: peer / refproxy. In the summary, refproxy / best peer: above 1 is better for"
    echo "  req/s, below 1 is better for everything else."
    echo
    if [[ -s $notes ]]; then echo "## Notes from the run"; echo; cat "$notes"; echo; fi
    awk -F'\t' -f "$here/peers/report.awk" "$raw"
    echo
    if [[ -s $work/refproxy-wrk.prof ]]; then
        echo "## Where refproxy's time goes under wrk (CPU profile, last profiled round)"
        echo
        echo '```'
        echo "\$ scaleprof top results/peers-refproxy-wrk.prof --binary $bin -n 25"
        "$bdir/harness/scaleprof" top "$work/refproxy-wrk.prof" --binary "$bin" -n 25 2>&1 || true
        echo '```'
    fi
} > "$work/RESULTS.md"
cp "$work/RESULTS.md" "$out"
# the profile stays for google-pprof / scaleprof (results/ is git-ignored run data)
if [[ -s $work/refproxy-wrk.prof ]]; then
    mkdir -p "$root/results"
    cp "$work/refproxy-wrk.prof" "$root/results/peers-refproxy-wrk.prof"
fi
echo
cat "$out"
