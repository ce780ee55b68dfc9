/*
 * report_heap_threads: two more views of how a target grows with N, fitted
 * with the same design and weights as the CPU model (analyze.h):
 *   - heap: in-use bytes per function from each point's heap.prof
 *     (attribution_build_heap), when every usable point has one;
 *   - threads: per-service thread counts by role from each point's threads.txt
 *     (/debug/pprof/threads), e.g. "svc*\/idle: 8 per service" — the
 *     goroutines-per-service question. A thread name "svc12/idle3" has the
 *     role "svc*\/idle" (service number and trailing digits dropped); a name
 *     without '/' is its own role without trailing digits ("w3" → "w").
 * Each adds a key to report.json (heap, threads_by_role) and a section to
 * report.md and index.html.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "attribution.h"

#define HEAP_ROWS 10
#define MAX_ROLES 256

static bool file_in(const char *dir, const char *name, char *path, size_t len)
{
    struct stat st;
    snprintf(path, len, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* --- heap ---------------------------------------------------------------- */

struct heap_row {
    const struct attr_func *f;
    double marginal; /* bytes per added service at Nmax: b + 2cNmax */
};

static int by_marginal(const void *pa, const void *pb)
{
    const struct heap_row *a = pa, *b = pb;
    return (a->marginal < b->marginal) - (a->marginal > b->marginal);
}

