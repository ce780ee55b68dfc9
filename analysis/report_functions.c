/*
 * report_functions: plugs attribution (analysis/attribution.h, issue 7) into
 * the analyze report. Builds the attribution over the SAME design and weights
 * as the total fit, then fills report.json's "functions", a markdown and an
 * HTML table, the scaling flame graph, its folded stacks, the data of the
 * top functions' CPU vs N plot (plot.c draws it), and the cross-check of each
 * /metrics task's c against the c of the call paths through the task's entry
 * functions (the prefix the target declares in refproxy_task_info, read by
 * results.c). Function figures are converted to CPU percent of
 * one core like the rest of the report. An unreadable profile is named and
 * left out; the functions are then fitted over the other points.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "attribution.h"

#define TOP_ROWS 15
#define PLOT_FUNCS 8

/* Sum of c over the call paths with a frame starting with prefix: the c of
 * every function on them, each path once (so a callee shared by two entries
 * is not counted twice within one task). */
static double paths_c_through(const struct attribution *at, const char *prefix)
{
    size_t pl = strlen(prefix);
    double c = 0;
    for (size_t i = 0; i < at->npaths; i++) {
        const char *st = at->paths[i].stack;
        for (const char *f = st; f; f = strchr(f, ';')) {
            if (*f == ';')
                f++;
            if (strncmp(f, prefix, pl) == 0) {
                c += at->paths[i].fit.c;
                break;
            }
        }
    }
    return c;
}

/* Mean self CPU s/s of f at services n. */
static double mean_at(const struct attribution *at, const struct attr_func *f, double n)
{
    double sum = 0;
    size_t cnt = 0;
    for (size_t j = 0; j < at->count; j++)
        if (at->n[j] == n) {
            sum += f->self[j];
            cnt++;
        }
    return cnt ? sum / (double)cnt : 0.0;
}

/* plot_functions.dat (N, then the mean self CPU % at that N of the PLOT_FUNCS
 * functions with the most self CPU at the largest N) and plot_functions.names
 * (their names, one a line) for plot.c. */
static void write_plot_data(const struct attribution *at, const char *outdir)
{
    char path[4200], names[4200];
    snprintf(path, sizeof(path), "%s/plot_functions.dat", outdir);
    snprintf(names, sizeof(names), "%s/plot_functions.names", outdir);
    double nmax = 0;
    for (size_t i = 0; i < at->count; i++)
        nmax = fmax(nmax, at->n[i]);
    const struct attr_func *top[PLOT_FUNCS];
    double topv[PLOT_FUNCS];
    size_t k = 0;
    for (size_t i = 0; i < at->nfuncs; i++) { /* insertion into a short sorted list */
        double v = mean_at(at, &at->funcs[i], nmax);
        if (!(v > 0) || (k == PLOT_FUNCS && v <= topv[k - 1]))
            continue;
        size_t q = k < PLOT_FUNCS ? k++ : k - 1;
        for (; q > 0 && topv[q - 1] < v; q--) {
            top[q] = top[q - 1];
            topv[q] = topv[q - 1];
        }
        top[q] = &at->funcs[i];
        topv[q] = v;
    }
    if (k == 0)
        return;
    FILE *f = fopen(path, "w"), *nf = fopen(names, "w");
    if (f && nf) {
        fputs("# N, then mean self CPU % of one core of each function in "
              "plot_functions.names\n",
              f);
        for (size_t i = 0; i < at->count; i++) {
            bool first = true; /* one row per distinct N, in observation order */
            for (size_t j = 0; j < i && first; j++)
                first = at->n[j] != at->n[i];
            if (!first)
                continue;
            fprintf(f, "%g", at->n[i]);
            for (size_t q = 0; q < k; q++)
                fprintf(f, " %.9g", 100.0 * mean_at(at, top[q], at->n[i]));
            fputs("\n", f);
        }
        for (size_t q = 0; q < k; q++)
            fprintf(nf, "%s\n", top[q]->name);
    }
    if (f)
        fclose(f);
    if (nf)
        fclose(nf);
}

