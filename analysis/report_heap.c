/*
 * report_heap: heap in use per allocating function against N, from each
 * point's heap profile (heap.prof: gperftools; heap.pb.gz: Go), read through
 * the profile interface: in-use bytes charged to the first frame outside the
 * allocator. Fitted as a + bN + cN² over the points that have a heap profile
 * (at least 3 distinct N), unweighted (heap sizes are nearly exact, unlike
 * CPU), with the same a >= 0 rule as the CPU total: a negative fixed heap is
 * impossible, and over a narrow range of N it only trades against c, so the
 * total is refitted with a held at 0 and the functions with it (they still
 * add up). Adds "heap" to report.json and a section to report.md and
 * index.html.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "attribution.h"

#define HEAP_ROWS 10

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
    double slope;    /* bytes per service of a straight line through the points */
};

/* The slope of the least-squares line y = a + sN: heap per service when it
 * grows linearly. With one repeat per N, b and c of the quadratic trade off
 * against each other (their sum at Nmax is what b + 2cNmax gives), while the
 * line's slope is what a user means by "bytes per service". */
static double line_slope(const double *n, const double *y, size_t count)
{
    double mn = 0, my = 0;
    for (size_t i = 0; i < count; i++) {
        mn += n[i];
        my += y[i];
    }
    mn /= (double)count;
    my /= (double)count;
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < count; i++) {
        sxy += (n[i] - mn) * (y[i] - my);
        sxx += (n[i] - mn) * (n[i] - mn);
    }
    return sxx > 0 ? sxy / sxx : NAN;
}

static int by_marginal(const void *pa, const void *pb)
{
    const struct heap_row *a = pa, *b = pb;
    return (a->marginal < b->marginal) - (a->marginal > b->marginal);
}

static const char *const heap_files[] = {"heap.prof", "heap.pb.gz"};

