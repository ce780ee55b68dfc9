/*
 * gen: `scaleprof gen` writes one config per service count,
 * <N>_services.<ext>, for a target (gen_target.h: refproxy by default, in the
 * per-service architecture with tsnsrv-like task defaults, the shape of the
 * seed investigation), and beside each its point file (pointfile.h). This
 * file holds the options, the counts, and the facts every target shares
 * (gen_plan_point: listen ports, admin address, upstream, scratch folder);
 * each target's own file writes its config language.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "opts.h"
#include "outfile.h"
#include "pointfile.h"

char *gen_resolve_admin(const struct gen_options *o, const char **admin)
{
    const struct gen_target *t = o->target;
    char *msg = NULL;
    *admin = t->admin;
    if (o->admin && !strcmp(o->admin, "none")) {
        if (t->flags & GEN_T_ADMIN_ALWAYS) {
            if (asprintf(&msg,
                         "--admin none: %s always serves its admin endpoint "
                         "(--admin HOST:PORT moves it)",
                         t->name) < 0)
                msg = NULL;
            return msg ? msg : strdup("--admin none refused");
        }
        *admin = NULL;
    } else if (o->admin) {
        if (t->flags & GEN_T_ADMIN_NEVER) {
            if (asprintf(&msg,
                         "--admin %s: %s serves no HTTP admin endpoint (the sweep waits for its "
                         "service ports instead)",
                         o->admin, t->name) < 0)
                msg = NULL;
            return msg ? msg : strdup("--admin refused");
        }
        *admin = o->admin;
    }
    if (t->admin_key && gen_setting(o, t->admin_key))
        *admin = gen_setting(o, t->admin_key);
    return NULL;
}

char *gen_plan_point(const struct gen_options *o, int n, struct gen_point *pt, char *dir,
                     size_t dir_size)
{
    const struct gen_target *t = o->target;
    char *msg = NULL;
    memset(pt, 0, sizeof *pt);
    pt->n = n;
    pt->host = o->host ? o->host : "127.0.0.1";
    pt->base_port = o->base_port;
    if (n < 1 || (!(t->flags & GEN_T_LISTEN_ELSEWHERE) && o->base_port + n > 65535))
        return strdup("service count out of range for the base port");
    if ((msg = gen_resolve_admin(o, &pt->admin)))
        return msg;
    pt->upstream = gen_setting(o, "upstream");
    if (!pt->upstream)
        pt->upstream = t->upstream;
    if (!pt->upstream && (t->flags & GEN_T_PROXY)) {
        snprintf(pt->default_upstream, sizeof pt->default_upstream, "http://%s:%d", pt->host,
                 o->base_port);
        pt->upstream = pt->default_upstream;
    }
    if (pt->upstream && gen_parse_url(pt->upstream, pt->upstream_host, sizeof pt->upstream_host,
                                      &pt->upstream_port) < 0) {
        pt->upstream_host[0] = '\0';
        pt->upstream_port = 0;
        if ((t->flags & GEN_T_PROXY) &&
            asprintf(&msg, "upstream %s: expected http://HOST:PORT", pt->upstream) < 0)
            msg = strdup("bad upstream");
        if (msg)
            return msg;
    }
    if ((t->flags & GEN_T_SCRATCH) || o->scratch) {
        if (!o->out_dir ||
            snprintf(dir, dir_size, "%s/%d_services.d", o->out_dir, n) >= (int)dir_size)
            return strdup("the config names a scratch folder: give --out DIR (a shorter path)");
        pt->dir = dir;
    }
    return NULL;
}

char *gen_render(const struct gen_options *o, int n, struct buf *out)
{
    struct gen_point pt;
    char dir[PATH_MAX];
    char *err = gen_plan_point(o, n, &pt, dir, sizeof dir);
    return err ? err : o->target->write(o, &pt, out);
}

static const char *config_ext(const struct gen_options *o)
{
    return o->target->config_ext ? o->target->config_ext(o) : o->target->ext;
}

/* The point file of pt, its config named config_name, into out. */
static char *render_point(const struct gen_options *o, const struct gen_point *pt,
                          const char *config_name, struct buf *out)
{
    const struct gen_target *t = o->target;
    const char *heap = t->heap_key ? gen_setting(o, t->heap_key) : NULL;
    struct pointcfg pc = {
        .admin = (char *)pt->admin,
        .pprof = (t->flags & GEN_T_PPROF) && pt->admin,
        .heap_profile = heap && !strcmp(heap, "true"),
        .num_services = (size_t)pt->n,
        .upstream = (char *)pt->upstream,
        .target = (char *)t->name,
        .format = (char *)t->format,
        .command = (char *)t->command,
        .config = (char *)config_name,
        .scratch_dir = (char *)pt->dir,
    };
    pc.names = calloc((size_t)pt->n, sizeof *pc.names);
    pc.listen = calloc((size_t)pt->n, sizeof *pc.listen);
    char *err = NULL;
    for (int i = 0; pc.names && pc.listen && i < pt->n && !err; i++)
        if (asprintf(&pc.names[i], "svc%d", i + 1) < 0 ||
            (!(t->flags & GEN_T_LISTEN_ELSEWHERE) &&
             asprintf(&pc.listen[i], "%s:%d", pt->host, pt->base_port + i + 1) < 0))
            err = strdup("out of memory");
    if (!pc.names || !pc.listen)
        err = strdup("out of memory");
    if (!err)
        err = pointfile_render(&pc, out);
    for (int i = 0; i < pt->n && pc.names && pc.listen; i++) {
        free(pc.names[i]);
        free(pc.listen[i]);
    }
    free(pc.names);
    free(pc.listen);
    return err;
}

