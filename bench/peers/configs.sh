# configs.sh: config writers for bench/peers.sh, one per proxy (sourced, not run).
# Each writer takes: DIR N BASE_PORT ORIGIN_PORT [ADMIN_PORT] and writes the config
# for N services into DIR: service i listens on $ADDR:(BASE_PORT + i) and
# proxies every path to $ADDR:ORIGIN_PORT. Every peer gets 1 worker/thread,
# no access log, and keep-alive to the origin, so they do the same work. Every
# peer also tells the origin who asked, as refproxy and Caddy do by default:
# X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host (h2o 2.2 cannot set
# the last from the request; it sends its default x-forwarded-for,
# x-forwarded-proto and via). Checked by capturing one request through each.
# Without them HAProxy sent the origin 88 bytes and 3 fields less per request
# than refproxy (nginx likewise), and here the origin shares CPU 1 with the
# load generators, so the origin's parsing was part of what was compared.
# ADDR: a loopback address of the bench's own (other programs on this shared machine
# listen on 127.0.0.1; a separate address means no port collides with theirs).
ADDR=${ADDR:-127.9.0.1}

conf_refproxy() { # DIR N BASE ORIGIN ADMIN
    local dir=$1 n=$2 base=$3 origin=$4 admin=$5 i
    {
        echo "prometheusAddr: \"$ADDR:$admin\""
        echo "architecture: shared"
        echo "workers: 1"
        echo "limits: {maxProfileSeconds: 600}"
        echo "services:"
        for ((i = 0; i < n; i++)); do
            echo "  - {name: s$i, listenAddr: \"$ADDR:$((base + i))\"," \
                "upstream: \"http://$ADDR:$origin\"}"
        done
    } > "$dir/refproxy.yaml"
}

conf_nginx() { # DIR N BASE ORIGIN
    local dir=$1 n=$2 base=$3 origin=$4 i
    mkdir -p "$dir/tmp"
    {
        cat <<EOF
worker_processes 1;
worker_rlimit_nofile $((n + 4200));
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
# listening sockets take connection slots in nginx: N of them plus 4096 for clients
events { worker_connections $((n + 4096)); }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    # nginx closes keep-alive connections after 1000 requests by default; the others never
    keepalive_requests 1000000;
    upstream origin { server $ADDR:$origin; keepalive 32; keepalive_requests 1000000; }
EOF
        for ((i = 0; i < n; i++)); do
            echo "    server { listen $ADDR:$((base + i));" \
                "location / { proxy_pass http://origin; proxy_http_version 1.1;" \
                "proxy_set_header Connection \"\";" \
                "proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;" \
                "proxy_set_header X-Forwarded-Proto \$scheme;" \
                "proxy_set_header X-Forwarded-Host \$http_host; } }"
        done
        echo "}"
    } > "$dir/nginx.conf"
}

conf_haproxy() { # DIR N BASE ORIGIN
    local dir=$1 n=$2 base=$3 origin=$4 i
    {
        cat <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    http-reuse always
backend origin
    server o $ADDR:$origin
EOF
        for ((i = 0; i < n; i++)); do
            printf "frontend s%d\n    bind $ADDR:%d\n" "$i" "$((base + i))"
            printf "    http-request set-header X-Forwarded-Proto http\n"
            printf "    http-request set-header X-Forwarded-Host %%[req.hdr(host)]\n"
            printf "    default_backend origin\n"
        done
    } > "$dir/haproxy.cfg"
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

conf_caddy() { # DIR N BASE ORIGIN
    local dir=$1 n=$2 base=$3 origin=$4 i
    {
        printf '{\n    admin off\n    auto_https off\n}\n'
        for ((i = 0; i < n; i++)); do
            printf "http://$ADDR:%d {\n    bind $ADDR\n    reverse_proxy $ADDR:%d\n}\n" \
                "$((base + i))" "$origin"
        done
    } > "$dir/Caddyfile"
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