json_t *report_culprit_json(const struct attribution *at)
{
    json_t *o = json_object();
    json_object_set_new(o, "function", json_string(at->culprit));
    json_object_set_new(o, "leaf", json_string(at->culprit_leaf));
    json_object_set_new(o, "path", json_string(at->culprit_path));
    json_object_set_new(o, "share", report_real(at->culprit_share));
    return o;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* How much of the measured process CPU the profiles account for, point by
 * point (profile CPU s/s over measured CPU s/s): a profiler that misses
 * threads, or a window that does not line up, shows here first. docs/DESIGN.md §6's
 * target: within 10%. */
static void coverage(const struct analysis *an, const struct attribution *at, json_t *extra,
                     struct buf *md, struct buf *html)
{
    double *r = calloc(at->count ? at->count : 1, sizeof(*r));
    size_t n = 0;
    for (size_t k = 0; r && k < at->count; k++) {
        double measured = an->y[at->obs[k]] / 100.0;
        if (measured > 0 && at->total[k] >= 0)
            r[n++] = at->total[k] / measured;
    }
    if (n > 0) {
        qsort(r, n, sizeof(*r), cmp_double);
        double med = n % 2 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
        json_t *o = json_object();
        json_object_set_new(o, "median", report_real(med));
        json_object_set_new(o, "min", report_real(r[0]));
        json_object_set_new(o, "max", report_real(r[n - 1]));
        json_object_set_new(o, "points", json_integer((json_int_t)n));
        json_object_set_new(extra, "profile_coverage", o);
        buf_printf(md,
                   "\nProfile CPU against measured process CPU, point by point: median %.2f "
                   "(%.2f–%.2f over %zu points)%s.\n",
                   med, r[0], r[n - 1], n,
                   fabs(med - 1) > 0.10 ? " — more than 10% off: read the functions' figures "
                                          "as shares, not absolutes"
                                        : "");
        buf_printf(html,
                   "<p id=\"profile-coverage\">Profile CPU against measured process CPU: median "
                   "%.2f (%.2f–%.2f over %zu points).</p>\n",
                   med, r[0], r[n - 1], n);
    }
    free(r);
}

/* Appends the file at path as a base64 data: URI so the page stays one file. */
static int append_data_uri(struct buf *b, const char *path, const char *mime)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    buf_printf(b, "data:%s;base64,", mime);
    unsigned char in[3];
    size_t got;
    while ((got = fread(in, 1, 3, f)) > 0) {
        char out[4];
        unsigned v =
            (unsigned)in[0] << 16 | (got > 1 ? (unsigned)in[1] << 8 : 0) | (got > 2 ? in[2] : 0);
        out[0] = tbl[(v >> 18) & 63];
        out[1] = tbl[(v >> 12) & 63];
        out[2] = got > 1 ? tbl[(v >> 6) & 63] : '=';
        out[3] = got > 2 ? tbl[v & 63] : '=';
        if (buf_append(b, out, 4) != 0) {
            fclose(f);
            return -1;
        }
        if (got < 3)
            break;
    }
    fclose(f);
    return 0;
}