/* Writes count n: the config, its scratch folder, its point file; prints the config's path. */
static char *write_count(const struct gen_options *o, int n)
{
    struct gen_point pt;
    char dir[PATH_MAX], name[64], point_name[64], failed[PATH_MAX + 64] = "";
    char *err = gen_plan_point(o, n, &pt, dir, sizeof dir);
    if (err)
        return err;
    snprintf(name, sizeof name, "%d_services.%s", n, config_ext(o));
    snprintf(point_name, sizeof point_name, "%d%s", n, POINTFILE_SUFFIX);
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    if (!(err = o->target->write(o, &pt, &b))) {
        if (outfile_write(o->out_dir, name, b.data, b.len) < 0)
            snprintf(failed, sizeof failed, "%s/%s", o->out_dir, name);
        else if (pt.dir && outfile_mkdirs(pt.dir) < 0)
            snprintf(failed, sizeof failed, "%s", pt.dir);
    }
    buf_reset(&b);
    if (!err && !*failed && !(err = render_point(o, &pt, name, &b)) &&
        outfile_write(o->out_dir, point_name, b.data, b.len) < 0)
        snprintf(failed, sizeof failed, "%s/%s", o->out_dir, point_name);
    buf_free(&b);
    if (*failed && asprintf(&err, "%s: %s", failed, strerror(errno)) < 0)
        err = strdup("cannot write");
    if (!err)
        printf("%s/%s\n", o->out_dir, name);
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
    "usage: scaleprof gen [--target refproxy|tsnsrv|nginx|haproxy|caddy | --template FILE]\n"
    "                     [--counts 10,20,30,40,50 | --geometric LO..HI[:POINTS]]\n"
    "                     [--set key=value]... [--host IP] [--base-port P]\n"
    "                     [--admin HOST:PORT|none] [--force] --out DIR\n"
    "       scaleprof gen [--target T | --template FILE] --list-keys\n"
    "\n"
    "Writes DIR/<N>_services.<ext> for each count, and beside it\n"
    "DIR/<N>_services.point.json: the target, its command, the admin address, every\n"
    "service's listen address and the upstream, which the sweep reads. Service i is\n"
    "named svc<i> and listens on IP:P+i. refproxy configs default to the per-service\n"
    "architecture with tsnsrv-like tasks (--set architecture=shared for the shared\n"
    "one); their services respond by themselves unless --set upstream=URL. The other\n"
    "targets proxy every service to --set upstream=http://HOST:PORT (default\n"
    "http://IP:P, the base port, which no service uses).\n"
    "\n"
    "  --target T        refproxy (default), tsnsrv, nginx, haproxy or caddy\n"
    "  --template FILE   any server: FILE with {placeholders} and a {{#services}} ...\n"
    "                    {{/services}} block (--list-keys shows the placeholders)\n"
    "  --counts LIST     comma-separated service counts in 1..100000 (default 10,20,30,40,50)\n"
    "  --geometric LO..HI[:POINTS]  POINTS counts (default 7) spaced evenly in log scale\n"
    "  --set key=value   a config setting; --list-keys shows the keys of the target\n"
    "  --host IP         the IPv4 address every service listens on (default 127.0.0.1)\n"
    "  --base-port P     service i listens on P + i (1024..65000, default 18000)\n"
    "  --admin ADDR      the admin endpoint's host:port (refproxy, tsnsrv, caddy: default\n"
    "                    127.0.0.1:9099), or none (caddy: admin off); a template's\n"
    "                    server has one only when given (then {admin} is set)\n"
    "  --force           overwrite existing files (otherwise nothing is written)\n"
    "  --out DIR         where the configs go (created if missing)\n"
    "  --list-keys       print the settable keys of the target and exit\n"
    "Exit: 0 ok, 1 cannot write, 2 usage (a bad template: FILE:LINE:COLUMN).\n";

enum {
    GEN_OPT_TARGET = 256,
    GEN_OPT_TEMPLATE,
    GEN_OPT_COUNTS,
    GEN_OPT_GEOMETRIC,
    GEN_OPT_SET,
    GEN_OPT_HOST,
    GEN_OPT_BASE_PORT,
    GEN_OPT_ADMIN,
    GEN_OPT_FORCE,
    GEN_OPT_OUT,
    GEN_OPT_LIST_KEYS,
};

static const struct option gen_options_table[] = {
    {"target", required_argument, NULL, GEN_OPT_TARGET},
    {"template", required_argument, NULL, GEN_OPT_TEMPLATE},
    {"counts", required_argument, NULL, GEN_OPT_COUNTS},
    {"geometric", required_argument, NULL, GEN_OPT_GEOMETRIC},
    {"set", required_argument, NULL, GEN_OPT_SET},
    {"host", required_argument, NULL, GEN_OPT_HOST},
    {"base-port", required_argument, NULL, GEN_OPT_BASE_PORT},
    {"admin", required_argument, NULL, GEN_OPT_ADMIN},
    {"force", no_argument, NULL, GEN_OPT_FORCE},
    {"out", required_argument, NULL, GEN_OPT_OUT},
    {"list-keys", no_argument, NULL, GEN_OPT_LIST_KEYS},
    {NULL, 0, NULL, 0},
};

/* Characters a scratch folder may hold: the configs name it unquoted or in
 * double quotes, and no target's language needs an escape for these. */
static const char scratch_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789/._+-";

/* Nothing is overwritten without --force: 0 when no file of any count exists. */
static int refuse_existing(const struct gen_options *o, const int *counts, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char path[PATH_MAX + 64];
        for (int which = 0; which < 2; which++) {
            if (which == 0)
                snprintf(path, sizeof path, "%s/%d_services.%s", o->out_dir, counts[k],
                         config_ext(o));
            else
                snprintf(path, sizeof path, "%s/%d%s", o->out_dir, counts[k], POINTFILE_SUFFIX);
            if (outfile_exists(path)) {
                fprintf(stderr,
                        "scaleprof gen: %s exists; not overwriting without --force "
                        "(nothing was written)\n",
                        path);
                return -1;
            }
        }
    }
    return 0;
}

