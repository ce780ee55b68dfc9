/*
 * gen: `scaleprof gen` writes one config per service count, <N>_services.yaml,
 * for refproxy (default: per-service architecture with tsnsrv-like task
 * defaults, the shape of the seed investigation) or for tsnsrv itself.
 * Settings form a small tree of dotted keys emitted with libyaml, so --set
 * can reach any nested key and quoting is libyaml's job.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gen.h"
#include "opts.h"
#include "outfile.h"

struct gnode {
    char *name;
    char *value; /* scalar, or NULL for a mapping */
    struct gnode *kids;
    size_t nkids;
};

static void node_free(struct gnode *n);

static struct gnode *node_child(struct gnode *n, const char *name, size_t len)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i].name) == len && !strncmp(n->kids[i].name, name, len))
            return &n->kids[i];
    struct gnode *grown = realloc(n->kids, (n->nkids + 1) * sizeof *grown);
    if (!grown)
        abort();
    n->kids = grown;
    struct gnode *c = &n->kids[n->nkids++];
    *c = (struct gnode){.name = strndup(name, len)};
    return c;
}

/* Sets a dotted path; a scalar replaces a mapping and vice versa (last wins). */
static void node_set(struct gnode *root, const char *path, const char *value)
{
    struct gnode *n = root;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        n = node_child(n, path, len);
        if (!dot)
            break;
        free(n->value);
        n->value = NULL;
        path = dot + 1;
    }
    for (size_t i = 0; i < n->nkids; i++)
        node_free(&n->kids[i]);
    free(n->kids);
    n->kids = NULL;
    n->nkids = 0;
    free(n->value);
    n->value = strdup(value);
}