int report_functions(const struct analysis *an, const char *outdir, json_t *functions,
                     json_t *extra, struct buf *md, struct buf *html, struct buf *err)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/plot_functions.dat", outdir);
    unlink(path); /* no stale plot from an earlier run in the same folder */
    if (!an->design_ok || an->nobs == 0)
        return 0;
    struct attr_point *pts = calloc(an->nobs, sizeof(*pts));
    char **why = calloc(an->nobs, sizeof(*why));
    if (!pts || !why) {
        free(pts);
        free(why);
        return -1;
    }
    /* A point without a CPU profile is still a measurement (it is in the
     * total fit); the functions are fitted over the points that have one,
     * with the same weights, and the others are named. */
    size_t with = 0;
    for (size_t i = 0; i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        pts[i].services = p->services;
        pts[i].window_s = p->window_s;
        pts[i].cpu_prof = p->cpu_prof;
        with += p->cpu_prof != NULL;
        if (!p->cpu_prof &&
            asprintf(&why[i], "repeat %d has no CPU profile (%s)", p->repeat,
                     p->profile_reason ? p->profile_reason : "none in its folder") < 0)
            why[i] = NULL;
        pts[i].missing = why[i];
    }
    struct attribution at;
    memset(&at, 0, sizeof(at));
    struct buf skipped;
    buf_init(&skipped, 1 << 20);
    int rc = 0;
    if (with == 0) {
        buf_puts(md, "\nFunctions: not attributed (no point has a CPU profile).\n");
        buf_free(&skipped);
        for (size_t i = 0; i < an->nobs; i++)
            free(why[i]);
        free(why);
        free(pts);
        return 0; /* no profiles: nothing to attribute, not an error */
    }
    struct attr_options ao = {.measure = PROFILE_CPU_NS,
                              .per_second = true,
                              .binary = an->res.target_binary,
                              .own_regex = an->own_regex};
    rc = attribution_build_measure(&at, pts, an->nobs, &an->design, &ao, &skipped, err);
    for (size_t i = 0; i < an->nobs; i++)
        free(why[i]);
    free(why);
    free(pts);
    if (skipped.len) {
        /* name each unreadable profile on stderr, in report.json and the reports */
        json_t *arr = json_array();
        buf_puts(md, "\nProfiles left out of the attribution (missing or unreadable):\n\n");
        buf_puts(html, "<p id=\"profiles-skipped\">Profiles left out of the attribution "
                       "(missing or unreadable):</p><ul>\n");
        for (char *line = skipped.data; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            fprintf(stderr, "analyze: profile left out: %s\n", line);
            json_array_append_new(arr, json_string(line));
            buf_printf(md, "- `%s`\n", line);
            buf_puts(html, "<li>");
            buf_add_xml_escaped(html, line);
            buf_puts(html, "</li>\n");
            line = nl ? nl + 1 : NULL;
        }
        buf_puts(html, "</ul>\n");
        json_object_set_new(extra, "functions_skipped", arr);
    }
    buf_free(&skipped);
    if (rc != 0) {
        attribution_free(&at);
        return -1;
    }
    write_plot_data(&at, outdir);
    coverage(an, &at, extra, md, html);
    for (size_t i = 0; i < at.nfuncs; i++) {
        const struct attr_func *f = &at.funcs[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(f->name));
        json_object_set_new(o, "file", f->file ? json_string(f->file) : json_null());
        json_object_set_new(o, "line", json_integer(f->line));
        json_object_set_new(o, "self_share", report_real(f->self_share));
        json_object_set_new(o, "cum_share", report_real(f->cum_share));
        json_object_set_new(o, "b", report_real(100 * f->fit.b));
        json_object_set_new(o, "c", report_real(100 * f->fit.c));
        json_object_set_new(o, "c_se", report_real(100 * f->fit.c_se));
        json_object_set_new(o, "exponent", report_real(f->has_exponent ? f->exponent.k : NAN));
        json_object_set_new(o, "exponent_lo",
                            report_real(f->has_exponent ? f->exponent.k_lo : NAN));
        json_object_set_new(o, "exponent_hi",
                            report_real(f->has_exponent ? f->exponent.k_hi : NAN));
        json_object_set_new(o, "group", json_integer(f->group));
        json_object_set_new(o, "own", json_boolean(f->own));
        json_array_append_new(functions, o);
    }
    if (at.culprit)
        json_object_set_new(extra, "culprit", report_culprit_json(&at));
    snprintf(path, sizeof(path), "%s/scaling.folded", outdir);
    if (attribution_write_folded(&at, path, err) != 0)
        buf_reset(err); /* the tables are still worth having */
    snprintf(path, sizeof(path), "%s/scaling_flamegraph.svg", outdir);
    bool flame =
        attribution_write_flamegraph(&at, path, "Scaling flame graph: width = c", err) == 0;
    if (!flame)
        buf_reset(err);

    buf_puts(md, "\n### Functions by share of the super-linear term\n\n");
    /* "in read" when the time itself is in a library or system call below it */
    bool below = at.culprit && strcmp(at.culprit, at.culprit_leaf) != 0;
    /* A culprit is the cause of a super-linear term the sweep found; without
     * that verdict the same descent only follows noise, and is said so. */
    bool found = an->verdict.kind == MODEL_SUPERLINEAR;
    if (!found)
        buf_printf(md,
                   "The verdict is %s: there is no super-linear term to explain, and the "
                   "shares of c below are of noise around zero.\n\n",
                   an->verdict.name);
    if (at.culprit && found)
        buf_printf(md, "Lowest caller carrying %.0f%% of c: **%s**%s%s%s (`%s`)\n\n",
                   100 * at.culprit_share, at.culprit, below ? ", its time in `" : "",
                   below ? at.culprit_leaf : "", below ? "`" : "", at.culprit_path);
    buf_puts(md, "| function | file:line | share of c | c ± se | exponent | group |\n"
                 "|---|---|---|---|---|---|\n");
    buf_puts(html, "<h2>Functions by share of the super-linear term</h2>\n");
    if (!found)
        buf_printf(html,
                   "<p id=\"no-culprit\">The verdict is %s: there is no super-linear term "
                   "to explain, and the shares of c below are of noise around zero.</p>\n",
                   an->verdict.name);
    if (at.culprit && found) {
        buf_printf(html, "<p id=\"culprit\">Lowest caller carrying %.0f%% of c: <b>",
                   100 * at.culprit_share);
        buf_add_xml_escaped(html, at.culprit);
        buf_puts(html, "</b>");
        if (below) {
            buf_puts(html, ", its time in <code>");
            buf_add_xml_escaped(html, at.culprit_leaf);
            buf_puts(html, "</code>");
        }
        buf_puts(html, " (<code>");
        buf_add_xml_escaped(html, at.culprit_path);
        buf_puts(html, "</code>)</p>\n");
    }
    buf_puts(html, "<table id=\"functions\"><tr><th>function</th><th>file:line</th>"
                   "<th>share of c</th><th>c</th><th>exponent</th><th>group</th></tr>\n");
    for (size_t i = 0; i < at.nfuncs && i < TOP_ROWS; i++) {
        const struct attr_func *f = &at.funcs[i];
        char loc[300] = "–", ex[64] = "–";
        if (f->file)
            snprintf(loc, sizeof(loc), "%.250s:%d", f->file, f->line);
        if (f->has_exponent)
            snprintf(ex, sizeof(ex), "%.2f [%.2f, %.2f]", f->exponent.k, f->exponent.k_lo,
                     f->exponent.k_hi);
        buf_printf(md, "| `%s` | %s | %.0f%% | %.3g ± %.2g | %s | %d |\n", f->name, loc,
                   100 * f->self_share, 100 * f->fit.c, 100 * f->fit.c_se, ex, f->group);
        buf_puts(html, "<tr><td style=\"text-align:left\">");
        buf_add_xml_escaped(html, f->name);
        buf_puts(html, "</td><td>");
        buf_add_xml_escaped(html, loc);
        buf_printf(html, "</td><td>%.0f%%</td><td>%.3g ± %.2g</td><td>%s</td><td>%d</td></tr>\n",
                   100 * f->self_share, 100 * f->fit.c, 100 * f->fit.c_se, ex, f->group);
    }
    buf_puts(html, "</table>\n");
    /* Cross-check: the exact /metrics counters against the sampled profile. */
    if (an->ntasks > 1) {
        json_t *arr = json_array();
        buf_puts(md, "\n#### /metrics tasks against their call paths\n\n"
                     "| task | entry functions | c from /metrics | c of its call paths | "
                     "difference |\n|---|---|---|---|---|\n");
        buf_puts(html, "<h3>/metrics tasks against their call paths</h3>\n<table id=\"tasks-"
                       "crosscheck\"><tr><th>task</th><th>entry functions</th><th>c from "
                       "/metrics</th><th>c of its call paths</th><th>difference</th></tr>\n");
        for (size_t t = 0; t + 1 < an->ntasks; t++) {
            const char *name = an->tasks[t].name;
            const char *prefix = results_task_entry_prefix(&an->res, name);
            double tc = an->tasks[t].fit.c;
            double fc = prefix ? 100 * paths_c_through(&at, prefix) : NAN;
            json_t *o = json_object();
            json_object_set_new(o, "task", json_string(name));
            json_object_set_new(o, "entry_prefix", prefix ? json_string(prefix) : json_null());
            json_object_set_new(o, "c_task", report_real(tc));
            json_object_set_new(o, "c_task_se", report_real(an->tasks[t].fit.c_se));
            json_object_set_new(o, "c_functions", report_real(fc));
            json_object_set_new(o, "difference", report_real(fc - tc));
            json_array_append_new(arr, o);
            char pre[160], fcs[48], dif[48];
            snprintf(pre, sizeof(pre), prefix ? "`%s*`" : "(no mapping: %s)",
                     prefix ? prefix : "metrics.prom has no refproxy_task_info for it");
            snprintf(fcs, sizeof(fcs), prefix ? "%.3g" : "–", fc);
            snprintf(dif, sizeof(dif), prefix ? "%+.3g" : "–", fc - tc);
            buf_printf(md, "| %s | %s | %.3g ± %.2g | %s | %s |\n", name, pre, tc,
                       an->tasks[t].fit.c_se, fcs, dif);
            buf_puts(html, "<tr><td>");
            buf_add_xml_escaped(html, name);
            buf_puts(html, "</td><td>");
            buf_add_xml_escaped(html, prefix ? prefix : "no mapping");
            buf_printf(html, "</td><td>%.3g ± %.2g</td><td>%s</td><td>%s</td></tr>\n", tc,
                       an->tasks[t].fit.c_se, fcs, dif);
        }
        buf_puts(html, "</table>\n");
        buf_puts(md, "\nc in CPU % of one core per service²; a task's call paths are those "
                     "through a function whose name starts with the entry prefix the target "
                     "declares (refproxy_task_info in metrics.prom). The counters are exact, the "
                     "profile is sampled: expect the difference within a few standard errors.\n");
        json_object_set_new(extra, "task_crosscheck", arr);
    }
    if (flame) {
        buf_puts(md, "\nScaling flame graph: `scaling_flamegraph.svg` (folded stacks: "
                     "`scaling.folded`).\n");
        buf_puts(html, "<h3>Scaling flame graph (width = super-linear term c)</h3>\n"
                       "<p><img id=\"flamegraph\" alt=\"scaling flame graph\" "
                       "style=\"max-width:100%\" src=\"");
        append_data_uri(html, path, "image/svg+xml");
        buf_puts(html, "\"></p>\n");
    }
    attribution_free(&at);
    return 0;
}
