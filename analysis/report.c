/*
 * report: prints one analysis as report.json (stable keys, for machines),
 * report.md (a CI job summary), index.html (one self-contained page with the
 * plots inlined as SVG) and a short verdict table on stdout.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

json_t *report_real(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static const char *mem_source(const struct analysis *an)
{
    return an->res.mem_source ? an->res.mem_source : "RSS";
}

/* Which memory the per-service column holds, and why (results.h: one measure for all). */
static const char *mem_sentence(const struct analysis *an)
{
    return strcmp(mem_source(an), "PSS") == 0
               ? "Memory per service is PSS summed over the target's processes (stats.json "
                 "pss_bytes): pages its processes share count once."
               : "Memory per service is RSS summed over the target's processes (stats.json "
                 "rss_bytes): not every usable point has pss_bytes, so pages its processes "
                 "share may count more than once.";
}

void report_sequential_line(const struct analysis *an, char *buf, size_t len)
{
    const struct results_sequential *q = &an->res.seq;
    if (len)
        buf[0] = '\0';
    if (!q->on || !len)
        return;
    int n = snprintf(buf, len,
                     "Repeats until decided: %d round%s of at most %d (first look after %d; "
                     "stopped: %s). Each of the up to %d looks tests at one-sided %.2f%%, so "
                     "that together they hold %g%% (Pocock's constant boundary).",
                     q->rounds, q->rounds == 1 ? "" : "s", q->max_rounds, q->first_rounds,
                     q->stopped, q->max_rounds - q->first_rounds + 1, 100 * an->look_confidence,
                     100 * an->confidence);
    if (n > 0 && (size_t)n < len && fabs(an->confidence - q->confidence) > 1e-12)
        snprintf(buf + n, len - (size_t)n, " The sweep decided at %g%%.", 100 * q->confidence);
}

static json_t *sequential_json(const struct analysis *an)
{
    const struct results_sequential *q = &an->res.seq;
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string("pocock"));
    json_object_set_new(o, "rounds", json_integer(q->rounds));
    json_object_set_new(o, "first_rounds", json_integer(q->first_rounds));
    json_object_set_new(o, "max_rounds", json_integer(q->max_rounds));
    json_object_set_new(o, "looks", json_integer((json_int_t)q->looks));
    json_object_set_new(o, "max_looks", json_integer(q->max_rounds - q->first_rounds + 1));
    json_object_set_new(o, "stopped", json_string(q->stopped));
    json_object_set_new(o, "sweep_confidence", report_real(q->confidence));
    json_object_set_new(o, "confidence", report_real(an->confidence));
    json_object_set_new(o, "look_confidence", report_real(an->look_confidence));
    return o;
}