static void node_free(struct gnode *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        node_free(&n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
}

static int emit_scalar(yaml_emitter_t *em, const char *s)
{
    yaml_event_t ev;
    /* A line break reads best escaped ("ok\n"); libyaml's own choice would
     * fold it into a multi-line single-quoted block. */
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 strchr(s, '\n') ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                 : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int emit_node(yaml_emitter_t *em, const struct gnode *n)
{
    if (n->value && n->nkids == 0)
        return emit_scalar(em, n->value);
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(em, &ev))
        return 0;
    for (size_t i = 0; i < n->nkids; i++)
        if (!emit_scalar(em, n->kids[i].name) || !emit_node(em, &n->kids[i]))
            return 0;
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static int write_to_buf(void *data, unsigned char *bytes, size_t size)
{
    return buf_append(data, bytes, size) == 0;
}

/* The settings that apply to the whole file, in the order they are written. */
static void build_top(const struct gen_options *o, struct gnode *top)
{
    node_set(top, "prometheusAddr", "127.0.0.1:9099");
    if (o->target == GEN_TSNSRV)
        return;
    const char *arch = "per-service";
    for (size_t i = 0; i < o->num_sets; i++)
        if (!strcmp(o->sets[i].key, "architecture"))
            arch = o->sets[i].value;
    node_set(top, "architecture", arch);
    if (!strcmp(arch, "per-service")) {
        /* tsnsrv-like defaults (DESIGN §1/§3), spelled out so the file documents itself */
        static const char *const defaults[][2] = {
            {"tasks.portlist.mode", "per-service"}, {"tasks.portlist.interval", "1s"},
            {"tasks.netmon.mode", "per-service"},   {"tasks.netmon.debounce", "250ms"},
            {"tasks.timers.mode", "per-service"},   {"tasks.footprint.mode", "per-service"},
        };
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            node_set(top, defaults[i][0], defaults[i][1]);
    }
    for (size_t i = 0; i < o->num_sets; i++) {
        const char *k = o->sets[i].key;
        if (strncmp(k, "service.", 8) && strcmp(k, "upstream"))
            node_set(top, k, o->sets[i].value);
    }
}

static void build_service(const struct gen_options *o, int i, struct gnode *svc)
{
    char name[32], addr[64], text[128];
    snprintf(name, sizeof name, "svc%d", i);
    const char *upstream = NULL, *state_base = "/var/lib/tsnsrv";
    for (size_t k = 0; k < o->num_sets; k++) {
        if (!strcmp(o->sets[k].key, "upstream"))
            upstream = o->sets[k].value;
        if (!strcmp(o->sets[k].key, "service.stateDir"))
            state_base = o->sets[k].value;
    }
    node_set(svc, "name", name);
    if (o->target == GEN_TSNSRV) {
        node_set(svc, "upstream", upstream ? upstream : "http://127.0.0.1:8080");
        node_set(svc, "ephemeral", "true");
        node_set(svc, "funnel", "false");
        node_set(svc, "listenAddr", ":443");
        snprintf(text, sizeof text, "%s/%s", state_base, name);
        node_set(svc, "stateDir", text);
        node_set(svc, "suppressWhois", "false");
        node_set(svc, "timeout", "60s");
    } else {
        snprintf(addr, sizeof addr, "127.0.0.1:%d", o->base_port + i);
        node_set(svc, "listenAddr", addr);
        if (upstream) {
            node_set(svc, "upstream", upstream);
        } else {
            snprintf(text, sizeof text, "%s ok", name);
            node_set(svc, "respond.status", "200");
            node_set(svc, "respond.body", text);
        }
    }
    for (size_t k = 0; k < o->num_sets; k++) {
        const char *key = o->sets[k].key;
        if (strncmp(key, "service.", 8) || !strcmp(key, "service.stateDir"))
            continue;
        if (!strncmp(key, "service.respond.", 16) && upstream)
            continue; /* a proxying service has no respond block */
        node_set(svc, key + 8, o->sets[k].value);
    }
}

/* Builds service i (1-based) of a config into svc. */
typedef void (*service_builder)(const void *ctx, int i, struct gnode *svc);

/* The one writer of a config file: "# comment", top's keys in order, then
 * services 1..n, each built, emitted and freed in turn (a config of 10000
 * services never sits in memory as a tree). */
static char *render_config(const char *comment, const struct gnode *top, int n,
                           service_builder build, const void *ctx, struct buf *out)
{
    buf_printf(out, "# %s\n", comment);
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_to_buf, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    ok = ok && yaml_emitter_emit(&em, &ev);
    for (size_t i = 0; ok && i < top->nkids; i++)
        ok = emit_scalar(&em, top->kids[i].name) && emit_node(&em, &top->kids[i]);
    ok = ok && emit_scalar(&em, "services");
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    ok = ok && yaml_emitter_emit(&em, &ev);
    for (int i = 1; ok && i <= n; i++) {
        struct gnode svc = {0};
        build(ctx, i, &svc);
        ok = emit_node(&em, &svc);
        node_free(&svc);
    }
    yaml_sequence_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_mapping_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && yaml_emitter_flush(&em);
    char *err = NULL;
    if (!ok && asprintf(&err, "yaml emitter: %s", em.problem ? em.problem : "output too large") < 0)
        err = NULL;
    yaml_emitter_delete(&em);
    return ok ? NULL : (err ? err : strdup("yaml emitter failed"));
}

static void build_option_service(const void *ctx, int i, struct gnode *svc)
{
    build_service(ctx, i, svc);
}

char *gen_render(const struct gen_options *o, int n, struct buf *out)
{
    if (n < 1 || (o->target == GEN_REFPROXY && o->base_port + n > 65535))
        return strdup("service count out of range for the base port");
    struct gnode top = {0};
    build_top(o, &top);
    char comment[64];
    snprintf(comment, sizeof comment, "scaleprof gen: %d services for %s", n,
             o->target == GEN_TSNSRV ? "tsnsrv" : "refproxy");
    char *err = render_config(comment, &top, n, build_option_service, o, out);
    node_free(&top);
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
    node_set(svc, "name", text);
    snprintf(text, sizeof text, "127.0.0.1:%d", c->ports[i - 1]);
    node_set(svc, "listenAddr", text);
    snprintf(text, sizeof text, "%d", c->status);
    node_set(svc, "respond.status", text);
    node_set(svc, "respond.body", c->body);
}

char *gen_render_respond(const struct gen_respond_config *c, struct buf *out)
{
    if (c->count < 1 || c->count > 65535)
        return strdup("respond config: service count out of range");
    for (size_t i = 0; i < c->count; i++)
        if (c->ports[i] < 1 || c->ports[i] > 65535)
            return strdup("respond config: port out of range");
    struct gnode top = {0};
    node_set(&top, "prometheusAddr", c->admin_addr);
    node_set(&top, "architecture", "shared");
    char *err = render_config(c->comment, &top, (int)c->count, build_respond_service, c, out);
    node_free(&top);
    return err;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static size_t sort_unique(int *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_int);
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (out == 0 || v[out - 1] != v[i])
            v[out++] = v[i];
    return out;
}

static int parse_count(const char *s, char **end, int *v)
{
    errno = 0;
    long x = strtol(s, end, 10);
    if (errno || *end == s || x < 1 || x > 100000)
        return -1;
    *v = (int)x;
    return 0;
}

char *gen_parse_counts(const char *s, int **counts, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int *v = calloc(cap, sizeof *v);
    size_t k = 0;
    const char *p = s;
    char *msg = NULL;
    while (v) {
        char *end;
        if (parse_count(p, &end, &v[k]) < 0 || (*end && *end != ',')) {
            if (asprintf(&msg, "--counts: expected comma-separated counts in 1..100000, got '%s'",
                         s) < 0)
                msg = NULL;
            free(v);
            return msg ? msg : strdup("bad --counts");
        }
        k++;
        if (!*end)
            break;
        p = end + 1;
    }
    if (!v)
        return strdup("out of memory");
    *n = sort_unique(v, k);
    *counts = v;
    return NULL;
}

char *gen_parse_geometric(const char *s, int **counts, size_t *n)
{
    int lo, hi, points = 7;
    char *end, *msg = NULL;
    if (parse_count(s, &end, &lo) < 0 || strncmp(end, "..", 2) ||
        parse_count(end + 2, &end, &hi) < 0 || hi <= lo ||
        (*end == ':' && (parse_count(end + 1, &end, &points) < 0 || points < 2)) || *end) {
        if (asprintf(&msg, "--geometric: expected LO..HI[:POINTS] with 1 <= LO < HI, got '%s'", s) <
            0)
            msg = NULL;
        return msg ? msg : strdup("bad --geometric");
    }
    int *v = calloc((size_t)points, sizeof *v);
    if (!v)
        return strdup("out of memory");
    double ratio = pow((double)hi / lo, 1.0 / (points - 1));
    for (int i = 0; i < points; i++)
        v[i] = (int)lround(lo * pow(ratio, i));
    v[points - 1] = hi;
    *n = sort_unique(v, (size_t)points);
    *counts = v;
    return NULL;
}

static const char gen_usage[] =
    "usage: scaleprof gen [--target refproxy|tsnsrv] [--counts 10,20,30,40,50 |\n"
    "                     --geometric LO..HI[:POINTS]] [--set key=value]...\n"
    "                     [--base-port P] [--force] --out DIR\n"
    "       scaleprof gen [--target T] --list-keys\n"
    "\n"
    "Writes DIR/<N>_services.yaml for each count. refproxy configs default to the\n"
    "per-service architecture with tsnsrv-like tasks (--set architecture=shared for\n"
    "the shared one); services respond by themselves unless --set upstream=URL.\n"
    "\n"
    "  --target T        refproxy (default) or tsnsrv\n"
    "  --counts LIST     comma-separated service counts in 1..100000 (default 10,20,30,40,50)\n"
    "  --geometric LO..HI[:POINTS]  POINTS counts (default 7) spaced evenly in log scale\n"
    "  --set key=value   a config setting; --list-keys shows the keys of the target\n"
    "  --base-port P     service i listens on P + i (1024..65000, default 18000)\n"
    "  --force           overwrite existing files (otherwise nothing is written)\n"
    "  --out DIR         where the configs go (created if missing)\n"
    "  --list-keys       print the settable keys of the target and exit\n"
    "Exit: 0 ok, 1 cannot write, 2 usage.\n";

enum {
    GEN_OPT_TARGET = 256,
    GEN_OPT_COUNTS,
    GEN_OPT_GEOMETRIC,
    GEN_OPT_SET,
    GEN_OPT_BASE_PORT,
    GEN_OPT_FORCE,
    GEN_OPT_OUT,
    GEN_OPT_LIST_KEYS,
};

static const struct option gen_options_table[] = {
    {"target", required_argument, NULL, GEN_OPT_TARGET},
    {"counts", required_argument, NULL, GEN_OPT_COUNTS},
    {"geometric", required_argument, NULL, GEN_OPT_GEOMETRIC},
    {"set", required_argument, NULL, GEN_OPT_SET},
    {"base-port", required_argument, NULL, GEN_OPT_BASE_PORT},
    {"force", no_argument, NULL, GEN_OPT_FORCE},
    {"out", required_argument, NULL, GEN_OPT_OUT},
    {"list-keys", no_argument, NULL, GEN_OPT_LIST_KEYS},
    {NULL, 0, NULL, 0},
};

int cmd_gen(int argc, char **argv)
{
    static const char *const targets[] = {"refproxy", "tsnsrv", NULL};
    struct gen_options o = {.target = GEN_REFPROXY, .base_port = 18000};
    const char *out_dir = NULL, *counts_arg = "10,20,30,40,50", *geometric = NULL;
    bool force = false, list_keys = false;
    int status = OPTS_USAGE;
    o.sets = calloc((size_t)argc + 1, sizeof *o.sets);
    int *counts = NULL;
    size_t num_counts = 0;
    char *err = NULL;

    struct opts op;
    opts_init(&op, "gen", gen_usage, gen_options_table, NULL, argc, argv);
    for (int c; (c = opts_next(&op)) != OPTS_END;) {
        switch (c) {
        case OPTS_STOP:
            status = op.exit;
            goto done;
        case OPTS_ARG:
            opts_error(&op, "unexpected argument '%s'", op.arg);
            goto done;
        case GEN_OPT_TARGET: {
            int t;
            if (opts_choice(&op, targets, &t) < 0)
                goto done;
            o.target = t == 0 ? GEN_REFPROXY : GEN_TSNSRV;
            break;
        }
        case GEN_OPT_COUNTS:
            counts_arg = op.arg, geometric = NULL;
            break;
        case GEN_OPT_GEOMETRIC:
            geometric = op.arg;
            break;
        case GEN_OPT_OUT:
            out_dir = op.arg;
            break;
        case GEN_OPT_FORCE:
            force = true;
            break;
        case GEN_OPT_LIST_KEYS:
            list_keys = true;
            break;
        case GEN_OPT_BASE_PORT: {
            long p;
            if (opts_whole(&op, "a port", 1024, 65000, &p) < 0)
                goto done;
            o.base_port = (int)p;
            break;
        }
        case GEN_OPT_SET: {
            const char *v = op.arg;
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                opts_bad_value(&op, "key=value");
                goto done;
            }
            o.sets[o.num_sets].value = strdup(eq + 1);
            o.sets[o.num_sets].key = strndup(v, (size_t)(eq - v));
            char *canon;
            err = gen_check_setting(o.target, o.sets[o.num_sets].key, eq + 1, &canon);
            free(o.sets[o.num_sets].key);
            o.sets[o.num_sets++].key = canon;
            if (err)
                goto done;
            break;
        }
        }
    }
    if (list_keys) {
        struct buf b;
        buf_init(&b, 0);
        gen_list_keys(o.target, &b);
        fputs(b.data ? b.data : "", stdout);
        buf_free(&b);
        status = 0;
        goto done;
    }
    /* --target after --set: check the keys again against the final target */
    for (size_t k = 0; k < o.num_sets; k++) {
        char *canon;
        if ((err = gen_check_setting(o.target, o.sets[k].key, o.sets[k].value, &canon)))
            goto done;
        free(canon);
    }
    if (!out_dir) {
        opts_error(&op, "--out DIR is required");
        goto done;
    }
    err = geometric ? gen_parse_geometric(geometric, &counts, &num_counts)
                    : gen_parse_counts(counts_arg, &counts, &num_counts);
    if (err) {
        opts_error(&op, "%s", err);
        free(err);
        err = NULL;
        goto done;
    }
    if (o.target == GEN_REFPROXY && o.base_port + counts[num_counts - 1] > 65535) {
        opts_error(&op, "%d services from base port %d run past 65535", counts[num_counts - 1],
                   o.base_port);
        goto done;
    }
    status = 1;
    if (outfile_mkdirs(out_dir) < 0) {
        fprintf(stderr, "scaleprof gen: %s: %s\n", out_dir, strerror(errno));
        goto done;
    }
    if (!force) {
        for (size_t k = 0; k < num_counts; k++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%d_services.yaml", out_dir, counts[k]);
            if (outfile_exists(path)) {
                fprintf(stderr,
                        "scaleprof gen: %s exists; not overwriting without --force "
                        "(nothing was written)\n",
                        path);
                goto done;
            }
        }
    }
    for (size_t k = 0; k < num_counts; k++) {
        struct buf b;
        buf_init(&b, (size_t)1 << 30);
        char name[64];
        snprintf(name, sizeof name, "%d_services.yaml", counts[k]);
        err = gen_render(&o, counts[k], &b);
        if (!err && outfile_write(out_dir, name, b.data, b.len) < 0)
            if (asprintf(&err, "%s/%s: %s", out_dir, name, strerror(errno)) < 0)
                err = NULL;
        buf_free(&b);
        if (err)
            goto done;
        printf("%s/%s\n", out_dir, name);
    }
    status = 0;
done:
    if (err) {
        fprintf(stderr, "scaleprof gen: %s\n", err);
        free(err);
    }
    for (size_t k = 0; k < o.num_sets; k++) {
        free(o.sets[k].key);
        free(o.sets[k].value);
    }
    free(o.sets);
    free(counts);
    return status;
}