/* Checks --host and --admin values. -1 after printing the error. */
static int check_address(struct opts *op, const char *what)
{
    struct in_addr a;
    const char *colon = strrchr(op->arg, ':');
    char host[64];
    if (!strcmp(what, "host"))
        return inet_pton(AF_INET, op->arg, &a) == 1 ? 0 : opts_bad_value(op, "an IPv4 address");
    if (!strcmp(op->arg, "none"))
        return 0;
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || colon == op->arg || (size_t)(colon - op->arg) >= sizeof host ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || port < 1 || port > 65535)
        return opts_bad_value(op, "HOST:PORT or none");
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    const char *targets[16] = {NULL}; /* --target's choices: the table's names */
    for (size_t i = 0; gen_targets[i] && i + 1 < sizeof targets / sizeof targets[0]; i++)
        targets[i] = gen_targets[i]->name;
    struct gen_options o = {.target = &gen_target_refproxy, .base_port = 18000};
    const char *out_dir = NULL, *counts_arg = "10,20,30,40,50", *geometric = NULL;
    bool force = false, list_keys = false, target_given = false, prepared = false;
    int status = OPTS_USAGE;
    o.sets = calloc((size_t)argc + 1, sizeof *o.sets);
    int *counts = NULL;
    size_t num_counts = 0;
    char *err = NULL, *out_abs = NULL;

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
            o.target = gen_targets[t];
            target_given = true;
            break;
        }
        case GEN_OPT_TEMPLATE:
            o.template_path = op.arg;
            break;
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
        case GEN_OPT_HOST:
            if (check_address(&op, "host") < 0)
                goto done;
            o.host = op.arg;
            break;
        case GEN_OPT_ADMIN:
            if (check_address(&op, "admin") < 0)
                goto done;
            o.admin = op.arg;
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
            o.sets[o.num_sets++].key = strndup(v, (size_t)(eq - v));
            break;
        }
        }
    }
    if (o.template_path) {
        if (target_given && o.target != &gen_target_template) {
            opts_error(&op, "--template FILE is a target of its own: leave out --target %s",
                       o.target->name);
            goto done;
        }
        o.target = &gen_target_template;
    }
    /* the keys are checked against the final target, whatever the order of the options */
    for (size_t k = 0; k < o.num_sets; k++) {
        char *canon;
        if ((err = gen_check_setting(o.target, o.sets[k].key, o.sets[k].value, &canon)))
            goto done;
        free(o.sets[k].key);
        o.sets[k].key = canon;
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
    if (!(o.target->flags & GEN_T_LISTEN_ELSEWHERE) &&
        o.base_port + counts[num_counts - 1] > 65535) {
        opts_error(&op, "%d services from base port %d run past 65535", counts[num_counts - 1],
                   o.base_port);
        goto done;
    }
    const char *admin;
    if ((err = gen_resolve_admin(&o, &admin)))
        goto done;
    /* the template is read (and every error in it reported) before anything is written */
    if (o.target->prepare && (err = o.target->prepare(&o)))
        goto done;
    prepared = true;
    status = 1;
    if (outfile_mkdirs(out_dir) < 0 || !(out_abs = realpath(out_dir, NULL))) {
        fprintf(stderr, "scaleprof gen: %s: %s\n", out_dir, strerror(errno));
        goto done;
    }
    o.out_dir = out_abs;
    if (((o.target->flags & GEN_T_SCRATCH) || o.scratch) &&
        strspn(out_abs, scratch_chars) != strlen(out_abs)) {
        status = OPTS_USAGE;
        opts_error(&op,
                   "--out %s: %s's configs name a scratch folder in it, so its path may hold "
                   "only letters, digits and / . _ + -",
                   out_abs, o.target->name);
        goto done;
    }
    if (!force && refuse_existing(&o, counts, num_counts) < 0)
        goto done;
    for (size_t k = 0; k < num_counts; k++)
        if ((err = write_count(&o, counts[k])))
            goto done;
    status = 0;
done:
    if (err) {
        fprintf(stderr, "scaleprof gen: %s\n", err);
        free(err);
    }
    if (prepared && o.target->release)
        o.target->release(&o);
    for (size_t k = 0; k < o.num_sets; k++) {
        free(o.sets[k].key);
        free(o.sets[k].value);
    }
    free(o.sets);
    free(counts);
    free(out_abs);
    return status;
}
