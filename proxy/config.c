/*
 * config: loads refproxy's YAML configuration (config.h is the contract,
 * proxy/CONFIG.md the user's reference). This file reads the file, runs
 * libyaml, hands the tree to config_yaml.c, then does what needs every
 * service at once: task defaults that depend on the architecture (which may
 * come after `tasks:` in the file), loopback addresses for tsnsrv's host-less
 * ":port" listeners, and duplicate names and addresses, checked by sorting so
 * 10,000 services stay cheap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config_internal.h"
#include "tasks/task_spec.h"

/* config_defaults points admin_text here so that a config that was only
 * defaulted needs no config_free. */
char config_default_admin_text[] = "127.0.0.1:9099";

const char *task_mode_name(enum task_mode m)
{
    switch (m) {
    case TASK_OFF:
        return "off";
    case TASK_PER_SERVICE:
        return "per-service";
    case TASK_SHARED:
        return "shared";
    }
    return "?";
}

const char *architecture_name(enum architecture a)
{
    return a == ARCH_PER_SERVICE ? "per-service" : "shared";
}

void config_tasks_defaults(struct tasks_config *t, enum architecture arch)
{
    /* Per-service defaults are tsnsrv's node figures (docs/DESIGN.md §1), in each
     * task's spec (tasks/task_specs.c); a shared refproxy runs no background
     * work unless asked to. */
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct task_spec *s = task_specs[i];
        char *c = (char *)t + s->config_off;
        enum task_mode m = arch == ARCH_PER_SERVICE && s->default_on ? TASK_PER_SERVICE : TASK_OFF;
        memcpy(c, &m, sizeof m);
        for (size_t k = 0; k < s->nkeys; k++)
            task_key_put(&s->keys[k], c, s->keys[k].dflt);
    }
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->admin_text = config_default_admin_text;
    cv_resolve("127.0.0.1", 9099, &cfg->admin, &cfg->admin_len);
    cfg->architecture = ARCH_SHARED;
    cfg->workers = 1;
    cfg->profile_hz = 100;
    cfg->limits = (struct limits_config){
        .max_header_bytes = 65536,
        .max_request_line = 8192,
        .max_headers = 100,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 60000,
        .upstream_connect_timeout_ms = 5000,
        .upstream_timeout_ms = 60000,
        .upstream_idle_per_service = 32,
        .max_connections = 16384,
        .shutdown_grace_ms = 10000,
        .max_profile_seconds = 300,
    };
    config_tasks_defaults(&cfg->tasks, ARCH_SHARED);
}

static void free_kv(struct kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->num_services && cfg->services; i++) {
        struct service_config *s = &cfg->services[i];
        free(s->name);
        free(s->listen_text);
        free(s->upstream_text);
        free(s->upstream_host);
        free(s->upstream_base_path);
        free(s->respond_body);
        free_kv(s->respond_headers, s->num_respond_headers);
        for (size_t j = 0; j < s->num_prefixes; j++)
            free(s->prefixes[j]);
        free(s->prefixes);
        free_kv(s->upstream_headers, s->num_upstream_headers);
    }
    free(cfg->services);
    free(cfg->path);
    if (cfg->admin_text != config_default_admin_text)
        free(cfg->admin_text);
    free(cfg->admin_token_file);
    memset(cfg, 0, sizeof *cfg);
}

/* --- reading and parsing ----------------------------------------------------- */

static int read_file(struct cfg_ctx *c, struct buf *out)
{
    FILE *f = fopen(c->path, "rb");
    if (!f)
        return cv_fail_at(c, 1, 1, "cannot open config: %s", strerror(errno));
    char chunk[65536];
    size_t n;
    int r = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(out, chunk, n) < 0) {
            r = cv_fail_at(c, 1, 1, "config file is larger than %u bytes", CONFIG_MAX_FILE_BYTES);
            break;
        }
    }
    if (!r && ferror(f))
        r = cv_fail_at(c, 1, 1, "cannot read config: %s", strerror(errno));
    fclose(f);
    return r;
}

