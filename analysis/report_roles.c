/*
 * report_roles: how many threads and goroutines a target runs per service,
 * by role — the seed's "~110 goroutines per service", as a fitted figure.
 * Each point gives counts by role; each role's count is fitted as
 * a + bN + cN² over the usable points, unweighted and with a free (counts
 * are exact: neither CPU's noise weights nor its a >= 0 rule apply, and a
 * fixed count held at 0 would push the fixed threads into b), all roles with
 * one design so that their b add up to the total's: b is the number per
 * service of a role, a the fixed ones. Two sources, one fit:
 *   - threads.txt (/debug/pprof/threads, refproxy): a thread name
 *     "svc12/idle3" has the role "svc*\/idle" (service number and trailing
 *     digits dropped); a name without '/' is its own role without trailing
 *     digits ("w3" → "w");
 *   - goroutine.pb.gz (Go's goroutine profile): a goroutine's role is the
 *     frame that identifies it, the function its `go` statement started:
 *     the outermost frame once runtime.goexit (and runtime.main, for the main
 *     goroutine) is dropped, e.g. "example.com/x/node.(*Node).run" — and when
 *     that is an anonymous wrapper (a closure, "….func1") that calls into the
 *     program's own code, the function it wraps: `go func() { f() }()` and
 *     spawn helpers are how servers start most goroutines, and the wrapper
 *     would make every such goroutine one role.
 * Adds "threads_by_role" and "goroutines_by_role" (with the total's fit,
 * "goroutines_per_service") to report.json, and sections to the reports.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "profile.h"

#define MAX_ROLES 256
#define ROLE_LEN 160
/* The last slot of a full table: every role past MAX_ROLES - 1 is counted
 * there, so the total per service stays whole. */
#define OTHER_ROLES "(other roles)"

struct roles {
    char names[MAX_ROLES][ROLE_LEN];
    size_t count;
    size_t nobs;
    double *counts;                  /* [role * nobs + obs] */
    const struct fit_design *design; /* over the analysis' observations, unweighted */
};

static bool file_in(const char *dir, const char *name, char *path, size_t len)
{
    struct stat st;
    snprintf(path, len, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* The role of a thread name (see the top of the file). */
static void thread_role(const char *name, char *role, size_t len)
{
    const char *slash = strchr(name, '/');
    size_t i = 0;
    while (isalpha((unsigned char)name[i]))
        i++;
    size_t digits = i;
    while (isdigit((unsigned char)name[digits]))
        digits++;
    const char *rest = name;
    char head[32] = "";
    if (slash && i > 0 && digits > i && name + digits == slash) {
        snprintf(head, sizeof(head), "%.*s*/", (int)i, name);
        rest = slash + 1;
    }
    size_t rl = strlen(rest);
    while (rl > 0 && isdigit((unsigned char)rest[rl - 1]))
        rl--;
    snprintf(role, len, "%s%.*s", head, (int)rl, rest);
}

static int role_index(struct roles *r, const char *name)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->names[i], name) == 0)
            return (int)i;
    if (r->count == MAX_ROLES)
        return MAX_ROLES - 1;
    snprintf(r->names[r->count], sizeof(r->names[0]), "%s",
             r->count == MAX_ROLES - 1 ? OTHER_ROLES : name);
    return (int)r->count++;
}

static void role_add(struct roles *r, const char *role, size_t obs, double v)
{
    r->counts[(size_t)role_index(r, role) * r->nobs + obs] += v;
}

/* Counts threads by role in section 1 of threads.txt. -1 when unreadable. */
static int read_threads(const char *path, struct roles *r, size_t obs)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof(line), f) && rows < 100000) {
        if (strncmp(line, "# by prefix", 11) == 0)
            break;
        if (line[0] == '#')
            continue;
        char name[64], role[40];
        long tid;
        if (sscanf(line, "%ld\t%63[^\t]", &tid, name) != 2)
            continue;
        thread_role(name, role, sizeof(role));
        role_add(r, role, obs, 1);
        rows++;
    }
    fclose(f);
    return rows > 0 ? 0 : -1;
}