json_t *report_json(const struct analysis *an, json_t *functions, const struct plot_set *plots)
{
    const struct fit_result *f = &an->fit;
    const struct model_verdict *v = &an->verdict;
    json_t *doc = json_object();
    json_object_set_new(doc, "verdict", json_string(v->name));
    json_object_set_new(doc, "verdict_reason", json_string(v->reason));
    json_object_set_new(doc, "sentence", json_string(an->sentence));
    json_object_set_new(doc, "units", json_string("cpu_percent_of_one_core"));
    json_t *fit = json_object();
    json_object_set_new(fit, "a", report_real(f->a));
    json_object_set_new(fit, "b", report_real(f->b));
    json_object_set_new(fit, "c", report_real(f->c));
    json_object_set_new(fit, "a_se", report_real(f->a_se));
    json_object_set_new(fit, "a_held_at_zero", json_boolean(an->a_held_at_zero));
    json_object_set_new(fit, "a_free", report_real(an->free_a));
    json_object_set_new(fit, "b_se", report_real(f->b_se));
    json_object_set_new(fit, "c_se", report_real(f->c_se));
    json_object_set_new(fit, "c_t", report_real(f->c_t));
    json_object_set_new(fit, "exponent", report_real(an->exponent_ok ? an->exponent.k : NAN));
    json_object_set_new(fit, "exponent_lo", report_real(an->exponent.k_lo));
    json_object_set_new(fit, "exponent_hi", report_real(an->exponent.k_hi));
    json_object_set_new(
        fit, "exponent_of",
        json_string(an->exponent_above_overhead ? "cost_above_overhead" : "total_cost"));
    json_object_set_new(fit, "material_share", report_real(v->material_share));
    json_object_set_new(fit, "t_crit", report_real(f->t_crit));
    json_object_set_new(fit, "confidence", report_real(f->confidence));
    json_object_set_new(fit, "dof", report_real(f->dof));
    json_object_set_new(fit, "weighted", json_boolean(an->weighted));
    json_object_set_new(fit, "floor", report_real(v->floor));
    json_object_set_new(fit, "c_upper", report_real(v->c_hi));
    json_object_set_new(fit, "detectable_c", report_real(v->detectable_c));
    json_object_set_new(fit, "detectable_share", report_real(v->detectable_share));
    /* the absolute notions of materiality (analysis/README.md, "Materiality") */
    json_object_set_new(fit, "share_floor", report_real(v->share_floor));
    json_object_set_new(fit, "abs_floor", report_real(v->abs_floor));
    json_object_set_new(fit, "superlinear_share", report_real(v->sl_share));
    json_object_set_new(fit, "superlinear_share_upper", report_real(v->sl_share_hi));
    json_object_set_new(fit, "superlinear_cpu", report_real(v->sl_abs));
    json_object_set_new(fit, "superlinear_cpu_upper", report_real(v->sl_abs_hi));
    json_object_set_new(fit, "linear_by",
                        v->linear_by && v->kind == MODEL_LINEAR ? json_string(v->linear_by)
                                                                : json_null());
    json_object_set_new(doc, "fit", fit);
    json_object_set_new(doc, "per_service_cpu_ratio", report_real(an->cpu_ratio));
    json_object_set_new(doc, "memory_source", json_string(mem_source(an)));
    if (an->res.seq.on)
        json_object_set_new(doc, "sequential", sequential_json(an));

    json_t *levels = json_array();
    for (size_t l = 0; l < an->nlevels; l++) {
        const struct level *lv = &an->levels[l];
        json_t *o = json_object();
        json_object_set_new(o, "services", report_real(lv->n));
        json_object_set_new(o, "repeats", json_integer((json_int_t)lv->repeats));
        json_object_set_new(o, "cpu_percent", report_real(lv->cpu_mean));
        json_object_set_new(o, "cpu_percent_sd", report_real(lv->cpu_sd));
        json_object_set_new(o, "cpu_per_service", report_real(lv->cpu_per_service));
        json_object_set_new(o, "marginal_cost", report_real(lv->marginal));
        json_object_set_new(o, "fitted", report_real(lv->fitted));
        json_object_set_new(o, "memory_per_service", report_real(lv->mem_per_service));
        json_array_append_new(levels, o);
    }
    json_object_set_new(doc, "levels", levels);

    json_t *points = json_array();
    for (size_t i = 0; i < an->res.count; i++) {
        const struct point *p = &an->res.points[i];
        bool ok = point_usable(p);
        json_t *o = json_object();
        json_object_set_new(o, "services", json_integer(p->services));
        json_object_set_new(o, "repeat", json_integer(p->repeat));
        json_object_set_new(o, "cpu_percent", report_real(ok ? p->cpu_percent : NAN));
        json_object_set_new(o, "cpu_per_service",
                            report_real(ok ? 100.0 * p->cpu_s_per_s / p->services : NAN));
        json_object_set_new(o, "rss_bytes", report_real(ok ? p->rss_bytes : NAN));
        json_object_set_new(o, "pss_bytes", report_real(ok ? p->pss_bytes : NAN));
        json_object_set_new(o, "threads", report_real(ok ? p->threads : NAN));
        json_object_set_new(o, "wakeups_per_s", report_real(ok ? p->wakeups_per_s : NAN));
        json_object_set_new(o, "status", json_string(p->status));
        json_object_set_new(o, "reason", json_string(p->reason ? p->reason : ""));
        json_array_append_new(points, o);
    }
    json_object_set_new(doc, "points", points);

    json_t *tasks = json_array();
    for (size_t t = 0; t < an->ntasks; t++) {
        const struct task_fit *tf = &an->tasks[t];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(tf->name));
        json_object_set_new(o, "b", report_real(tf->fit.b));
        json_object_set_new(o, "c", report_real(tf->fit.c));
        json_object_set_new(o, "c_se", report_real(tf->fit.c_se));
        json_object_set_new(o, "share", report_real(tf->share));
        json_object_set_new(o, "remainder", json_boolean(tf->is_remainder));
        json_array_append_new(tasks, o);
    }
    json_object_set_new(doc, "tasks", tasks);
    json_object_set_new(doc, "functions", functions ? functions : json_array());
    json_t *pl = json_array();
    for (size_t i = 0; plots && i < plots->count; i++)
        json_array_append_new(pl, json_string(plots->names[i]));
    json_object_set_new(doc, "plots", pl);
    if (plots && !plots->done)
        json_object_set_new(doc, "plots_skipped", json_string(plots->note));
    return doc;
}

