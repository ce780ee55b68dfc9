/*
 * analyze: `scaleprof analyze RESULTS [--out DIR] [--floor X] [--confidence P]`.
 * Builds the model of one sweep (analysis_run), then hands it to the plots, attribution
 * and the report writers. All figures are in CPU percent of one core.
 */
#include "analyze.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "opts.h"
#include "sequential.h"

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void build_levels(struct analysis *an)
{
    struct results *r = &an->res;
    double *ns = malloc((an->nobs ? an->nobs : 1) * sizeof(double));
    if (!ns)
        return;
    memcpy(ns, an->n, an->nobs * sizeof(double));
    qsort(ns, an->nobs, sizeof(double), cmp_double);
    size_t L = 0;
    for (size_t i = 0; i < an->nobs; i++)
        if (i == 0 || ns[i] != ns[i - 1])
            ns[L++] = ns[i];
    an->levels = calloc(L ? L : 1, sizeof(struct level));
    an->nlevels = an->levels ? L : 0;
    for (size_t l = 0; l < an->nlevels; l++) {
        struct level *lv = &an->levels[l];
        lv->n = ns[l];
        lv->task_mean = calloc(r->ntasks ? r->ntasks : 1, sizeof(double));
        double mem = 0, thr = 0, wk = 0, s = 0, ss = 0;
        for (size_t i = 0; i < an->nobs; i++) {
            if (an->n[i] != lv->n)
                continue;
            const struct point *pt = &r->points[an->obs_point[i]];
            lv->repeats++;
            s += an->y[i];
            ss += an->y[i] * an->y[i];
            mem += pt->mem_bytes;
            thr += pt->threads;
            wk += pt->wakeups_per_s;
            for (size_t t = 0; t < r->ntasks && lv->task_mean; t++)
                lv->task_mean[t] += 100.0 * pt->task_cpu[t];
        }
        double k = (double)lv->repeats;
        lv->cpu_mean = s / k;
        lv->cpu_sd = lv->repeats > 1 ? sqrt(fmax(0, (ss - s * s / k) / (k - 1))) : NAN;
        lv->cpu_per_service = lv->cpu_mean / lv->n;
        lv->mem_per_service = mem / k / lv->n;
        lv->threads_per_service = thr / k / lv->n;
        lv->wakeups_per_s = wk / k;
        for (size_t t = 0; t < r->ntasks && lv->task_mean; t++)
            lv->task_mean[t] /= k;
        lv->marginal = an->fit.b + 2 * an->fit.c * lv->n;
        lv->fitted = an->fit.a + an->fit.b * lv->n + an->fit.c * lv->n * lv->n;
    }
    free(ns);
}

static void fit_tasks(struct analysis *an)
{
    struct results *r = &an->res;
    an->ntasks = r->ntasks + 1;
    an->tasks = calloc(an->ntasks, sizeof(struct task_fit));
    double *y = malloc((an->nobs ? an->nobs : 1) * sizeof(double));
    double *rem = malloc((an->nobs ? an->nobs : 1) * sizeof(double));
    if (!an->tasks || !y || !rem) {
        an->ntasks = 0;
        free(y);
        free(rem);
        return;
    }
    memcpy(rem, an->y, an->nobs * sizeof(double));
    for (size_t t = 0; t <= r->ntasks; t++) {
        struct task_fit *tf = &an->tasks[t];
        if (t < r->ntasks) {
            tf->name = r->task_names[t];
            for (size_t i = 0; i < an->nobs; i++) {
                y[i] = 100.0 * r->points[an->obs_point[i]].task_cpu[t];
                rem[i] -= y[i];
            }
        } else {
            tf->name = "(not in any task counter)";
            tf->is_remainder = true;
            memcpy(y, rem, an->nobs * sizeof(double));
        }
        fit_apply(&an->design, y, &tf->fit);
        fit_set_confidence(&tf->fit, an->look_confidence);
        if (an->weighted)
            model_penalise_estimated_weights(&tf->fit);
        tf->share = an->fit.c != 0 ? tf->fit.c / an->fit.c : NAN;
    }
    free(y);
    free(rem);
}