/* A Go closure: "pkg.F.func1", "pkg.(*T).M.func2.1". */
static bool is_closure(const char *name)
{
    const char *dot = strrchr(name, '.');
    while (dot && dot > name && isdigit((unsigned char)dot[1])) { /* nested: .func2.1 */
        const char *prev = dot - 1;
        while (prev > name && *prev != '.')
            prev--;
        if (*prev != '.')
            return false;
        dot = prev;
    }
    return dot && strncmp(dot + 1, "func", 4) == 0 && isdigit((unsigned char)dot[5]);
}

/* The frame that identifies a goroutine (see the top of the file). */
static const char *goroutine_role(const struct profile_session *s, const struct profile *p,
                                  const struct profile_sample *smp)
{
    uint32_t j = smp->depth;
    while (j > 0) { /* root first: drop the runtime's own entry frames */
        const char *name = profile_func(s, p->frames[smp->frame_index + j - 1])->name;
        if (strcmp(name, "runtime.goexit") && strcmp(name, "runtime.main"))
            break;
        j--;
    }
    if (j == 0)
        return smp->depth ? profile_func(s, p->frames[smp->frame_index])->name : "(no stack)";
    const struct profile_func *f = profile_func(s, p->frames[smp->frame_index + j - 1]);
    /* through wrappers into the code they run, while that is the program's own */
    while (j > 1 && is_closure(f->name)) {
        const struct profile_func *in = profile_func(s, p->frames[smp->frame_index + j - 2]);
        if (!in->own)
            break;
        f = in;
        j--;
    }
    return f->name;
}