int report_heap(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                struct buf *err)
{
    if (!an->design_ok || an->nobs == 0)
        return 0;
    struct attr_point *pts = calloc(an->nobs, sizeof(*pts));
    char **paths = calloc(an->nobs, sizeof(*paths));
    double *n = calloc(an->nobs, sizeof(*n));
    int rc = pts && paths && n ? 0 : -1;
    size_t have = 0;
    for (size_t i = 0; rc == 0 && i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        char path[4200];
        n[i] = p->services;
        pts[i] = (struct attr_point){
            .services = p->services, .window_s = p->window_s, .missing = "no heap profile"};
        for (size_t k = 0; k < sizeof heap_files / sizeof heap_files[0] && !paths[i]; k++)
            if (file_in(p->dir, heap_files[k], path, sizeof(path)))
                paths[i] = strdup(path);
        pts[i].cpu_prof = paths[i];
        have += paths[i] != NULL;
    }
    struct fit_design hd = {0};
    if (rc == 0 && have == 0) {
        /* refproxy (gperftools) takes heap profiles only when asked: say how */
        const struct point *p = &an->res.points[an->obs_point[0]];
        if (p->profiler && strcmp(p->profiler, "gperftools") == 0)
            buf_printf(md,
                       "\nHeap: not collected (heap profiling is off%s; `--set "
                       "heapProfile=true` takes it%s).\n",
                       an->res.load_rps > 0 ? " under --load" : "",
                       an->res.load_rps > 0 ? ", at a cost of about 80% of throughput" : "");
    }
    if (rc != 0 || have == 0)
        goto out;
    if (have < an->nobs)
        buf_printf(md, "\nHeap: fitted over the %zu of %zu points that have a heap profile.\n",
                   have, an->nobs);
    struct attribution at;
    struct buf skipped;
    buf_init(&skipped, 1 << 20);
    struct attr_options ao = {.measure = PROFILE_INUSE_BYTES,
                              .binary = an->res.target_binary,
                              .own_regex = an->own_regex};
    if (fit_prepare(&hd, n, NULL, an->nobs) != 0 ||
        attribution_build_measure(&at, pts, an->nobs, &hd, &ao, &skipped, err) != 0) {
        buf_printf(md, "\nHeap: not attributed (%s).\n",
                   err->len ? err->data : "fewer than 3 distinct N");
        buf_reset(err);
        buf_free(&skipped);
        goto out;
    }
    /* skipped lines name the points without a heap profile, which the note
     * above already counts; keep only the unreadable ones */
    double free_a = at.total_fit.a;
    bool held = false;
    if (free_a < 0) {
        struct fit_design *d = at.own_design ? &at.design : &hd;
        if (d->zero_a || fit_fix_a_at_zero(d) == 0)
            held = attribution_refit(&at, d, err) == 0;
        if (!held)
            buf_reset(err);
    }
    /* Nmax of the points with a heap profile: b + 2cN at the sweep's largest
     * N would be an extrapolation when the heap was profiled short of it */
    double nmax = 0;
    for (size_t i = 0; i < at.count; i++)
        nmax = fmax(nmax, at.n[i]);
    json_t *h = json_object(), *tot = json_object(), *arr = json_array();
    json_object_set_new(tot, "a", report_real(at.total_fit.a));
    json_object_set_new(tot, "b", report_real(at.total_fit.b));
    json_object_set_new(tot, "c", report_real(at.total_fit.c));
    json_object_set_new(tot, "c_se", report_real(at.total_fit.c_se));
    json_object_set_new(tot, "c_t", report_real(at.total_fit.c_t));
    json_object_set_new(tot, "bytes_per_service_linear",
                        report_real(line_slope(at.n, at.total, at.count)));
    json_object_set_new(tot, "a_held_at_zero", json_boolean(held));
    json_object_set_new(tot, "a_free", report_real(free_a));
    json_object_set_new(h, "units", json_string("bytes in use"));
    json_object_set_new(h, "total", tot);
    json_object_set_new(h, "points", json_integer((json_int_t)at.count));
    struct heap_row *rows = calloc(at.nfuncs ? at.nfuncs : 1, sizeof(*rows));
    for (size_t i = 0; rows && i < at.nfuncs; i++)
        rows[i] = (struct heap_row){&at.funcs[i], at.funcs[i].fit.b + 2 * at.funcs[i].fit.c * nmax,
                                    line_slope(at.n, at.funcs[i].self, at.count)};
    if (rows)
        qsort(rows, at.nfuncs, sizeof(*rows), by_marginal);
    buf_printf(md,
               "\n### Heap in use by function\n\nIn-use bytes fitted as a + bN + cN²%s: "
               "%.0f bytes fixed, %.0f per service, c = %.3g ± %.2g (t = %.1f); a straight "
               "line gives %.0f bytes per service. Functions by bytes per added service at "
               "N=%g:\n\n"
               "| function | file:line | bytes/service at Nmax | per service (line) | b | c ± se "
               "| share of c |\n"
               "|---|---|---|---|---|---|---|\n",
               held ? " (a held at 0: the free fit's fixed heap was negative)" : "", at.total_fit.a,
               at.total_fit.b, at.total_fit.c, at.total_fit.c_se, at.total_fit.c_t,
               line_slope(at.n, at.total, at.count), nmax);
    buf_puts(html, "<h2>Heap in use by function</h2>\n<table id=\"heap\"><tr><th>function</th>"
                   "<th>file:line</th><th>bytes/service at Nmax</th><th>per service (line)</th>"
                   "<th>b</th><th>c</th><th>share of c</th></tr>\n");
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
        json_object_set_new(o, "bytes_per_service_linear", report_real(rows[i].slope));
        json_array_append_new(arr, o);
        if (i >= HEAP_ROWS)
            continue;
        char loc[300] = "–";
        if (f->file)
            snprintf(loc, sizeof(loc), "%.250s:%d", f->file, f->line);
        buf_printf(md, "| `%s` | %s | %.0f | %.0f | %.0f | %.3g ± %.2g | %.0f%% |\n", f->name, loc,
                   rows[i].marginal, rows[i].slope, f->fit.b, f->fit.c, f->fit.c_se,
                   100 * f->self_share);
        buf_puts(html, "<tr><td style=\"text-align:left\">");
        buf_add_xml_escaped(html, f->name);
        buf_puts(html, "</td><td>");
        buf_add_xml_escaped(html, loc);
        buf_printf(html,
                   "</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%.3g ± %.2g</td>"
                   "<td>%.0f%%</td></tr>\n",
                   rows[i].marginal, rows[i].slope, f->fit.b, f->fit.c, f->fit.c_se,
                   100 * f->self_share);
    }
    buf_puts(html, "</table>\n");
    json_object_set_new(h, "functions", arr);
    if (skipped.len) {
        json_t *sk = json_array();
        for (char *line = skipped.data; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strstr(line, ": no heap profile")) { /* counted in the note above */
                line = nl ? nl + 1 : NULL;
                continue;
            }
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
    fit_design_free(&hd);
    for (size_t i = 0; paths && i < an->nobs; i++)
        free(paths[i]);
    free(paths);
    free(pts);
    free(n);
    return rc;
}