static void write_sentence(struct analysis *an)
{
    const struct model_verdict *v = &an->verdict;
    const char *who = an->res.target_name;
    char ratio[160] = "";
    if (an->nlevels >= 2 && isfinite(an->cpu_ratio))
        snprintf(ratio, sizeof(ratio),
                 " CPU per service goes from %.3g%% at %g services to %.3g%% at %g (x%.2f).",
                 an->levels[0].cpu_per_service, an->levels[0].n,
                 an->levels[an->nlevels - 1].cpu_per_service, an->levels[an->nlevels - 1].n,
                 an->cpu_ratio);
    if (v->kind == MODEL_SUPERLINEAR) {
        if (v->material_defined)
            snprintf(an->sentence, sizeof(an->sentence),
                     "%s's CPU grows faster than linearly with the number of services: at %g "
                     "services one more service costs %.3g%% CPU, %.0f%% more than the linear "
                     "part alone (%.3g%%); the quadratic term is significant (t = %.1f).%s",
                     who, v->n_max, an->fit.b + 2 * an->fit.c * v->n_max, 100 * v->material_share,
                     an->fit.b, an->fit.c_t, ratio);
        else
            snprintf(an->sentence, sizeof(an->sentence),
                     "%s's CPU grows faster than linearly with the number of services: all of "
                     "its growth is in the quadratic term (t = %.1f).%s",
                     who, an->fit.c_t, ratio);
    } else if (v->kind == MODEL_LINEAR) {
        char bound[200];
        if (v->linear_by && strcmp(v->linear_by, "share") == 0)
            snprintf(bound, sizeof(bound),
                     "any super-linear term is at most %.1f%% of its cost at %g services (the "
                     "floor is %.0f%%)",
                     100 * fmax(0, v->sl_share_hi), v->n_max, 100 * v->share_floor);
        else if (v->linear_by && strcmp(v->linear_by, "absolute") == 0)
            snprintf(bound, sizeof(bound),
                     "any super-linear term costs at most %.2f%% of a core at %g services (the "
                     "floor is %.2g%%)",
                     fmax(0, v->sl_abs_hi), v->n_max, v->abs_floor);
        else
            snprintf(bound, sizeof(bound),
                     "any super-linear term is at most %.0f%% of that at %g services (the floor "
                     "is %.0f%%)",
                     isfinite(v->c_hi_share) ? 100 * fmax(0, v->c_hi_share) : 0.0, v->n_max,
                     100 * v->floor);
        snprintf(an->sentence, sizeof(an->sentence),
                 "%s's CPU grows linearly with the number of services: %.3g%% CPU per added "
                 "service, and %s.%s",
                 who, an->fit.b, bound, ratio);
    } else {
        char det[160] = "";
        if (isfinite(v->detectable_share))
            snprintf(det, sizeof(det),
                     " It could only have detected a super-linear term worth at least %.0f%% "
                     "of the cost at %g services; add repeats or widen the range of N.",
                     100 * v->detectable_share, v->n_max);
        snprintf(an->sentence, sizeof(an->sentence),
                 "This sweep cannot tell whether %s's CPU grows faster than linearly (%s).%s%s",
                 who, v->reason, det, ratio);
    }
}

int analysis_run(const char *root, double floor, double confidence, struct analysis *an,
                 struct buf *err)
{
    struct model_floors floors = {floor, 0, 0};
    return analysis_run_with(root, &floors, confidence, NULL, an, err);
}

