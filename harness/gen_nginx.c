/*
 * gen_nginx: the nginx target — N `server` blocks, one listen port each, all
 * proxying to one `upstream` with keep-alive; the settings bench/peers.sh
 * compares peers with (1 worker, no access log, keep-alive to the origin,
 * X-Forwarded-For/-Proto/-Host to it), in the master-worker shape nginx
 * normally runs in (the harness measures the whole process tree). nginx has
 * no HTTP admin endpoint: the sweep knows it is up when every service port
 * accepts connections. Its pid and temp files go to the scratch folder;
 * errors go to stderr (the sweep's target.log).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static const struct gen_key nginx_key_table[] = {
    {"upstream", K_URL, NULL, 0, 0},
    {"workers", K_UINT, NULL, 1, 64}, /* worker_processes */
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key *nginx_keys(void)
{
    return nginx_key_table;
}

static char *nginx_write(const struct gen_options *o, const struct gen_point *pt, struct buf *out)
{
    const char *workers = gen_setting(o, "workers");
    const char *d = pt->dir;
    int rc = buf_printf(out, "# scaleprof gen: %d services for nginx, each proxying to %s\n", pt->n,
                        pt->upstream);
    rc |= buf_printf(
        out,
        "worker_processes %s;\n"
        "worker_rlimit_nofile %d;\n"
        "daemon off;\n"
        "pid \"%s/nginx.pid\";\n"
        "error_log stderr warn;\n"
        "# listening sockets take connection slots in nginx: N of them plus 4096 for "
        "clients\n"
        "events { worker_connections %d; }\n"
        "http {\n"
        "    access_log off;\n"
        "    client_body_temp_path \"%s/client_body\";\n"
        "    proxy_temp_path \"%s/proxy\";\n"
        "    fastcgi_temp_path \"%s/fastcgi\";\n"
        "    uwsgi_temp_path \"%s/uwsgi\";\n"
        "    scgi_temp_path \"%s/scgi\";\n"
        "    # nginx closes keep-alive connections after 1000 requests by default; the "
        "others never\n"
        "    keepalive_requests 1000000;\n"
        "    upstream origin { server %s:%d; keepalive 32; keepalive_requests 1000000; }\n",
        workers ? workers : "1", pt->n + 4200, d, pt->n + 4096, d, d, d, d, d, pt->upstream_host,
        pt->upstream_port);
    /* one line a server: a config of 10,000 services parses as fast as peers.sh's did */
    for (int i = 1; i <= pt->n && rc == 0; i++)
        rc |= buf_printf(out,
                         "    server { listen %s:%d; location / { proxy_pass http://origin; "
                         "proxy_http_version 1.1; proxy_set_header Connection \"\"; "
                         "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
                         "proxy_set_header X-Forwarded-Proto $scheme; "
                         "proxy_set_header X-Forwarded-Host $http_host; } } # svc%d\n",
                         pt->host, pt->base_port + i, i);
    rc |= buf_puts(out, "}\n");
    return rc == 0 ? NULL : strdup("nginx config: larger than the output cap");
}

const struct gen_target gen_target_nginx = {
    .name = "nginx",
    .ext = "conf",
    .format = "nginx",
    /* -e stderr: errors before the config is read go to target.log too, not to the
     * compiled-in log file; the config itself says daemon off (so no -g) */
    .command = "nginx -e stderr -c {config}",
    .flags = GEN_T_ADMIN_NEVER | GEN_T_PROXY | GEN_T_SCRATCH,
    .keys = nginx_keys,
    .write = nginx_write,
};