static int heap_section(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                        struct buf *err)
{
    struct attr_point *pts = calloc(an->nobs ? an->nobs : 1, sizeof(*pts));
    char **paths = calloc(an->nobs ? an->nobs : 1, sizeof(*paths));
    int rc = pts && paths ? 0 : -1;
    size_t have = 0;
    for (size_t i = 0; rc == 0 && i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        char path[4200];
        if (!file_in(p->dir, "heap.prof", path, sizeof(path)))
            continue;
        paths[i] = strdup(path);
        pts[i] = (struct attr_point){p->services, p->window_s, paths[i]};
        have += paths[i] != NULL;
    }
    if (rc == 0 && have > 0 && have < an->nobs)
        buf_printf(md, "\nHeap: not attributed (heap.prof at %zu of %zu points).\n", have,
                   an->nobs);
    if (rc != 0 || have != an->nobs || have == 0)
        goto out;
    struct attribution at;
    struct buf skipped;
    buf_init(&skipped, 1 << 20);
    if (attribution_build_heap(&at, pts, an->nobs, &an->design, an->res.target_binary, &skipped,
                               err) != 0) {
        buf_printf(md, "\nHeap: not attributed (%s).\n", err->data ? err->data : "?");
        buf_reset(err);
        buf_free(&skipped);
        goto out;
    }
    double nmax = an->design.n_max;
    json_t *h = json_object(), *tot = json_object(), *arr = json_array();
    json_object_set_new(tot, "a", report_real(at.total_fit.a));
    json_object_set_new(tot, "b", report_real(at.total_fit.b));
    json_object_set_new(tot, "c", report_real(at.total_fit.c));
    json_object_set_new(tot, "c_se", report_real(at.total_fit.c_se));
    json_object_set_new(tot, "c_t", report_real(at.total_fit.c_t));
    json_object_set_new(h, "units", json_string("bytes in use"));
    json_object_set_new(h, "total", tot);
    struct heap_row *rows = calloc(at.nfuncs ? at.nfuncs : 1, sizeof(*rows));
    for (size_t i = 0; rows && i < at.nfuncs; i++)
        rows[i] = (struct heap_row){&at.funcs[i], at.funcs[i].fit.b + 2 * at.funcs[i].fit.c * nmax};
    if (rows)
        qsort(rows, at.nfuncs, sizeof(*rows), by_marginal);
    buf_printf(md,
               "\n### Heap in use by function\n\nIn-use bytes fitted as a + bN + cN²: "
               "%.0f bytes fixed, %.0f per service, c = %.3g ± %.2g (t = %.1f). "
               "Functions by bytes per added service at N=%g:\n\n"
               "| function | file:line | bytes/service at Nmax | b | c ± se | share of c |\n"
               "|---|---|---|---|---|---|\n",
               at.total_fit.a, at.total_fit.b, at.total_fit.c, at.total_fit.c_se, at.total_fit.c_t,
               nmax);
    buf_puts(html, "<h2>Heap in use by function</h2>\n<table id=\"heap\"><tr><th>function</th>"
                   "<th>file:line</th><th>bytes/service at Nmax</th><th>b</th><th>c</th>"
                   "<th>share of c</th></tr>\n");
    for (size_t i = 0; rows && i < at.nfuncs; i++) {
        const struct attr_func *f = rows[i].f;
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(f->name));
        json_object_set_new(o, "file", f->file ? json_string(f->file) : json_null());
        json_object_set_new(o, "line", json_integer(f->line));
        json_object_set_new(o, "b", report_real(f->fit.b));
        json_object_set_new(o, "c", report_real(f->fit.c));
        json_object_set_new(o, "c_se", report_real(f->fit.c_se));
        json_object_set_new(o, "c_share", report_real(f->self_share));
        json_object_set_new(o, "bytes_per_service_at_nmax", report_real(rows[i].marginal));
        json_array_append_new(arr, o);
        if (i >= HEAP_ROWS)
            continue;
        char loc[300] = "–";
        if (f->file)
            snprintf(loc, sizeof(loc), "%.250s:%d", f->file, f->line);
        buf_printf(md, "| `%s` | %s | %.0f | %.0f | %.3g ± %.2g | %.0f%% |\n", f->name, loc,
                   rows[i].marginal, f->fit.b, f->fit.c, f->fit.c_se, 100 * f->self_share);
        buf_puts(html, "<tr><td style=\"text-align:left\">");
        buf_add_xml_escaped(html, f->name);
        buf_puts(html, "</td><td>");
        buf_add_xml_escaped(html, loc);
        buf_printf(html,
                   "</td><td>%.0f</td><td>%.0f</td><td>%.3g ± %.2g</td><td>%.0f%%</td>"
                   "</tr>\n",
                   rows[i].marginal, f->fit.b, f->fit.c, f->fit.c_se, 100 * f->self_share);
    }
    buf_puts(html, "</table>\n");
    json_object_set_new(h, "functions", arr);
    if (skipped.len) {
        json_t *sk = json_array();
        for (char *line = skipped.data; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            fprintf(stderr, "analyze: heap profile left out: %s\n", line);
            buf_printf(md, "- left out (unreadable): `%s`\n", line);
            json_array_append_new(sk, json_string(line));
            line = nl ? nl + 1 : NULL;
        }
        json_object_set_new(h, "skipped", sk);
    }
    json_object_set_new(extra, "heap", h);
    free(rows);
    buf_free(&skipped);
    attribution_free(&at);
out:
    for (size_t i = 0; paths && i < an->nobs; i++)
        free(paths[i]);
    free(paths);
    free(pts);
    return rc;
}

/* --- threads ------------------------------------------------------------- */

/* The role of a thread name (see the top of the file). */
void report_thread_role(const char *name, char *role, size_t len)
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

struct roles {
    char names[MAX_ROLES][40];
    size_t count;
    double *counts; /* [role * nobs + obs] */
};

static int role_index(struct roles *r, const char *name)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->names[i], name) == 0)
            return (int)i;
    if (r->count == MAX_ROLES)
        return -1;
    snprintf(r->names[r->count], sizeof(r->names[0]), "%s", name);
    return (int)r->count++;
}

/* Counts threads by role in section 1 of threads.txt. -1 when unreadable. */
static int read_threads(const char *path, struct roles *r, size_t obs, size_t nobs)
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
        report_thread_role(name, role, sizeof(role));
        int k = role_index(r, role);
        if (k >= 0)
            r->counts[(size_t)k * nobs + obs] += 1;
        rows++;
    }
    fclose(f);
    return rows > 0 ? 0 : -1;
}