int analysis_run_with(const char *root, const struct model_floors *floors, double confidence,
                      const char *own_regex, struct analysis *an, struct buf *err)
{
    memset(an, 0, sizeof(*an));
    an->floor = floors->relative > 0 ? floors->relative : MODEL_DEFAULT_FLOOR;
    an->share_floor = floors->share;
    an->abs_floor = floors->abs;
    an->own_regex = own_regex;
    if (results_load(root, &an->res, err) != 0)
        return -1;
    struct results *r = &an->res;
    an->confidence = confidence > 0 && confidence < 1 ? confidence
                     : r->seq.on                      ? r->seq.confidence
                                                      : FIT_DEFAULT_CONFIDENCE;
    an->look_confidence = an->confidence;
    if (r->seq.on) {
        /* The same correction the sweep stopped by: at the sweep's own level
         * the verdict is the one of its last look. */
        struct seq_design d = {r->seq.first_rounds, r->seq.max_rounds};
        an->look_confidence = seq_look_confidence(&d, an->confidence);
        if (!isfinite(an->look_confidence)) {
            buf_printf(err, "%s/sweep.json: sequential design of %d to %d rounds is not usable",
                       r->root, r->seq.first_rounds, r->seq.max_rounds);
            return -1;
        }
    }
    size_t cap = r->count ? r->count : 1;
    an->n = malloc(cap * sizeof(double));
    an->y = malloc(cap * sizeof(double));
    an->w = malloc(cap * sizeof(double));
    an->obs_point = malloc(cap * sizeof(size_t));
    if (!an->n || !an->y || !an->w || !an->obs_point) {
        buf_puts(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->count; i++) {
        if (!point_usable(&r->points[i]))
            continue;
        an->n[an->nobs] = r->points[i].services;
        an->y[an->nobs] = 100.0 * r->points[i].cpu_s_per_s;
        an->obs_point[an->nobs++] = i;
    }
    an->weighted = model_weights(an->n, an->y, an->nobs, an->w);
    an->design_ok = fit_prepare(&an->design, an->n, an->w, an->nobs) == 0;
    an->a_held_at_zero = model_fit_total(&an->design, an->y, an->weighted, &an->fit, &an->free_a);
    fit_set_confidence(&an->fit, an->look_confidence);
    struct model_floors used = {an->floor, an->share_floor, an->abs_floor};
    model_judge(&an->fit, an->design.distinct, an->design.n_min, an->design.n_max, &used,
                &an->verdict);
    build_levels(an);
    an->cpu_ratio = NAN;
    if (an->nlevels >= 2 && an->levels[0].cpu_per_service > 0)
        an->cpu_ratio = an->levels[an->nlevels - 1].cpu_per_service / an->levels[0].cpu_per_service;
    /* Exponent of the cost above the fixed overhead when that is positive
     * everywhere; else of the whole cost (which understates it). */
    an->exponent.k = an->exponent.k_lo = an->exponent.k_hi = NAN;
    if (an->design_ok && fit_power_law(an->n, an->y, an->weighted ? an->w : NULL, an->nobs,
                                       an->fit.a, &an->exponent) == 0) {
        an->exponent_ok = an->exponent_above_overhead = true;
    } else if (fit_power_law(an->n, an->y, an->weighted ? an->w : NULL, an->nobs, 0,
                             &an->exponent) == 0) {
        an->exponent_ok = true;
    }
    fit_tasks(an);
    write_sentence(an);
    return 0;
}

void analysis_free(struct analysis *an)
{
    for (size_t l = 0; l < an->nlevels; l++)
        free(an->levels[l].task_mean);
    free(an->levels);
    free(an->tasks);
    free(an->n);
    free(an->y);
    free(an->w);
    free(an->obs_point);
    fit_design_free(&an->design);
    results_free(&an->res);
    memset(an, 0, sizeof(*an));
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_json_file(json_t *doc, const char *dir, const char *name, struct buf *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0) {
        buf_printf(err, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static const char analyze_usage[] =
    "usage: scaleprof analyze RESULTS [--out DIR] [--floor X] [--share-floor X]\n"
    "                         [--cpu-floor X] [--confidence P] [--own REGEX]\n"
    "\n"
    "Fits total CPU C(N) = a + bN + cN^2 over the sweep in RESULTS, says whether the\n"
    "cost per service grows, names the functions that make it grow, and writes\n"
    "report.json, report.md, index.html and the plots.\n"
    "\n"
    "  --out DIR         where the report goes (default RESULTS/report)\n"
    "  --floor X         materiality floor of 2cNmax/b, > 0 (default 0.2)\n"
    "  --share-floor X   materiality floor of cNmax^2 / C(Nmax), > 0 (default 0.1)\n"
    "  --cpu-floor X     materiality floor of cNmax^2 in % of one core, > 0 (default 1)\n"
    "  --confidence P    one-sided level of the test of c, in [0.5, 1) (default 0.95;\n"
    "                    for a sweep run --until-decided, the level it decided at)\n"
    "  --own REGEX       functions whose names match are the program's own code, the\n"
    "                    ones the culprit is named by (default: native code in the main\n"
    "                    executable; Go code outside the standard library and runtime)\n"
    "Exit: 0 ok, 2 unusable input or usage.\n";

enum {
    ANALYZE_OPT_OUT = 256,
    ANALYZE_OPT_FLOOR,
    ANALYZE_OPT_CONFIDENCE,
    ANALYZE_OPT_OWN,
    ANALYZE_OPT_SHARE_FLOOR,
    ANALYZE_OPT_CPU_FLOOR
};

static const struct option analyze_options[] = {
    {"out", required_argument, NULL, ANALYZE_OPT_OUT},
    {"floor", required_argument, NULL, ANALYZE_OPT_FLOOR},
    {"confidence", required_argument, NULL, ANALYZE_OPT_CONFIDENCE},
    {"own", required_argument, NULL, ANALYZE_OPT_OWN},
    {"share-floor", required_argument, NULL, ANALYZE_OPT_SHARE_FLOOR},
    {"cpu-floor", required_argument, NULL, ANALYZE_OPT_CPU_FLOOR},
    {NULL, 0, NULL, 0},
};

int cmd_analyze(int argc, char **argv)
{
    const char *root = NULL, *out = NULL, *own = NULL;
    double floor = MODEL_DEFAULT_FLOOR, confidence = 0; /* 0: the sweep's, else 0.95 */
    double share_floor = MODEL_DEFAULT_SHARE_FLOOR, cpu_floor = MODEL_DEFAULT_ABS_FLOOR;
    struct opts o;
    opts_init(&o, "analyze", analyze_usage, analyze_options, NULL, argc, argv);
    for (int c; (c = opts_next(&o)) != OPTS_END;) {
        int rc = 0;
        switch (c) {
        case OPTS_STOP:
            return o.exit;
        case OPTS_ARG:
            if (root)
                return opts_error(&o, "unexpected argument '%s' (RESULTS is '%s')", o.arg, root);
            root = o.arg;
            break;
        case ANALYZE_OPT_OUT:
            out = o.arg;
            break;
        case ANALYZE_OPT_FLOOR:
            rc = opts_number(&o, "a number", 0, INFINITY, OPTS_OPEN_LO, &floor);
            break;
        case ANALYZE_OPT_CONFIDENCE:
            rc = opts_number(&o, "a level", 0.5, 1, OPTS_OPEN_HI, &confidence);
            break;
        case ANALYZE_OPT_OWN:
            own = o.arg;
            break;
        case ANALYZE_OPT_SHARE_FLOOR:
            rc = opts_number(&o, "a share", 0, 1, OPTS_OPEN_LO, &share_floor);
            break;
        case ANALYZE_OPT_CPU_FLOOR:
            rc = opts_number(&o, "% of one core", 0, INFINITY, OPTS_OPEN_LO, &cpu_floor);
            break;
        }
        if (rc < 0)
            return OPTS_USAGE;
    }
    if (!root)
        return opts_error(&o, "RESULTS (a results folder) is required");
    struct buf err, md_extra, html_extra;
    buf_init(&err, 1 << 16);
    buf_init(&md_extra, 1 << 24);
    buf_init(&html_extra, 1 << 24);
    struct analysis an;
    int rc = 0;
    char outdir[4096];
    struct model_floors floors = {floor, share_floor, cpu_floor};
    if (analysis_run_with(root, &floors, confidence, own, &an, &err) != 0) {
        fprintf(stderr, "analyze: %s\n", err.data ? err.data : "cannot read results");
        rc = 2;
        goto done;
    }
    snprintf(outdir, sizeof(outdir), "%s", out ? out : an.res.root);
    if (!out)
        snprintf(outdir + strlen(outdir), sizeof(outdir) - strlen(outdir), "/report");
    if (mkdir_p(outdir) != 0) {
        fprintf(stderr, "analyze: cannot create %s: %s\n", outdir, strerror(errno));
        rc = 2;
        goto done;
    }
    /* Attribution first: it leaves the data of the functions plot. */
    json_t *functions = json_array(), *extra = json_object();
    if (report_functions(&an, outdir, functions, extra, &md_extra, &html_extra, &err) != 0) {
        fprintf(stderr, "analyze: attribution failed (%s); the report has no functions\n",
                err.data ? err.data : "?");
        buf_printf(&md_extra, "\nFunctions: not attributed (%s).\n", err.data ? err.data : "?");
        buf_reset(&err);
    }
    static const struct {
        const char *name;
        int (*write)(const struct analysis *, json_t *, struct buf *, struct buf *, struct buf *);
    } sections[] = {
        {"heap", report_heap},
        {"threads and goroutines", report_roles},
        {"contention", report_contention},
    };
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
        if (sections[s].write(&an, extra, &md_extra, &html_extra, &err) != 0) {
            fprintf(stderr, "analyze: %s: %s\n", sections[s].name, err.data ? err.data : "failed");
            buf_reset(&err);
        }
    struct plot_set plots;
    if (plot_render(&an, outdir, &plots, &err) != 0) {
        fprintf(stderr, "analyze: plots: %s\n", err.data ? err.data : "failed");
        buf_reset(&err);
    }
    json_t *doc = report_json(&an, functions, &plots);
    if (doc)
        json_object_update(doc, extra); /* additional keys only; stable ones unchanged */
    json_decref(extra);
    if (!doc || write_json_file(doc, outdir, "report.json", &err) != 0) {
        rc = 2;
    } else {
        char path[4200];
        snprintf(path, sizeof(path), "%s/report.md", outdir);
        if (report_write_md(&an, &plots, md_extra.data, path, &err) != 0)
            rc = 2;
        snprintf(path, sizeof(path), "%s/index.html", outdir);
        if (rc == 0 && report_write_html(&an, &plots, outdir, html_extra.data, path, &err) != 0)
            rc = 2;
    }
    json_decref(doc);
    if (rc != 0) {
        fprintf(stderr, "analyze: %s\n", err.data ? err.data : "cannot write the report");
        goto done;
    }
    report_print_table(&an, stdout);
    if (!plots.done)
        printf("plots skipped: %s\n", plots.note);
    printf("report: %s/index.html\n", outdir);
    if (an.res.usable == 0 || an.design.distinct < 3) {
        /* a report was written, but too few points remain for the model */
        fprintf(stderr,
                "analyze: unusable input: %zu usable point(s) at %zu distinct N "
                "(need 3); see the point list above\n",
                an.res.usable, an.design.distinct);
        rc = 2;
    }
done:
    analysis_free(&an);
    buf_free(&err);
    buf_free(&md_extra);
    buf_free(&html_extra);
    return rc;
}