static int write_whole(const char *path, const struct buf *b, struct buf *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || (b->len && fwrite(b->data, 1, b->len, f) != b->len) || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        buf_printf(err, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* x with printf's fmt, or "–" when it is not finite (a person reads "nan"
 * as a bug; report.json says null). Returns out. */
static const char *fmt_num(char *out, size_t cap, const char *fmt, double x)
{
    if (isfinite(x))
        snprintf(out, cap, fmt, x);
    else
        snprintf(out, cap, "–");
    return out;
}

static void fmt_pm(char *out, size_t cap, double x, double se)
{
    if (isfinite(se))
        snprintf(out, cap, "%.4g ± %.2g", x, se);
    else
        snprintf(out, cap, "%.4g", x);
}

int report_write_md(const struct analysis *an, const struct plot_set *plots, const char *extra_md,
                    const char *path, struct buf *err)
{
    const struct fit_result *f = &an->fit;
    struct buf b;
    buf_init(&b, 1 << 24);
    char sa[64], sb[64], sc[64];
    fmt_pm(sa, sizeof(sa), f->a, f->a_se);
    fmt_pm(sb, sizeof(sb), f->b, f->b_se);
    fmt_pm(sc, sizeof(sc), f->c, f->c_se);
    buf_printf(&b, "## scaleprof: **%s**\n\n%s\n\n", an->verdict.name, an->sentence);
    buf_printf(&b,
               "Model: CPU%%(N) = a + b·N + c·N², %s least squares over %zu observations "
               "(%zu points usable of %zu).\n\n",
               an->weighted ? "weighted" : "unweighted", an->nobs, an->res.usable, an->res.count);
    if (an->a_held_at_zero)
        buf_printf(&b,
                   "The free fit gave a negative fixed cost (a = %.3g), which no process "
                   "has: a is held at 0 (least squares under a ≥ 0).\n\n",
                   an->free_a);
    char seq[400];
    report_sequential_line(an, seq, sizeof(seq));
    if (seq[0])
        buf_printf(&b, "%s\n\n", seq);
    buf_printf(&b,
               "| a | b (per service) | c | t of c | exponent | 2cNmax/b |\n"
               "|---|---|---|---|---|---|\n| %s | %s | %s | %.2f (crit %.2f at %g%%) | ",
               sa, sb, sc, f->c_t, f->t_crit, 100 * f->confidence);
    if (an->exponent_ok)
        buf_printf(&b, "%.2f [%.2f, %.2f] |", an->exponent.k, an->exponent.k_lo, an->exponent.k_hi);
    else
        buf_puts(&b, "– |");
    char num[32];
    buf_printf(&b, " %s (floor %.2f) |\n\n",
               fmt_num(num, sizeof(num), "%.2f", an->verdict.material_share), an->verdict.floor);
    buf_printf(&b,
               "| N | repeats | CPU %% | CPU %%/service | marginal b+2cN | %s/service | "
               "threads/service | wakeups/s |\n|---|---|---|---|---|---|---|---|\n",
               mem_source(an));
    for (size_t l = 0; l < an->nlevels; l++) {
        const struct level *lv = &an->levels[l];
        buf_printf(&b, "| %g | %zu | %.3f | %.4f | %.4f | %.0f KiB | %.2f | %.1f |\n", lv->n,
                   lv->repeats, lv->cpu_mean, lv->cpu_per_service, lv->marginal,
                   lv->mem_per_service / 1024, lv->threads_per_service, lv->wakeups_per_s);
    }
    buf_printf(&b, "\n%s\n", mem_sentence(an));
    buf_printf(&b, "\nPer-service CPU ratio Nmax/Nmin: %s\n",
               fmt_num(num, sizeof(num), "%.3f", an->cpu_ratio));
    if (an->ntasks > 1) {
        buf_puts(&b, "\n| task | b | c ± se | share of c |\n|---|---|---|---|\n");
        for (size_t t = 0; t < an->ntasks; t++) {
            const struct task_fit *tf = &an->tasks[t];
            fmt_pm(sc, sizeof(sc), tf->fit.c, tf->fit.c_se);
            buf_printf(&b, "| %s | %.4g | %s | %s |\n", tf->name, tf->fit.b, sc,
                       fmt_num(num, sizeof(num), "%.0f%%", 100 * tf->share));
        }
    }
    bool any_bad = false;
    for (size_t i = 0; i < an->res.count; i++) {
        const struct point *p = &an->res.points[i];
        if (point_usable(p))
            continue;
        if (!any_bad)
            buf_puts(&b, "\n**Excluded points**\n\n");
        any_bad = true;
        buf_printf(&b, "- N=%d repeat %d: %s — %s\n", p->services, p->repeat, p->status, p->reason);
    }
    if (extra_md && *extra_md)
        buf_printf(&b, "\n%s\n", extra_md);
    if (plots && !plots->done)
        buf_printf(&b, "\nPlots skipped: %s\n", plots->note);
    else if (plots)
        for (size_t i = 0; i < plots->count; i++)
            buf_printf(&b, "\n![%s](%s.png)\n", plots->titles[i], plots->names[i]);
    int rc = b.data ? write_whole(path, &b, err) : -1;
    buf_free(&b);
    return rc;
}

/* Inlines one gnuplot SVG, prefixing its ids so that several plots on one
 * page do not resolve each other's "#gpPt1" markers. */
static int inline_svg(struct buf *b, const char *outdir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s.svg", outdir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    struct buf svg;
    buf_init(&svg, 64u << 20);
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&svg, chunk, got) != 0)
            break;
    fclose(f);
    const char *s = svg.data ? strstr(svg.data, "<svg") : NULL;
    if (!s) {
        buf_free(&svg);
        return -1;
    }
    static const char *const pats[] = {"id=\"", "href=\"#", "url(#"};
    while (*s) {
        size_t best = (size_t)-1, which = 0;
        for (size_t k = 0; k < 3; k++) {
            const char *m = strstr(s, pats[k]);
            if (m && (size_t)(m - s) < best) {
                best = (size_t)(m - s);
                which = k;
            }
        }
        if (best == (size_t)-1) {
            buf_puts(b, s);
            break;
        }
        buf_append(b, s, best);
        buf_printf(b, "%s%s-", pats[which], name);
        s += best + strlen(pats[which]);
    }
    buf_free(&svg);
    return 0;
}