static int threads_section(const struct analysis *an, json_t *extra, struct buf *md,
                           struct buf *html)
{
    struct roles *r = calloc(1, sizeof(*r));
    if (r)
        r->counts = calloc(MAX_ROLES * (an->nobs ? an->nobs : 1), sizeof(double));
    if (!r || !r->counts) {
        free(r);
        return -1;
    }
    size_t have = 0;
    for (size_t i = 0; i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        char path[4200];
        if (file_in(p->dir, "threads.txt", path, sizeof(path)) &&
            read_threads(path, r, i, an->nobs) == 0)
            have++;
        else if (file_in(p->dir, "threads.txt", path, sizeof(path)))
            fprintf(stderr, "analyze: %s: no thread lines; threads by role left out\n", path);
    }
    if (have > 0 && have < an->nobs)
        buf_printf(md,
                   "\nThreads by role: not fitted (readable threads.txt at %zu of %zu "
                   "points).\n",
                   have, an->nobs);
    if (have == an->nobs && have > 0 && r->count > 0) {
        json_t *arr = json_array();
        buf_puts(md, "\n### Threads per service by role (threads.txt)\n\n"
                     "| role | per service (b) | fixed (a) | c ± se | mean at each N |\n"
                     "|---|---|---|---|---|\n");
        buf_puts(html, "<h2>Threads per service by role</h2>\n<table id=\"threads-by-role\">"
                       "<tr><th>role</th><th>per service (b)</th><th>fixed (a)</th>"
                       "<th>c</th><th>mean at each N</th></tr>\n");
        for (size_t k = 0; k < r->count; k++) {
            const double *y = &r->counts[k * an->nobs];
            struct fit_result fr;
            fit_apply(&an->design, y, &fr);
            json_t *o = json_object(), *lv = json_array();
            json_object_set_new(o, "role", json_string(r->names[k]));
            json_object_set_new(o, "a", report_real(fr.a));
            json_object_set_new(o, "b", report_real(fr.b));
            json_object_set_new(o, "c", report_real(fr.c));
            json_object_set_new(o, "c_se", report_real(fr.c_se));
            struct buf means;
            buf_init(&means, 4096);
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
                json_object_set_new(e, "threads", report_real(s / (double)cnt));
                json_array_append_new(lv, e);
                buf_printf(&means, "%sN=%g: %.3g", l ? ", " : "", an->levels[l].n, s / (double)cnt);
            }
            json_object_set_new(o, "levels", lv);
            json_array_append_new(arr, o);
            /* a clean figure for a person: "svc*\/idle: 8 per service" */
            double b = fabs(fr.b) < 0.05 ? 0.0 : fr.b;
            buf_printf(md, "| `%s` | %.3g | %.3g | %.2g ± %.2g | %s |\n", r->names[k], b, fr.a,
                       fr.c, fr.c_se, means.data ? means.data : "");
            buf_puts(html, "<tr><td style=\"text-align:left\">");
            buf_add_xml_escaped(html, r->names[k]);
            buf_printf(html,
                       "</td><td>%.3g</td><td>%.3g</td><td>%.2g ± %.2g</td><td>%s</td>"
                       "</tr>\n",
                       b, fr.a, fr.c, fr.c_se, means.data ? means.data : "");
            buf_free(&means);
        }
        buf_puts(html, "</table>\n");
        buf_puts(md, "\nRole: the thread name with its service number and trailing digits "
                     "dropped (`svc12/idle3` → `svc*/idle`); names are cut at 15 "
                     "characters by the kernel.\n");
        json_object_set_new(extra, "threads_by_role", arr);
    }
    free(r->counts);
    free(r);
    return 0;
}

int report_heap_threads(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                        struct buf *err)
{
    if (!an->design_ok || an->nobs == 0)
        return 0;
    int rc = heap_section(an, extra, md, html, err);
    if (threads_section(an, extra, md, html) != 0)
        rc = -1;
    return rc;
}
