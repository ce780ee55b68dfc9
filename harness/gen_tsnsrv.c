/*
 * gen_tsnsrv: the tsnsrv target — tsnsrv's own multi-service YAML (one
 * tailnet node per service), the shape of the seed investigation's server.
 * Its services listen on the tailnet, not on loopback ports, so the point
 * file records no listen address for them. refproxy reads these configs too
 * (warning about the Tailscale-only fields), and the sweep runs refproxy on
 * them unless told otherwise (tests/gosrv stands in for tsnsrv).
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"
#include "gen_yaml.h"

static const struct gen_key tsnsrv_key_table[] = {
    {"prometheusAddr", K_ADDR, NULL, 0, 0},
    {"upstream", K_STRING, NULL, 0, 0},
    {"service.ephemeral", K_BOOL, NULL, 0, 0},
    {"service.funnel", K_BOOL, NULL, 0, 0},
    {"service.listenAddr", K_ADDR, NULL, 0, 0},
    {"service.stateDir", K_STRING, NULL, 0, 0}, /* a base: each service gets <base>/<name> */
    {"service.suppressWhois", K_BOOL, NULL, 0, 0},
    {"service.timeout", K_DURATION, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key *tsnsrv_keys(void)
{
    return tsnsrv_key_table;
}

struct build_ctx {
    const struct gen_options *o;
    const struct gen_point *pt;
};

static void build_service(const void *ctx, int i, struct gnode *svc)
{
    const struct build_ctx *c = ctx;
    const struct gen_options *o = c->o;
    char name[32], text[1200];
    snprintf(name, sizeof name, "svc%d", i);
    const char *state_base = gen_setting(o, "service.stateDir");
    gen_yaml_set(svc, "name", name);
    gen_yaml_set(svc, "upstream", c->pt->upstream);
    gen_yaml_set(svc, "ephemeral", "true");
    gen_yaml_set(svc, "funnel", "false");
    gen_yaml_set(svc, "listenAddr", ":443");
    snprintf(text, sizeof text, "%s/%s", state_base ? state_base : "/var/lib/tsnsrv", name);
    gen_yaml_set(svc, "stateDir", text);
    gen_yaml_set(svc, "suppressWhois", "false");
    gen_yaml_set(svc, "timeout", "60s");
    for (size_t k = 0; k < o->num_sets; k++) {
        const char *key = o->sets[k].key;
        if (!strncmp(key, "service.", 8) && strcmp(key, "service.stateDir"))
            gen_yaml_set(svc, key + 8, o->sets[k].value);
    }
}

static char *tsnsrv_write(const struct gen_options *o, const struct gen_point *pt, struct buf *out)
{
    struct gnode top = {0};
    /* its one top-level key, prometheusAddr, is the admin address */
    gen_yaml_set(&top, "prometheusAddr", pt->admin);
    char comment[64];
    snprintf(comment, sizeof comment, "scaleprof gen: %d services for tsnsrv", pt->n);
    const struct build_ctx c = {o, pt};
    char *err = gen_yaml_render(comment, &top, pt->n, build_service, &c, out);
    gen_yaml_free(&top);
    return err;
}

const struct gen_target gen_target_tsnsrv = {
    .name = "tsnsrv",
    .ext = "yaml",
    .format = "refproxy-yaml", /* refproxy reads it; pointcfg.c reads and rewrites it */
    .command = NULL,
    .admin = "127.0.0.1:9099",
    .admin_key = "prometheusAddr",
    .upstream = "http://127.0.0.1:8080",
    .flags = GEN_T_ADMIN_ALWAYS | GEN_T_PPROF | GEN_T_LISTEN_ELSEWHERE,
    .keys = tsnsrv_keys,
    .write = tsnsrv_write,
};
