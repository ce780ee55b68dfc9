/*
 * gen_caddy: the Caddy target — a Caddyfile with N sites, one port each, all
 * reverse-proxying to one upstream (bench/peers.sh's settings: automatic
 * HTTPS off; Caddy sends X-Forwarded-* by default). Caddy's admin API
 * listens on the admin address (`admin` in the global options; `--admin
 * none` writes `admin off`); it serves Go's /debug/pprof/ and /metrics
 * there, which the point file records. Indented with tabs, as `caddy fmt`
 * wants (Caddy warns otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static const struct gen_key caddy_key_table[] = {
    {"upstream", K_URL, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key *caddy_keys(void)
{
    return caddy_key_table;
}

static char *caddy_write(const struct gen_options *o, const struct gen_point *pt, struct buf *out)
{
    (void)o;
    int rc = buf_printf(out,
                        "# scaleprof gen: %d services for caddy, each proxying to %s\n"
                        "{\n"
                        "\tadmin %s\n"
                        "\tauto_https off\n"
                        "}\n",
                        pt->n, pt->upstream, pt->admin ? pt->admin : "off");
    for (int i = 1; i <= pt->n && rc == 0; i++)
        rc |= buf_printf(out,
                         "# svc%d\n"
                         "http://%s:%d {\n"
                         "\tbind %s\n"
                         "\treverse_proxy %s:%d\n"
                         "}\n",
                         i, pt->host, pt->base_port + i, pt->host, pt->upstream_host,
                         pt->upstream_port);
    return rc == 0 ? NULL : strdup("caddy config: larger than the output cap");
}

const struct gen_target gen_target_caddy = {
    .name = "caddy",
    .ext = "caddyfile",
    .format = "caddyfile",
    .command = "caddy run --config {config} --adapter caddyfile",
    .admin = "127.0.0.1:9099",
    .flags = GEN_T_PPROF | GEN_T_PROXY,
    .keys = caddy_keys,
    .write = caddy_write,
};
