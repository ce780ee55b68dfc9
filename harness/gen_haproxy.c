/*
 * gen_haproxy: the HAProxy target — N `frontend`s, one bind port each, all
 * using one `backend` with connection reuse; bench/peers.sh's settings (1
 * thread, no log, X-Forwarded-For/-Proto/-Host to the origin), in the
 * master-worker shape HAProxy normally runs in (`--set masterWorker=false`
 * gives the single process bench/peers.sh measures). HAProxy has no HTTP
 * admin endpoint here: the sweep knows it is up when every service port
 * accepts connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static const struct gen_key haproxy_key_table[] = {
    {"upstream", K_URL, NULL, 0, 0},
    {"threads", K_UINT, NULL, 1, 64}, /* nbthread */
    {"masterWorker", K_BOOL, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key *haproxy_keys(void)
{
    return haproxy_key_table;
}

static char *haproxy_write(const struct gen_options *o, const struct gen_point *pt, struct buf *out)
{
    const char *threads = gen_setting(o, "threads"), *mw = gen_setting(o, "masterWorker");
    int rc = buf_printf(out, "# scaleprof gen: %d services for haproxy, each proxying to %s\n",
                        pt->n, pt->upstream);
    rc |= buf_printf(out,
                     "global\n"
                     "%s"
                     "    nbthread %s\n"
                     /* one keep-alive connection per service from the load generator,
                      * as nginx's worker_connections is sized: past a fixed 4096 the
                      * points of a large sweep would be underloaded by the config */
                     "    maxconn %d\n"
                     "defaults\n"
                     "    mode http\n"
                     "    option forwardfor\n"
                     "    timeout connect 5s\n"
                     "    timeout client 60s\n"
                     "    timeout server 60s\n"
                     "    timeout http-keep-alive 60s\n"
                     "    http-reuse always\n"
                     "backend origin\n"
                     "    server o %s:%d\n",
                     mw && !strcmp(mw, "false") ? "" : "    master-worker\n",
                     threads ? threads : "1", pt->n + 4096, pt->upstream_host, pt->upstream_port);
    for (int i = 1; i <= pt->n && rc == 0; i++)
        rc |= buf_printf(out,
                         "frontend svc%d\n"
                         "    bind %s:%d\n"
                         "    http-request set-header X-Forwarded-Proto http\n"
                         "    http-request set-header X-Forwarded-Host %%[req.hdr(host)]\n"
                         "    default_backend origin\n",
                         i, pt->host, pt->base_port + i);
    return rc == 0 ? NULL : strdup("haproxy config: larger than the output cap");
}

const struct gen_target gen_target_haproxy = {
    .name = "haproxy",
    .ext = "cfg",
    .format = "haproxy",
    .command = "haproxy -f {config}", /* in the foreground: the config has no `daemon` */
    .flags = GEN_T_ADMIN_NEVER | GEN_T_PROXY,
    .keys = haproxy_keys,
    .write = haproxy_write,
};