int report_write_html(const struct analysis *an, const struct plot_set *plots, const char *outdir,
                      const char *extra_html, const char *path, struct buf *err)
{
    const struct fit_result *f = &an->fit;
    struct buf b;
    buf_init(&b, 256u << 20);
    buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<title>scaleprof report</title><style>"
                 "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
                 "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
                 "padding:3px 8px;text-align:right}th{background:#eee}"
                 ".verdict{font-size:1.2em;padding:.8em;border-radius:6px}"
                 ".superlinear{background:#fdd}.linear{background:#dfd}"
                 ".inconclusive{background:#ffd}figure{margin:1em 0}"
                 "figure svg{max-width:100%;height:auto}</style></head><body>\n");
    buf_printf(&b, "<h1>scaleprof: ");
    buf_add_xml_escaped(&b, an->res.target_name);
    buf_printf(&b, "</h1>\n<p id=\"verdict\" class=\"verdict %s\"><b>%s</b>: ", an->verdict.name,
               an->verdict.name);
    buf_add_xml_escaped(&b, an->sentence);
    buf_puts(&b, "</p>\n<h2>Model</h2>\n<p>CPU%(N) = a + b·N + c·N², ");
    buf_printf(&b, "%s least squares over %zu observations; CPU in percent of one core.</p>\n",
               an->weighted ? "weighted" : "unweighted", an->nobs);
    if (an->a_held_at_zero)
        buf_printf(&b,
                   "<p>The free fit gave a negative fixed cost (a = %.3g), which no "
                   "process has: a is held at 0 (least squares under a ≥ 0).</p>\n",
                   an->free_a);
    char seq[400];
    report_sequential_line(an, seq, sizeof(seq));
    if (seq[0]) {
        buf_puts(&b, "<p id=\"sequential\">");
        buf_add_xml_escaped(&b, seq);
        buf_puts(&b, "</p>\n");
    }
    buf_printf(&b,
               "<table id=\"fit\"><tr><th>a</th><th>b</th><th>c</th><th>t of c</th>"
               "<th>exponent</th><th>2cNmax/b</th></tr><tr><td>%.4g ± %.2g</td>"
               "<td>%.4g ± %.2g</td><td>%.4g ± %.2g</td><td>%.2f (crit %.2f at %g%%)</td>",
               f->a, f->a_se, f->b, f->b_se, f->c, f->c_se, f->c_t, f->t_crit, 100 * f->confidence);
    if (an->exponent_ok)
        buf_printf(&b, "<td>%.2f [%.2f, %.2f]</td>", an->exponent.k, an->exponent.k_lo,
                   an->exponent.k_hi);
    else
        buf_puts(&b, "<td>–</td>");
    char num[32];
    buf_printf(&b, "<td>%s</td></tr></table>\n",
               fmt_num(num, sizeof(num), "%.2f", an->verdict.material_share));
    buf_puts(&b, "<h2>Per service count</h2>\n<table id=\"levels\"><tr><th>N</th>"
                 "<th>repeats</th><th>CPU %</th><th>CPU %/service</th><th>marginal b+2cN</th>"
                 "<th>");
    buf_printf(&b, "%s/service</th><th>threads/service</th><th>wakeups/s</th></tr>\n",
               mem_source(an));
    for (size_t l = 0; l < an->nlevels; l++) {
        const struct level *lv = &an->levels[l];
        buf_printf(&b,
                   "<tr><td>%g</td><td>%zu</td><td>%.3f</td><td>%.4f</td><td>%.4f</td>"
                   "<td>%.0f KiB</td><td>%.2f</td><td>%.1f</td></tr>\n",
                   lv->n, lv->repeats, lv->cpu_mean, lv->cpu_per_service, lv->marginal,
                   lv->mem_per_service / 1024, lv->threads_per_service, lv->wakeups_per_s);
    }
    buf_puts(&b, "</table>\n<p id=\"memory\">");
    buf_add_xml_escaped(&b, mem_sentence(an));
    buf_printf(&b,
               "</p>\n<p>Per-service CPU ratio N<sub>max</sub>/N<sub>min</sub>: "
               "%s</p>\n",
               fmt_num(num, sizeof(num), "%.3f", an->cpu_ratio));
    if (an->ntasks > 1) {
        buf_puts(&b, "<h2>Tasks (/metrics counters)</h2>\n<table id=\"tasks\"><tr><th>task</th>"
                     "<th>b</th><th>c</th><th>share of c</th></tr>\n");
        for (size_t t = 0; t < an->ntasks; t++) {
            const struct task_fit *tf = &an->tasks[t];
            buf_puts(&b, "<tr><td>");
            buf_add_xml_escaped(&b, tf->name);
            buf_printf(&b, "</td><td>%.4g</td><td>%.4g ± %.2g</td><td>%s</td></tr>\n", tf->fit.b,
                       tf->fit.c, tf->fit.c_se,
                       fmt_num(num, sizeof(num), "%.0f%%", 100 * tf->share));
        }
        buf_puts(&b, "</table>\n");
    }
    bool any_bad = false;
    for (size_t i = 0; i < an->res.count; i++) {
        const struct point *p = &an->res.points[i];
        if (point_usable(p))
            continue;
        if (!any_bad)
            buf_puts(&b, "<h2>Excluded points</h2>\n<ul id=\"excluded\">\n");
        any_bad = true;
        buf_printf(&b, "<li>N=%d repeat %d: %s — ", p->services, p->repeat, p->status);
        buf_add_xml_escaped(&b, p->reason);
        buf_puts(&b, "</li>\n");
    }
    if (any_bad)
        buf_puts(&b, "</ul>\n");
    if (extra_html && *extra_html)
        buf_puts(&b, extra_html);
    buf_puts(&b, "<h2>Plots</h2>\n");
    if (plots && !plots->done) {
        buf_puts(&b, "<p id=\"plots-skipped\">Plots skipped: ");
        buf_add_xml_escaped(&b, plots->note);
        buf_puts(&b, "</p>\n");
    }
    for (size_t i = 0; plots && plots->done && i < plots->count; i++) {
        buf_printf(&b, "<figure id=\"plot-%s\" class=\"plot\">", plots->names[i]);
        if (inline_svg(&b, outdir, plots->names[i]) != 0)
            buf_printf(&b, "<img src=\"%s.png\" alt=\"%s\">", plots->names[i], plots->names[i]);
        buf_puts(&b, "<figcaption>");
        buf_add_xml_escaped(&b, plots->titles[i]);
        buf_puts(&b, "</figcaption></figure>\n");
    }
    buf_puts(&b, "</body></html>\n");
    int rc = b.data ? write_whole(path, &b, err) : -1;
    buf_free(&b);
    return rc;
}