static int yaml_error(struct cfg_ctx *c, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return cv_fail_at(c, 1, 1, "out of memory while parsing YAML");
    const yaml_mark_t *m = &p->problem_mark;
    if (p->context)
        return cv_fail_at(
            c, (int)m->line + 1, (int)m->column + 1, "YAML syntax error: %s %s (line %zu)",
            p->problem ? p->problem : "invalid YAML", p->context, p->context_mark.line + 1);
    return cv_fail_at(c, (int)m->line + 1, (int)m->column + 1, "YAML syntax error: %s",
                      p->problem ? p->problem : "invalid YAML");
}

/* --- cross-service checks ---------------------------------------------------- */

static const struct config *sort_cfg; /* qsort has no context argument in C11 */

static int by_name(const void *a, const void *b)
{
    const size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int r = strcmp(sort_cfg->services[ia].name, sort_cfg->services[ib].name);
    return r ? r : (ia > ib) - (ia < ib);
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
    return ntohs(((const struct sockaddr_in *)ss)->sin_port); /* same offset in sin6 */
}

static int addr_cmp_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return a->ss_family < b->ss_family ? -1 : 1;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, 4);
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static int by_listen(const void *a, const void *b)
{
    const size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const struct sockaddr_storage *sa = &sort_cfg->services[ia].listen;
    const struct sockaddr_storage *sb = &sort_cfg->services[ib].listen;
    uint16_t pa = addr_port(sa), pb = addr_port(sb);
    if (pa != pb)
        return pa < pb ? -1 : 1;
    int r = addr_cmp_host(sa, sb);
    return r ? r : (ia > ib) - (ia < ib);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int check_names(struct cfg_ctx *c, size_t *order)
{
    struct config *cfg = c->cfg;
    size_t n = cfg->num_services;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_cfg = cfg;
    qsort(order, n, sizeof *order, by_name);
    /* Report the duplicate that comes first in the file. */
    size_t bad = SIZE_MAX, first = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(cfg->services[order[i]].name, cfg->services[order[i - 1]].name))
            continue;
        size_t grp = i - 1;
        while (grp > 0 && !strcmp(cfg->services[order[grp - 1]].name, cfg->services[order[i]].name))
            grp--;
        if (order[i] < bad) {
            bad = order[i];
            first = order[grp];
        }
    }
    if (bad == SIZE_MAX)
        return 0;
    const struct service_config *s = &cfg->services[bad];
    return cv_fail_at(c, s->line, s->column, "duplicate service name '%s' (first at line %d)",
                      s->name, cfg->services[first].line);
}

/* Host-less ":port" (tsnsrv: the node's own tailnet IP) becomes the
 * service's own loopback address, so N tsnsrv services on ":443" can all
 * listen; never the wildcard, which would expose every service. */
static int assign_loopback(struct cfg_ctx *c)
{
    struct config *cfg = c->cfg;
    for (size_t i = 0; i < cfg->num_services; i++) {
        struct service_config *s = &cfg->services[i];
        struct svc_extra *x = &c->extra[i];
        if (!x->listen_given) {
            x->listen_hostless = true;
            x->listen_port = 443;
        }
        if (!x->listen_hostless)
            continue;
        struct sockaddr_in *in4 = (struct sockaddr_in *)&s->listen;
        memset(&s->listen, 0, sizeof s->listen);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(x->listen_port);
        in4->sin_addr.s_addr = htonl(cv_loopback_for_index(i));
        s->listen_len = sizeof *in4;
        s->listen_auto_assigned = true;
        char text[64];
        cv_format_addr(&s->listen, text, sizeof text);
        if (x->listen_given)
            cv_warn_at(c, x->listen_line, x->listen_column,
                       "service '%s' listens on %s (listenAddr '%s' has no host)", s->name, text,
                       s->listen_text);
        else
            cv_warn_at(c, x->listen_line, x->listen_column,
                       "service '%s' listens on %s (no listenAddr: tsnsrv's default ':443' "
                       "has no host)",
                       s->name, text);
        free(s->listen_text);
        s->listen_text = strdup(text);
        if (!s->listen_text)
            return cv_fail_at(c, s->line, s->column, "out of memory");
    }
    return 0;
}

