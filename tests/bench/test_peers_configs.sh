#!/usr/bin/env bash
# test_peers_configs: bench/peers.sh's config step (bench/peers/configs.sh's
# conf_peer, which calls `scaleprof gen`) for every peer, N=3, checked by the
# peer's own program, with the ports, address and settings peers.sh relies on:
# service i (0-based) on $ADDR:BASE+i, the origin as upstream, HAProxy without
# master-worker and Caddy without its admin API (as peers.sh always ran them).
# A peer whose program is not installed is reported and left out; refproxy is
# always checked.
#   test_peers_configs.sh CONFIGS_SH SCALEPROF REFPROXY
set -uo pipefail
configs_sh=$1
SCALEPROF=$2
refproxy=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# shellcheck source=bench/peers/configs.sh
. "$configs_sh"
check() { # PEER CONFIG
    case $1 in
    refproxy) "$refproxy" --check-config "$2" ;;
    nginx) nginx -t -q -e stderr -c "$2" ;;
    haproxy) haproxy -c -q -f "$2" ;;
    caddy) caddy validate --adapter caddyfile --config "$2" > "$work/caddy.log" 2>&1 ||
        { cat "$work/caddy.log"; false; } ;;
    esac
}
for peer in refproxy nginx haproxy caddy; do
    if [[ $peer != refproxy ]] && ! command -v "$peer" > /dev/null; then
        echo "$peer is not installed: left out"
        continue
    fi
    dir=$work/$peer
    mkdir -p "$dir"
    cfg=$(conf_peer "$peer" "$dir" 3 21000 20990 20993) || { fail "$peer: gen failed"; continue; }
    [[ -f $cfg ]] || { fail "$peer: conf_peer printed '$cfg', not a file"; continue; }
    check "$peer" "$cfg" > "$work/check.log" 2>&1 ||
        { fail "$peer: its check refused $cfg"; cat "$work/check.log"; }
    for port in 21000 21001 21002; do
        grep -q "$ADDR:$port" "$cfg" || fail "$peer: $ADDR:$port is not in $cfg"
    done
    grep -q "21003" "$cfg" && fail "$peer: a fourth port in $cfg"
    grep -q "$ADDR:20990" "$cfg" || fail "$peer: the origin $ADDR:20990 is not in $cfg"
    case $peer in
    haproxy) grep -q master-worker "$cfg" && fail "haproxy: master-worker in $cfg" ;;
    caddy) grep -q "admin off" "$cfg" || fail "caddy: admin is not off in $cfg" ;;
    refproxy) grep -q "prometheusAddr: $ADDR:20993" "$cfg" || fail "refproxy: admin port" ;;
    esac
done
echo "$fails failed"
((fails == 0))