void report_print_table(const struct analysis *an, FILE *out)
{
    const struct fit_result *f = &an->fit;
    fprintf(out, "%-6s %8s %12s %12s %12s\n", "N", "repeats", "CPU %", "CPU%/svc", "b+2cN");
    for (size_t l = 0; l < an->nlevels; l++) {
        const struct level *lv = &an->levels[l];
        fprintf(out, "%-6g %8zu %12.4f %12.5f %12.5f\n", lv->n, lv->repeats, lv->cpu_mean,
                lv->cpu_per_service, lv->marginal);
    }
    fprintf(out, "fit: a=%.4g±%.2g b=%.4g±%.2g c=%.4g±%.2g t=%.2f (crit %.2f at %g%%)%s\n", f->a,
            f->a_se, f->b, f->b_se, f->c, f->c_se, f->c_t, f->t_crit, 100 * f->confidence,
            an->weighted ? " weighted" : "");
    if (an->a_held_at_zero)
        fprintf(out, "a held at 0: the free fit gave a=%.4g\n", an->free_a);
    char seq[400];
    report_sequential_line(an, seq, sizeof(seq));
    if (seq[0])
        fprintf(out, "%s\n", seq);
    for (size_t i = 0; i < an->res.count; i++) {
        const struct point *p = &an->res.points[i];
        if (!point_usable(p))
            fprintf(out, "excluded: N=%d repeat %d %s: %s\n", p->services, p->repeat, p->status,
                    p->reason);
    }
    fprintf(out, "verdict: %s — %s\n", an->verdict.name, an->sentence);
}