static int listen_conflict(struct cfg_ctx *c, size_t a, size_t b, const char *how)
{
    const struct config *cfg = c->cfg;
    size_t later = a > b ? a : b, earlier = a > b ? b : a;
    const struct service_config *s = &cfg->services[later], *e = &cfg->services[earlier];
    const struct svc_extra *x = &c->extra[later];
    return cv_fail_at(c, x->listen_line, x->listen_column,
                      "listenAddr: %s address %s (service '%s' at line %d)", how, s->listen_text,
                      e->name, e->line);
}

static int check_listen(struct cfg_ctx *c, size_t *order)
{
    struct config *cfg = c->cfg;
    size_t n = cfg->num_services;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_cfg = cfg;
    qsort(order, n, sizeof *order, by_listen);
    /* Within one port: equal addresses clash, and with SO_REUSEPORT a
     * wildcard next to a specific address would silently share traffic. */
    size_t bad_a = SIZE_MAX, bad_b = SIZE_MAX;
    const char *how = NULL;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint16_t port = addr_port(&cfg->services[order[i]].listen);
        while (j < n && addr_port(&cfg->services[order[j]].listen) == port)
            j++;
        for (size_t k = i + 1; k < j; k++) {
            size_t a = order[k - 1], b = order[k];
            if (!addr_cmp_host(&cfg->services[a].listen, &cfg->services[b].listen)) {
                if (bad_b == SIZE_MAX || (a > b ? a : b) < (bad_a > bad_b ? bad_a : bad_b)) {
                    bad_a = a;
                    bad_b = b;
                    how = "duplicate listen";
                }
            }
        }
        for (size_t k = i; k < j && j - i > 1; k++) {
            const struct sockaddr_storage *w = &cfg->services[order[k]].listen;
            if (!is_wildcard(w))
                continue;
            for (size_t m = i; m < j; m++) {
                const struct sockaddr_storage *o = &cfg->services[order[m]].listen;
                if (m == k || (w->ss_family == AF_INET && o->ss_family != AF_INET))
                    continue;
                size_t a = order[k], b = order[m];
                if (bad_b == SIZE_MAX || (a > b ? a : b) < (bad_a > bad_b ? bad_a : bad_b)) {
                    bad_a = a;
                    bad_b = b;
                    how = "wildcard overlaps listen";
                }
                break; /* one partner per wildcard is enough to report */
            }
        }
        i = j;
    }
    if (bad_b != SIZE_MAX)
        return listen_conflict(c, bad_a, bad_b, how);
    return 0;
}

static int check_admin(struct cfg_ctx *c)
{
    struct config *cfg = c->cfg;
    int line = c->admin_line ? c->admin_line : 1, col = c->admin_column ? c->admin_column : 1;
    if (!cv_is_loopback(&cfg->admin) && !cfg->admin_allow_remote)
        return cv_fail_at(c, line, col,
                          "prometheusAddr: %s is not a loopback address; the admin listener "
                          "serves profiles and the command line, so set adminAllowRemote: true "
                          "and adminTokenFile to expose it",
                          cfg->admin_text);
    if (cfg->admin_allow_remote && !cfg->admin_token_file)
        return cv_fail_at(c, line, col,
                          "adminAllowRemote: true needs adminTokenFile (a bearer token file)");
    if (cfg->admin_token_file && access(cfg->admin_token_file, R_OK) < 0)
        return cv_fail_at(c, line, col, "adminTokenFile: cannot read '%s': %s",
                          cfg->admin_token_file, strerror(errno));
    for (size_t i = 0; i < cfg->num_services; i++) {
        const struct service_config *s = &cfg->services[i];
        if (s->listen_len == cfg->admin_len && addr_port(&s->listen) == addr_port(&cfg->admin) &&
            !addr_cmp_host(&s->listen, &cfg->admin))
            return cv_fail_at(c, c->extra[i].listen_line, c->extra[i].listen_column,
                              "listenAddr: %s is also the admin listener (prometheusAddr)",
                              s->listen_text);
    }
    return 0;
}

