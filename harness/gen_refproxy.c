/*
 * gen_refproxy: the refproxy target — its settable keys (proxy/CONFIG.md;
 * the tasks.* keys come from the task specs refproxy itself loads its
 * config with, proxy/tasks/task_specs.c, pure data with no refproxy runtime
 * behind it, so a new task's keys reach gen without an edit here), its
 * config (the per-service architecture with tsnsrv-like task defaults by
 * default, the shape of the seed investigation), and the sweep's --load
 * origin config (gen_render_respond). gen_yaml.c writes them all, so
 * refproxy's schema is spelled out in this file only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "gen_yaml.h"
#include "tasks/task_spec.h"

/* The keys before tasks.*, then the tasks' (refproxy_keys), then these. */
static const struct gen_key refproxy_head[] = {
    {"prometheusAddr", K_ADDR, NULL, 0, 0},
    {"adminAllowRemote", K_BOOL, NULL, 0, 0},
    {"adminTokenFile", K_STRING, NULL, 0, 0},
    {"architecture", K_ENUM, "shared|per-service", 0, 0},
    {"workers", K_UINT, NULL, 1, 1024},
    {"heapProfile", K_BOOL, NULL, 0, 0},
    {"profileHz", K_UINT, NULL, 1, 250},
    {"limits.maxHeaderBytes", K_UINT, NULL, 256, 1L << 30},
    {"limits.maxRequestLine", K_UINT, NULL, 64, 1L << 30},
    {"limits.maxHeaders", K_UINT, NULL, 1, 100000},
    {"limits.headerTimeout", K_DURATION, NULL, 0, 0},
    {"limits.idleTimeout", K_DURATION, NULL, 0, 0},
    {"limits.bodyTimeout", K_DURATION, NULL, 0, 0},
    {"limits.upstreamConnectTimeout", K_DURATION, NULL, 0, 0},
    {"limits.upstreamTimeout", K_DURATION, NULL, 0, 0},
    {"limits.upstreamIdlePerService", K_UINT, NULL, 0, 1000000},
    {"limits.maxConnections", K_UINT, NULL, 1, 10000000},
    {"limits.shutdownGrace", K_DURATION, NULL, 0, 0},
    {"limits.maxProfileSeconds", K_UINT, NULL, 1, 86400},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key refproxy_tail[] = {
    {"upstream", K_STRING, NULL, 0, 0}, /* every service proxies here instead of responding */
    {"service.timeout", K_DURATION, NULL, 0, 0},
    {"service.readHeaderTimeout", K_DURATION, NULL, 0, 0},
    {"service.stripPrefix", K_BOOL, NULL, 0, 0},
    {"service.respond.status", K_UINT, NULL, 100, 599},
    {"service.respond.body", K_STRING, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

/* One gen key per task key: tasks.<task>.mode (the advertised modes), then
 * the task's keys. Appends to keys at *n; names and choices are malloc'd.
 * -1 when out of memory. */
static int add_task_keys(struct gen_key *keys, size_t *n)
{
    for (size_t t = 0; t < TASK_COUNT; t++) {
        const struct task_spec *ts = task_specs[t];
        char words[128];
        char *name = NULL;
        task_spec_mode_words(ts, "|", words, sizeof words);
        struct gen_key *k = &keys[(*n)++];
        *k = (struct gen_key){NULL, K_ENUM, strdup(words), 0, 0};
        if (asprintf(&name, "tasks.%s.mode", ts->name) < 0 || !k->choices)
            return -1;
        k->key = name;
        for (size_t i = 0; i < ts->nkeys; i++) {
            const struct task_key *tk = &ts->keys[i];
            k = &keys[(*n)++];
            *k = (struct gen_key){NULL, K_DURATION, NULL, 0, 0};
            if (tk->kind == TASK_KEY_COUNT)
                *k = (struct gen_key){NULL, K_UINT, NULL, tk->min, tk->max};
            if (tk->kind == TASK_KEY_CHOICE) {
                task_key_choice_words(tk, "|", words, sizeof words);
                if (!(k->choices = strdup(words)))
                    return -1;
                k->kind = K_ENUM;
            }
            if (asprintf(&name, "tasks.%s.%s", ts->name, tk->name) < 0)
                return -1;
            k->key = name;
        }
    }
    return 0;
}

/* refproxy's whole table, built on first use and kept for the process's
 * life; NULL when out of memory. */
static const struct gen_key *refproxy_keys(void)
{
    static struct gen_key *keys;
    if (keys)
        return keys;
    size_t head = 0, tail = 0;
    while (refproxy_head[head].key)
        head++;
    while (refproxy_tail[tail].key)
        tail++;
    struct gen_key *k = calloc(head + task_spec_slots() + tail + 1, sizeof(*k));
    if (!k)
        return NULL;
    size_t n = head;
    memcpy(k, refproxy_head, head * sizeof(*k));
    if (add_task_keys(k, &n) < 0) {
        for (size_t i = head; i < n; i++) {
            free((char *)k[i].key);
            free((char *)k[i].choices);
        }
        free(k);
        return NULL;
    }
    memcpy(k + n, refproxy_tail, (tail + 1) * sizeof(*k)); /* with the terminator */
    return keys = k;
}

/* Short names the design uses ("portlist=off"): the task's mode. */
static const char *refproxy_alias(const char *key, char *buf, size_t size)
{
    if (!task_spec_find(key))
        return NULL;
    snprintf(buf, size, "tasks.%s.mode", key);
    return buf;
}

static void refproxy_list_extra(struct buf *out)
{
    buf_puts(out, " ");
    for (size_t i = 0; i < TASK_COUNT; i++)
        buf_printf(out, "%s%s", i ? "|" : " ", task_specs[i]->name);
    buf_puts(out, "   short for tasks.<name>.mode\n");
}

struct build_ctx {
    const struct gen_options *o;
    const struct gen_point *pt;
};

/* refproxy's own top-level settings: the architecture and its task defaults. */
static void build_top(const struct gen_options *o, const struct gen_point *pt, struct gnode *top)
{
    gen_yaml_set(top, "prometheusAddr", pt->admin);
    const char *arch = gen_setting(o, "architecture");
    if (!arch)
        arch = "per-service";
    gen_yaml_set(top, "architecture", arch);
    if (!strcmp(arch, "per-service")) {
        /* tsnsrv-like defaults (docs/DESIGN.md §1/§3), spelled out so the file documents itself */
        static const char *const defaults[][2] = {
            {"tasks.portlist.mode", "per-service"}, {"tasks.portlist.interval", "1s"},
            {"tasks.netmon.mode", "per-service"},   {"tasks.netmon.debounce", "250ms"},
            {"tasks.timers.mode", "per-service"},   {"tasks.footprint.mode", "per-service"},
        };
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            gen_yaml_set(top, defaults[i][0], defaults[i][1]);
    }
    for (size_t i = 0; i < o->num_sets; i++) {
        const char *k = o->sets[i].key;
        if (strncmp(k, "service.", 8) && strcmp(k, "upstream") && strcmp(k, "prometheusAddr"))
            gen_yaml_set(top, k, o->sets[i].value);
    }
}

static void build_service(const void *ctx, int i, struct gnode *svc)
{
    const struct build_ctx *c = ctx;
    const struct gen_options *o = c->o;
    char name[32], addr[96], text[128];
    snprintf(name, sizeof name, "svc%d", i);
    gen_yaml_set(svc, "name", name);
    snprintf(addr, sizeof addr, "%s:%d", c->pt->host, c->pt->base_port + i);
    gen_yaml_set(svc, "listenAddr", addr);
    if (c->pt->upstream) {
        gen_yaml_set(svc, "upstream", c->pt->upstream);
    } else {
        snprintf(text, sizeof text, "%s ok", name);
        gen_yaml_set(svc, "respond.status", "200");
        gen_yaml_set(svc, "respond.body", text);
    }
    for (size_t k = 0; k < o->num_sets; k++) {
        const char *key = o->sets[k].key;
        if (strncmp(key, "service.", 8))
            continue;
        if (!strncmp(key, "service.respond.", 16) && c->pt->upstream)
            continue; /* a proxying service has no respond block */
        gen_yaml_set(svc, key + 8, o->sets[k].value);
    }
}

static char *refproxy_write(const struct gen_options *o, const struct gen_point *pt,
                            struct buf *out)
{
    struct gnode top = {0};
    build_top(o, pt, &top);
    char comment[64];
    snprintf(comment, sizeof comment, "scaleprof gen: %d services for refproxy", pt->n);
    const struct build_ctx c = {o, pt};
    char *err = gen_yaml_render(comment, &top, pt->n, build_service, &c, out);
    gen_yaml_free(&top);
    return err;
}

static void build_respond_service(const void *ctx, int i, struct gnode *svc)
{
    const struct gen_respond_config *c = ctx;
    char text[96];
    if (c->count == 1)
        snprintf(text, sizeof text, "%s", c->name);
    else
        snprintf(text, sizeof text, "%s%d", c->name, i);
    gen_yaml_set(svc, "name", text);
    snprintf(text, sizeof text, "%s:%d", c->host ? c->host : "127.0.0.1", c->ports[i - 1]);
    gen_yaml_set(svc, "listenAddr", text);
    snprintf(text, sizeof text, "%d", c->status);
    gen_yaml_set(svc, "respond.status", text);
    gen_yaml_set(svc, "respond.body", c->body);
}

char *gen_render_respond(const struct gen_respond_config *c, struct buf *out)
{
    if (c->count < 1 || c->count > 65535)
        return strdup("respond config: service count out of range");
    for (size_t i = 0; i < c->count; i++)
        if (c->ports[i] < 1 || c->ports[i] > 65535)
            return strdup("respond config: port out of range");
    struct gnode top = {0};
    gen_yaml_set(&top, "prometheusAddr", c->admin_addr);
    gen_yaml_set(&top, "architecture", "shared");
    char *err = gen_yaml_render(c->comment, &top, (int)c->count, build_respond_service, c, out);
    gen_yaml_free(&top);
    return err;
}

const struct gen_target gen_target_refproxy = {
    .name = "refproxy",
    .ext = "yaml",
    .format = "refproxy-yaml",
    .command = NULL, /* the sweep's own: refproxy next to scaleprof */
    .admin = "127.0.0.1:9099",
    .admin_key = "prometheusAddr",
    .heap_key = "heapProfile",
    .flags = GEN_T_ADMIN_ALWAYS | GEN_T_PPROF,
    .keys = refproxy_keys,
    .alias = refproxy_alias,
    .list_extra = refproxy_list_extra,
    .write = refproxy_write,
};
