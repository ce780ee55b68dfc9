# configs.sh: config writers for bench/peers.sh (sourced, not run).
# refproxy, nginx, HAProxy and Caddy configs come from `scaleprof gen --target X`
# (harness/gen_<X>.c holds what each gets), h2o's from conf_h2o below (gen has no
# h2o target). conf_peer takes: PEER DIR N BASE_PORT ORIGIN_PORT ADMIN_PORT, writes
# the config for N services into DIR and prints its path: service i (0-based)
# listens on $ADDR:(BASE_PORT + i) and proxies every path to $ADDR:ORIGIN_PORT.
# Every peer gets 1 worker/thread, no access log, and keep-alive to the origin, so
# they do the same work. Every peer also tells the origin who asked, as refproxy and
# Caddy do by default: X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host (h2o
# 2.2 cannot set the last from the request; it sends its default x-forwarded-for,
# x-forwarded-proto and via). Checked by capturing one request through each.
# Without them HAProxy sent the origin 88 bytes and 3 fields less per request
# than refproxy (nginx likewise), and here the origin shares CPU 1 with the
# load generators, so the origin's parsing was part of what was compared.
# ADDR: a loopback address of the bench's own (other programs on this shared machine
# listen on 127.0.0.1; a separate address means no port collides with theirs).
# SCALEPROF: the scaleprof binary (peers.sh sets it after building).
ADDR=${ADDR:-127.9.0.1}

conf_peer() { # PEER DIR N BASE ORIGIN ADMIN -> the config's path on stdout
    local peer=$1 dir=$2 n=$3 base=$4 origin=$5 admin=$6
    if [[ $peer = h2o ]]; then
        conf_h2o "$dir" "$n" "$base" "$origin"
        echo "$dir/h2o.conf"
        return
    fi
    # gen's service i is 1-based and listens on BASE + i: one port lower gives ours
    local args=(gen --target "$peer" --counts "$n" --host "$ADDR" --base-port $((base - 1))
        --set "upstream=http://$ADDR:$origin" --out "$dir" --force)
    case $peer in
    refproxy) args+=(--admin "$ADDR:$admin" --set architecture=shared --set workers=1
        --set limits.maxProfileSeconds=600) ;;
    haproxy) args+=(--set masterWorker=false) ;; # the one process peers.sh has always run (-db)
    caddy) args+=(--admin none) ;;               # admin off, as before: one port less
    esac
    "$SCALEPROF" "${args[@]}"
}

conf_h2o() { # DIR N BASE ORIGIN
    local dir=$1 n=$2 base=$3 origin=$4 i
    {
        echo "num-threads: 1"
        echo "user: root"
        echo "pid-file: $dir/h2o.pid"
        echo "error-log: $dir/error.log"
        echo "proxy.timeout.keepalive: 60000"
        echo "hosts:"
        for ((i = 0; i < n; i++)); do
            echo "  \"$ADDR:$((base + i))\":"
            echo "    listen: {host: $ADDR, port: $((base + i))}"
            echo "    paths: {/: {proxy.reverse.url: \"http://$ADDR:$origin/\"}}"
        done
    } > "$dir/h2o.conf"
}

# the origin: a refproxy `respond` service or nginx `return`, small body on port
# SMALL and a 1 MiB body on port BIG; ORIGIN_KIND picks which
conf_origin_refproxy() { # DIR SMALL BIG ADMIN
    local dir=$1
    {
        echo "prometheusAddr: \"$ADDR:$4\""
        echo "workers: 1"
        echo "services:"
        echo "  - {name: small, listenAddr: \"$ADDR:$2\", respond: {body: \"hello world\\n\"}}"
        printf '  - {name: big, listenAddr: "%s:%s", respond: {body: "' "$ADDR" "$3"
        head -c 1048576 /dev/zero | tr '\0' x
        echo '"}}'
    } > "$dir/origin.yaml"
}

conf_origin_nginx() { # DIR SMALL BIG
    local dir=$1
    mkdir -p "$dir/tmp" "$dir/www"
    head -c 1048576 /dev/zero | tr '\0' x > "$dir/www/big"
    cat > "$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server { listen $ADDR:$2; location / { return 200 "hello world\n"; } }
    server { listen $ADDR:$3; location / { root $dir/www; try_files /big =404; } }
}
EOF
}
