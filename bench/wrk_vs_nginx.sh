#!/bin/sh
# wrk_vs_nginx.sh: first throughput figure. refproxy (1 worker) and nginx
# (1 worker, upstream keepalive) both proxy to the same origin — a refproxy
# `respond` service — and wrk -t1 -c32 -d10s runs against each, interleaved,
# ROUNDS times (default 3). Prints each run and the medians.
#   bench/wrk_vs_nginx.sh [REFPROXY]     default build/proxy/refproxy
set -eu
BIN=${1:-build/proxy/refproxy}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10s}
TMP=$(mktemp -d)
PIDS=
cleanup() {
    # TERM, not KILL: a SIGKILLed nginx master leaves its worker behind
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { i=0; until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && { echo "port $1 not ready" >&2; exit 1; }; sleep 0.01; done; }

O=$(free_port); OA=$(free_port); R=$(free_port); RA=$(free_port); N=$(free_port)
cat > "$TMP/origin.yaml" <<EOC
prometheusAddr: "127.0.0.1:$OA"
workers: 1
services:
  - {name: origin, listenAddr: "127.0.0.1:$O", respond: {status: 200, body: "hello world\n"}}
EOC
cat > "$TMP/proxy.yaml" <<EOC
prometheusAddr: "127.0.0.1:$RA"
workers: 1
services:
  - {name: front, listenAddr: "127.0.0.1:$R", upstream: "http://127.0.0.1:$O"}
EOC
mkdir -p "$TMP/nginx"
cat > "$TMP/nginx.conf" <<EOC
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    upstream origin { server 127.0.0.1:$O; keepalive 32; }
    server {
        listen 127.0.0.1:$N;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOC
"$BIN" --config "$TMP/origin.yaml" 2> "$TMP/origin.log" & PIDS="$PIDS $!"
"$BIN" --config "$TMP/proxy.yaml" 2> "$TMP/proxy.log" & PIDS="$PIDS $!"
nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" 2> "$TMP/nginx.stderr" & PIDS="$PIDS $!"
wait_port "$O"; wait_port "$R"; wait_port "$N"

run() { wrk -t1 -c32 -d"$DUR" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
wrk -t1 -c32 -d2s "http://127.0.0.1:$R/" > /dev/null # warm-up
wrk -t1 -c32 -d2s "http://127.0.0.1:$N/" > /dev/null
rp=; ng=
k=1
while [ $k -le "$ROUNDS" ]; do
    a=$(run "$R"); b=$(run "$N")
    echo "round $k: refproxy $a req/s, nginx $b req/s"
    rp="$rp $a"; ng="$ng $b"
    k=$((k + 1))
done
med() { echo $* | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mr=$(med $rp); mn=$(med $ng)
echo "median: refproxy $mr req/s, nginx $mn req/s, ratio refproxy/nginx $(awk -v a="$mr" -v b="$mn" 'BEGIN {printf "%.2f", a / b}')"
