/*
 * report_functions: plugs attribution (analysis/attribution.h, issue 7) into
 * the analyze report. Builds the attribution over the SAME design and weights
 * as the total fit, then fills report.json's "functions", a markdown and an
 * HTML table, the scaling flame graph, its folded stacks, and the cross-check
 * of each /metrics task's c against the functions named like it. Function
 * figures are converted to CPU percent of one core like the rest of the report.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "attribution.h"

#define TOP_ROWS 15

static void esc(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            buf_puts(b, "&lt;");
        else if (*s == '>')
            buf_puts(b, "&gt;");
        else if (*s == '&')
            buf_puts(b, "&amp;");
        else
            buf_append(b, s, 1);
    }
}

/* Appends the file at path as a base64 data: URI so the page stays one file. */
static int append_data_uri(struct buf *b, const char *path, const char *mime)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    buf_printf(b, "data:%s;base64,", mime);
    unsigned char in[3];
    size_t got;
    while ((got = fread(in, 1, 3, f)) > 0) {
        char out[4];
        unsigned v = (unsigned)in[0] << 16 | (got > 1 ? (unsigned)in[1] << 8 : 0) |
                     (got > 2 ? in[2] : 0);
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
                     struct buf *md, struct buf *html, struct buf *err)
{
    if (!an->design_ok || an->nobs == 0)
        return 0;
    struct attr_point *pts = calloc(an->nobs, sizeof(*pts));
    if (!pts)
        return -1;
    for (size_t i = 0; i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        if (!p->cpu_prof) {
            free(pts);
            buf_printf(md, "\nFunctions: not attributed (N=%d repeat %d has no cpu.prof).\n",
                       p->services, p->repeat);
            return 0; /* no profiles: nothing to attribute, not an error */
        }
        pts[i].services = p->services;
        pts[i].window_s = p->window_s;
        pts[i].cpu_prof = p->cpu_prof;
    }
    struct attribution at;
    memset(&at, 0, sizeof(at));
    int rc = attribution_build(&at, pts, an->nobs, &an->design, an->res.target_binary, err);
    free(pts);
    if (rc != 0) {
        attribution_free(&at);
        return -1;
    }
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
        json_object_set_new(o, "exponent",
                            report_real(f->has_exponent ? f->exponent.k : NAN));
        json_object_set_new(o, "exponent_lo",
                            report_real(f->has_exponent ? f->exponent.k_lo : NAN));
        json_object_set_new(o, "exponent_hi",
                            report_real(f->has_exponent ? f->exponent.k_hi : NAN));
        json_object_set_new(o, "group", json_integer(f->group));
        json_array_append_new(functions, o);
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/scaling.folded", outdir);
    if (attribution_write_folded(&at, path, err) != 0)
        buf_reset(err); /* the tables are still worth having */
    snprintf(path, sizeof(path), "%s/scaling_flamegraph.svg", outdir);
    bool flame = attribution_write_flamegraph(&at, path, "Scaling flame graph: width = c",
                                              err) == 0;
    if (!flame)
        buf_reset(err);

    buf_puts(md, "\n### Functions by share of the super-linear term\n\n");
    if (at.culprit)
        buf_printf(md, "Lowest caller carrying %.0f%% of c: **%s** (`%s`)\n\n",
                   100 * at.culprit_share, at.culprit, at.culprit_path);
    buf_puts(md, "| function | file:line | share of c | c ± se | exponent | group |\n"
                 "|---|---|---|---|---|---|\n");
    buf_puts(html, "<h2>Functions by share of the super-linear term</h2>\n");
    if (at.culprit) {
        buf_printf(html, "<p id=\"culprit\">Lowest caller carrying %.0f%% of c: <b>",
                   100 * at.culprit_share);
        esc(html, at.culprit);
        buf_puts(html, "</b> (<code>");
        esc(html, at.culprit_path);
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
        esc(html, f->name);
        buf_puts(html, "</td><td>");
        esc(html, loc);
        buf_printf(html, "</td><td>%.0f%%</td><td>%.3g ± %.2g</td><td>%s</td><td>%d</td></tr>\n",
                   100 * f->self_share, 100 * f->fit.c, 100 * f->fit.c_se, ex, f->group);
    }
    buf_puts(html, "</table>\n");
    /* Cross-check: the exact /metrics counters against the sampled profile. */
    if (an->ntasks > 1) {
        buf_puts(md, "\n| task | c from /metrics | c of functions named like it |\n"
                     "|---|---|---|\n");
        for (size_t t = 0; t + 1 < an->ntasks; t++) {
            double fc = 100 * attribution_c_matching(&at, an->tasks[t].name);
            buf_printf(md, "| %s | %.3g | %.3g |\n", an->tasks[t].name, an->tasks[t].fit.c, fc);
        }
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