/* Counts goroutines by role in a goroutine profile. -1 when unreadable (err). */
static int read_goroutines(struct profile_session *s, const char *path, struct roles *r, size_t obs,
                           char *err, size_t errlen)
{
    struct profile p;
    if (profile_load(s, path, &p, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (p.kind != PROFILE_GOROUTINE) {
        snprintf(err, errlen, "%.400s: not a goroutine profile", path);
        rc = -1;
    }
    for (size_t k = 0; rc == 0 && k < p.nsamples; k++)
        role_add(r, goroutine_role(s, &p, &p.samples[k]), obs,
                 (double)p.samples[k].v[PROFILE_GOROUTINES]);
    profile_free(&p);
    return rc;
}

/* Mean of y at each level of N, for a person: "N=10: 110, N=20: 220". */
static void means_at_levels(const struct analysis *an, const double *y, struct buf *out,
                            json_t *levels, const char *key)
{
    for (size_t l = 0; l < an->nlevels; l++) {
        double s = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < an->nobs; i++)
            if (an->n[i] == an->levels[l].n) {
                s += y[i];
                cnt++;
            }
        json_t *e = json_object();
        json_object_set_new(e, "services", json_real(an->levels[l].n));
        json_object_set_new(e, key, report_real(cnt ? s / (double)cnt : NAN));
        json_array_append_new(levels, e);
        buf_printf(out, "%sN=%g: %.3g", l ? ", " : "", an->levels[l].n,
                   cnt ? s / (double)cnt : NAN);
    }
}

/* One fitted role as a JSON object and a table row. */
static void write_role(const struct analysis *an, const struct fit_design *d, const char *name,
                       const double *y, const char *unit, json_t *arr, struct buf *md,
                       struct buf *html, struct fit_result *fr)
{
    fit_apply(d, y, fr);
    json_t *o = json_object(), *lv = json_array();
    json_object_set_new(o, "role", json_string(name));
    json_object_set_new(o, "a", report_real(fr->a));
    json_object_set_new(o, "b", report_real(fr->b));
    json_object_set_new(o, "c", report_real(fr->c));
    json_object_set_new(o, "c_se", report_real(fr->c_se));
    struct buf means;
    buf_init(&means, 4096);
    means_at_levels(an, y, &means, lv, unit);
    json_object_set_new(o, "levels", lv);
    json_array_append_new(arr, o);
    /* a clean figure for a person: "svc*\/idle: 8 per service" */
    double b = fabs(fr->b) < 0.05 ? 0.0 : fr->b;
    buf_printf(md, "| `%s` | %.3g | %.3g | %.2g ± %.2g | %s |\n", name, b, fr->a, fr->c, fr->c_se,
               means.data ? means.data : "");
    buf_puts(html, "<tr><td style=\"text-align:left\">");
    buf_add_xml_escaped(html, name);
    buf_printf(html, "</td><td>%.3g</td><td>%.3g</td><td>%.2g ± %.2g</td><td>", b, fr->a, fr->c,
               fr->c_se);
    buf_add_xml_escaped(html, means.data ? means.data : "");
    buf_puts(html, "</td></tr>\n");
    buf_free(&means);
}

/* Roles, most per service first. */
static const struct roles *sort_roles;
static const double *sort_b;
static int by_b(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (sort_b[a] != sort_b[b])
        return sort_b[a] > sort_b[b] ? -1 : 1;
    return strcmp(sort_roles->names[a], sort_roles->names[b]);
}

/* The section for one source of roles: title, report.json key, unit word. */
static void roles_section(const struct analysis *an, const struct roles *r, const char *what,
                          const char *key, const char *note, json_t *extra, struct buf *md,
                          struct buf *html)
{
    json_t *arr = json_array();
    buf_printf(md,
               "\n### %c%s per service by role\n\n"
               "| role | per service (b) | fixed (a) | c ± se | mean at each N |\n"
               "|---|---|---|---|---|\n",
               toupper((unsigned char)what[0]), what + 1);
    buf_printf(html,
               "<h2>%c%s per service by role</h2>\n<table id=\"%s\"><tr><th>role</th>"
               "<th>per service (b)</th><th>fixed (a)</th><th>c</th><th>mean at each N</th>"
               "</tr>\n",
               toupper((unsigned char)what[0]), what + 1, key);
    size_t *order = calloc(r->count ? r->count : 1, sizeof(*order));
    double *b = calloc(r->count ? r->count : 1, sizeof(*b));
    double *total = calloc(an->nobs, sizeof(*total));
    for (size_t k = 0; order && b && k < r->count; k++) {
        struct fit_result fr;
        fit_apply(r->design, &r->counts[k * an->nobs], &fr);
        order[k] = k;
        b[k] = fr.b;
    }
    if (order && b) {
        sort_roles = r;
        sort_b = b;
        qsort(order, r->count, sizeof(*order), by_b);
    }
    for (size_t q = 0; order && b && total && q < r->count; q++) {
        size_t k = order[q];
        struct fit_result fr;
        write_role(an, r->design, r->names[k], &r->counts[k * an->nobs], what, arr, md, html, &fr);
        for (size_t i = 0; i < an->nobs; i++)
            total[i] += r->counts[k * an->nobs + i];
    }
    if (total) {
        /* the total, fitted with the same design: its b is the sum of the roles' */
        struct fit_result ft;
        json_t *tot = json_array();
        write_role(an, r->design, "(all)", total, what, tot, md, html, &ft);
        json_t *t = json_array_get(tot, 0);
        json_incref(t);
        char per[64];
        snprintf(per, sizeof per, "%s_per_service", what);
        json_object_set_new(extra, per, t);
        json_decref(tot);
        buf_printf(md, "\n%c%s per service: **%.1f** (b of the total; %.1f fixed).\n",
                   toupper((unsigned char)what[0]), what + 1, ft.b, ft.a);
    }
    buf_puts(html, "</table>\n");
    buf_printf(md, "\n%s\n", note);
    json_object_set_new(extra, key, arr);
    free(order);
    free(b);
    free(total);
}

static struct roles *roles_new(size_t nobs, const struct fit_design *d)
{
    struct roles *r = calloc(1, sizeof(*r));
    if (r) {
        r->nobs = nobs;
        r->design = d;
        r->counts = calloc(MAX_ROLES * (nobs ? nobs : 1), sizeof(double));
    }
    if (r && !r->counts) {
        free(r);
        r = NULL;
    }
    return r;
}

static void roles_free(struct roles *r)
{
    if (r)
        free(r->counts);
    free(r);
}

static int threads_by_role(const struct analysis *an, const struct fit_design *d, json_t *extra,
                           struct buf *md, struct buf *html)
{
    struct roles *r = roles_new(an->nobs, d);
    if (!r)
        return -1;
    size_t have = 0;
    for (size_t i = 0; i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        char path[4200];
        if (!file_in(p->dir, "threads.txt", path, sizeof(path)))
            continue;
        if (read_threads(path, r, i) == 0)
            have++;
        else
            fprintf(stderr, "analyze: %s: no thread lines; threads by role left out\n", path);
    }
    if (have > 0 && have < an->nobs)
        buf_printf(md,
                   "\nThreads by role: not fitted (readable threads.txt at %zu of %zu "
                   "points).\n",
                   have, an->nobs);
    if (have == an->nobs && have > 0 && r->count > 0)
        roles_section(an, r, "threads", "threads_by_role",
                      "Role: the thread name with its service number and trailing digits "
                      "dropped (`svc12/idle3` → `svc*/idle`); names are cut at 15 "
                      "characters by the kernel.",
                      extra, md, html);
    roles_free(r);
    return 0;
}

static int goroutines_by_role(const struct analysis *an, const struct fit_design *d, json_t *extra,
                              struct buf *md, struct buf *html, struct buf *err)
{
    size_t have = 0;
    char path[4200];
    for (size_t i = 0; i < an->nobs; i++)
        have +=
            file_in(an->res.points[an->obs_point[i]].dir, "goroutine.pb.gz", path, sizeof(path));
    if (have == 0)
        return 0; /* not a Go target */
    if (have < an->nobs) {
        buf_printf(md,
                   "\nGoroutines by role: not fitted (goroutine.pb.gz at %zu of %zu "
                   "points).\n",
                   have, an->nobs);
        return 0;
    }
    struct roles *r = roles_new(an->nobs, d);
    struct profile_session *s = NULL;
    char why[512] = "out of memory";
    /* --own decides what a wrapper is seen through into, as for the culprit */
    struct profile_options po = {.binary = an->res.target_binary, .own_regex = an->own_regex};
    if (!r || profile_session_open(&s, &po, why, sizeof(why)) != 0) {
        buf_printf(err, "%s", why);
        roles_free(r);
        return -1;
    }
    size_t read = 0;
    for (size_t i = 0; i < an->nobs; i++) {
        file_in(an->res.points[an->obs_point[i]].dir, "goroutine.pb.gz", path, sizeof(path));
        if (read_goroutines(s, path, r, i, why, sizeof(why)) == 0)
            read++;
        else
            fprintf(stderr, "analyze: goroutines by role left out: %s\n", why);
    }
    if (read == an->nobs && r->count > 0)
        roles_section(an, r, "goroutines", "goroutines_by_role",
                      "Role: the function the goroutine's `go` statement started (its "
                      "outermost frame below `runtime.goexit`).",
                      extra, md, html);
    else
        buf_printf(md,
                   "\nGoroutines by role: not fitted (%zu of %zu goroutine profiles "
                   "readable).\n",
                   read, an->nobs);
    profile_session_close(s);
    roles_free(r);
    return 0;
}

int report_roles(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                 struct buf *err)
{
    if (!an->design_ok || an->nobs == 0)
        return 0;
    struct fit_design d;
    if (fit_prepare(&d, an->n, NULL, an->nobs) != 0) {
        fit_design_free(&d);
        return 0; /* the same N as the CPU model's, so not reached */
    }
    int rc = threads_by_role(an, &d, extra, md, html);
    if (goroutines_by_role(an, &d, extra, md, html, err) != 0)
        rc = -1;
    fit_design_free(&d);
    return rc;
}