/* Each task's check of its keys against each other (restunMin <= restunMax),
 * on the final values, reported at the tasks: mapping that set them. */
static int check_tasks(struct cfg_ctx *c, const struct tasks_config *t, int line, int col)
{
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct task_spec *s = task_specs[i];
        char msg[256];
        if (s->check && s->check(task_spec_config(s, t), msg, sizeof msg) < 0)
            return cv_fail_at(c, line, col, "tasks.%s: %s", s->name, msg);
    }
    return 0;
}

static int finish(struct cfg_ctx *c)
{
    struct config *cfg = c->cfg;
    /* Architecture-dependent defaults under what the file set explicitly. */
    config_tasks_defaults(&cfg->tasks, cfg->architecture);
    config_tasks_overlay(&cfg->tasks, &c->task_values, c->task_mask);
    if (check_tasks(c, &cfg->tasks, c->tasks_line ? c->tasks_line : 1,
                    c->tasks_column ? c->tasks_column : 1) < 0)
        return -1;
    if (!c->services_given || !cfg->num_services)
        return cv_fail_at(c, c->services_given ? c->services_line : 1,
                          c->services_given ? c->services_column : 1,
                          "no services: the config needs a services: list with at least one "
                          "service");
    for (size_t i = 0; i < cfg->num_services; i++) {
        struct service_config *s = &cfg->services[i];
        struct svc_extra *x = &c->extra[i];
        s->tasks = cfg->tasks;
        config_tasks_overlay(&s->tasks, &x->task_values, x->task_mask);
        if (x->task_mask && check_tasks(c, &s->tasks, x->tasks_line, x->tasks_column) < 0)
            return -1;
    }
    size_t *order = malloc(cfg->num_services * sizeof *order);
    if (!order)
        return cv_fail_at(c, 1, 1, "out of memory");
    int r = check_names(c, order);
    if (!r)
        r = assign_loopback(c);
    if (!r)
        r = check_listen(c, order);
    free(order);
    if (!r)
        r = check_admin(c);
    return r;
}

/* --- entry point --------------------------------------------------------------- */

char *config_load(const char *path, struct config *cfg, FILE *warn)
{
    struct cfg_ctx c = {.path = path, .warn = warn, .cfg = cfg};
    config_defaults(cfg);
    struct buf text;
    buf_init(&text, CONFIG_MAX_FILE_BYTES);
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false;

    cfg->path = strdup(path);
    if (!cfg->path) {
        cv_fail_at(&c, 1, 1, "out of memory");
        goto out;
    }
    if (read_file(&c, &text) < 0)
        goto out;
    if (!yaml_parser_initialize(&parser)) {
        cv_fail_at(&c, 1, 1, "out of memory");
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text.data ? text.data : ""),
                                 text.len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_error(&c, &parser);
        goto out;
    }
    have_doc = true;
    c.doc = &doc;
    if (!yaml_document_get_root_node(&doc)) {
        cv_fail_at(&c, 1, 1, "empty config: no services defined");
        goto out;
    }
    if (config_yaml_walk(&c) < 0)
        goto out;
    /* A second document would be silently ignored: refuse it. */
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        yaml_error(&c, &parser);
        goto out;
    }
    yaml_node_t *next_root = yaml_document_get_root_node(&next);
    if (next_root)
        cv_fail(&c, next_root, "a config file holds one YAML document; found a second one");
    yaml_document_delete(&next);
    if (c.err)
        goto out;
    finish(&c);
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    buf_free(&text);
    free(c.extra);
    if (c.err) {
        config_free(cfg);
        return c.err;
    }
    return NULL;
}
