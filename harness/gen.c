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
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 YAML_ANY_SCALAR_STYLE);
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

/* refproxy's own top-level settings: the architecture and its task defaults. */
static void build_refproxy_top(const struct gen_options *o, struct gnode *top)
{
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
}

/* The settings that apply to the whole file, in the order they are written. */
static void build_top(const struct gen_options *o, struct gnode *top)
{
    node_set(top, "prometheusAddr", "127.0.0.1:9099");
    if (o->target == GEN_REFPROXY)
        build_refproxy_top(o, top);
    /* tsnsrv too: its one top-level key, prometheusAddr, is settable */
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

char *gen_render(const struct gen_options *o, int n, struct buf *out)
{
    if (n < 1 || (o->target == GEN_REFPROXY && o->base_port + n > 65535))
        return strdup("service count out of range for the base port");
    struct gnode top = {0};
    build_top(o, &top);
    buf_printf(out, "# scaleprof gen: %d services for %s\n", n,
               o->target == GEN_TSNSRV ? "tsnsrv" : "refproxy");

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
    for (size_t i = 0; ok && i < top.nkids; i++)
        ok = emit_scalar(&em, top.kids[i].name) && emit_node(&em, &top.kids[i]);
    ok = ok && emit_scalar(&em, "services");
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    ok = ok && yaml_emitter_emit(&em, &ev);
    for (int i = 1; ok && i <= n; i++) {
        struct gnode svc = {0};
        build_service(o, i, &svc);
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
    node_free(&top);
    return ok ? NULL : (err ? err : strdup("yaml emitter failed"));
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
            if (asprintf(&msg, "--counts %s: expected comma-separated counts in 1..100000", s) < 0)
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
        if (asprintf(&msg, "--geometric %s: expected LO..HI[:POINTS], 1 <= LO < HI", s) < 0)
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

static void gen_usage(FILE *out)
{
    fprintf(out, "usage: scaleprof gen [--target refproxy|tsnsrv] [--counts 10,20,30,40,50 |\n"
                 "                     --geometric LO..HI[:POINTS]] [--set key=value]...\n"
                 "                     [--base-port P] [--force] --out DIR\n"
                 "       scaleprof gen [--target T] --list-keys\n"
                 "\n"
                 "Writes DIR/<N>_services.yaml for each count. refproxy configs default to the\n"
                 "per-service architecture with tsnsrv-like tasks (--set architecture=shared for\n"
                 "the shared one); services respond by themselves unless --set upstream=URL.\n"
                 "Existing files are not overwritten without --force.\n");
}

int cmd_gen(int argc, char **argv)
{
    struct gen_options o = {.target = GEN_REFPROXY, .base_port = 18000};
    const char *out_dir = NULL, *counts_arg = "10,20,30,40,50", *geometric = NULL;
    bool force = false, list_keys = false;
    int status = 2;
    o.sets = calloc((size_t)argc + 1, sizeof *o.sets);
    int *counts = NULL;
    size_t num_counts = 0;
    char *err = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            gen_usage(stdout);
            status = 0;
            goto done;
        } else if (!strcmp(a, "--force")) {
            force = true;
        } else if (!strcmp(a, "--list-keys")) {
            list_keys = true;
        } else if (v && !strcmp(a, "--target")) {
            if (!strcmp(v, "refproxy"))
                o.target = GEN_REFPROXY;
            else if (!strcmp(v, "tsnsrv"))
                o.target = GEN_TSNSRV;
            else {
                fprintf(stderr, "scaleprof gen: --target %s: expected refproxy or tsnsrv\n", v);
                goto done;
            }
            i++;
        } else if (v && !strcmp(a, "--counts")) {
            counts_arg = v, geometric = NULL, i++;
        } else if (v && !strcmp(a, "--geometric")) {
            geometric = v, i++;
        } else if (v && !strcmp(a, "--out")) {
            out_dir = v, i++;
        } else if (v && !strcmp(a, "--base-port")) {
            char *end;
            long p = strtol(v, &end, 10);
            if (*end || p < 1024 || p > 65000) {
                fprintf(stderr, "scaleprof gen: --base-port %s: expected 1024..65000\n", v);
                goto done;
            }
            o.base_port = (int)p, i++;
        } else if (v && !strcmp(a, "--set")) {
            char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                fprintf(stderr, "scaleprof gen: --set %s: expected key=value\n", v);
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
            i++;
        } else {
            fprintf(stderr, "scaleprof gen: unknown or incomplete argument '%s'\n\n", a);
            gen_usage(stderr);
            goto done;
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
        fprintf(stderr, "scaleprof gen: --out DIR is required\n\n");
        gen_usage(stderr);
        goto done;
    }
    err = geometric ? gen_parse_geometric(geometric, &counts, &num_counts)
                    : gen_parse_counts(counts_arg, &counts, &num_counts);
    if (err)
        goto done;
    if (o.target == GEN_REFPROXY && o.base_port + counts[num_counts - 1] > 65535) {
        fprintf(stderr, "scaleprof gen: %d services from base port %d run past 65535\n",
                counts[num_counts - 1], o.base_port);
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
