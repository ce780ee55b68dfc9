/*
 * gate: `scaleprof gate RESULTS [--baseline FILE|DIR] [--max-ratio X]
 * [--junit FILE] [--floor X] [--min-change X] [--confidence P]
 * [--write-baseline FILE]`.
 * The CI regression gate on CPU per service. Exit 0 pass, 1 regression,
 * 2 unusable input. The rules and the baseline format are in
 * analysis/README.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "buf.h"
#include "commands.h"
#include "opts.h"

#define BASELINE_MAX_LEVELS 256
/* superlinear, per_service_cpu_ratio, one baseline_N<n> per N compared (at
 * most the baseline's levels), baseline_c: every check has a slot, so none
 * (a failure least of all) is overwritten by a later one. */
#define GATE_MAX_CHECKS (BASELINE_MAX_LEVELS + 3)
/* A gate runs on every change, so it asks for stronger evidence than the
 * report's 95%: a target whose per-service cost is too small to weigh c
 * against (b <= 0) fails a 95% test one sweep in twenty by chance alone. */
#define GATE_DEFAULT_CONFIDENCE 0.99

struct check {
    char name[64];
    bool failed;
    char msg[300];
};

struct gate {
    struct check checks[GATE_MAX_CHECKS];
    size_t count;
};

static struct check *gate_add(struct gate *g, const char *name, bool failed)
{
    if (g->count >= GATE_MAX_CHECKS) { /* not reached (see GATE_MAX_CHECKS); a failure sticks */
        struct check *last = &g->checks[GATE_MAX_CHECKS - 1];
        failed = failed || last->failed;
        g->count = GATE_MAX_CHECKS - 1;
    }
    struct check *c = &g->checks[g->count++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->failed = failed;
    c->msg[0] = 0;
    return c;
}

/* Baseline: per-N mean of log(CPU per service), the noise of that log, and the
 * fitted b and c with errors. Built from a sweep folder or a baseline file. */
struct base_level {
    double n, log_mean, cpu_per_service;
    size_t repeats;
};
struct baseline {
    struct base_level lv[BASELINE_MAX_LEVELS];
    size_t count;
    double log_ss, log_dof; /* within-N sum of squares of log CPU/service and its dof */
    double b, c, b_se, c_se, fit_dof, n_max;
};

static void baseline_from(const struct analysis *an, struct baseline *bl)
{
    memset(bl, 0, sizeof(*bl));
    for (size_t l = 0; l < an->nlevels && bl->count < BASELINE_MAX_LEVELS; l++) {
        struct base_level *b = &bl->lv[bl->count++];
        b->n = an->levels[l].n;
        b->cpu_per_service = an->levels[l].cpu_per_service;
        double s = 0;
        size_t k = 0;
        for (size_t i = 0; i < an->nobs; i++)
            if (an->n[i] == b->n && an->y[i] > 0) {
                s += log(an->y[i] / an->n[i]);
                k++;
            }
        b->repeats = k;
        b->log_mean = k ? s / (double)k : NAN;
        for (size_t i = 0; i < an->nobs; i++)
            if (an->n[i] == b->n && an->y[i] > 0) {
                double d = log(an->y[i] / an->n[i]) - b->log_mean;
                bl->log_ss += d * d;
            }
        if (k > 1)
            bl->log_dof += (double)(k - 1);
    }
    if (bl->log_dof == 0 && an->fit.dof > 0 && isfinite(an->fit.sigma2)) {
        /* No repeats: the relative noise is the spread of log(observed /
         * fitted) around the quadratic fit. */
        double ss = 0;
        for (size_t i = 0; i < an->nobs; i++) {
            double fitted = an->fit.a + an->fit.b * an->n[i] + an->fit.c * an->n[i] * an->n[i];
            if (fitted > 0 && an->y[i] > 0)
                ss += pow(log(an->y[i] / fitted), 2);
        }
        double rel = sqrt(ss / an->fit.dof);
        bl->log_ss = rel * rel * an->fit.dof;
        bl->log_dof = an->fit.dof;
    }
    bl->b = an->fit.b;
    bl->c = an->fit.c;
    bl->b_se = an->fit.b_se;
    bl->c_se = an->fit.c_se;
    bl->fit_dof = an->fit.dof;
    bl->n_max = an->design.n_max;
}

static json_t *baseline_json(const struct baseline *bl, const char *target)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "scaleprof_baseline", json_integer(1));
    json_object_set_new(doc, "target", json_string(target));
    json_t *fit = json_object();
    json_object_set_new(fit, "b", report_real(bl->b));
    json_object_set_new(fit, "c", report_real(bl->c));
    json_object_set_new(fit, "b_se", report_real(bl->b_se));
    json_object_set_new(fit, "c_se", report_real(bl->c_se));
    json_object_set_new(fit, "dof", report_real(bl->fit_dof));
    json_object_set_new(fit, "n_max", report_real(bl->n_max));
    json_object_set_new(doc, "fit", fit);
    json_t *noise = json_object();
    json_object_set_new(noise, "log_sd",
                        report_real(bl->log_dof > 0 ? sqrt(bl->log_ss / bl->log_dof) : NAN));
    json_object_set_new(noise, "dof", report_real(bl->log_dof));
    json_object_set_new(doc, "noise", noise);
    json_t *lv = json_array();
    for (size_t i = 0; i < bl->count; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "services", report_real(bl->lv[i].n));
        json_object_set_new(o, "repeats", json_integer((json_int_t)bl->lv[i].repeats));
        json_object_set_new(o, "cpu_per_service", report_real(bl->lv[i].cpu_per_service));
        json_object_set_new(o, "log_cpu_per_service", report_real(bl->lv[i].log_mean));
        json_array_append_new(lv, o);
    }
    json_object_set_new(doc, "levels", lv);
    return doc;
}

static double jget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int baseline_load_file(const char *path, struct baseline *bl, struct buf *err)
{
    memset(bl, 0, sizeof(*bl));
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        buf_printf(err, "%s:%d: %s", path, je.line, je.text);
        return -1;
    }
    json_t *fit = json_object_get(doc, "fit"), *noise = json_object_get(doc, "noise");
    json_t *lv = json_object_get(doc, "levels");
    if (jget(doc, "scaleprof_baseline") != 1 || !json_is_object(fit) || !json_is_array(lv)) {
        buf_printf(err, "%s: not a scaleprof baseline (version 1)", path);
        json_decref(doc);
        return -1;
    }
    bl->b = jget(fit, "b");
    bl->c = jget(fit, "c");
    bl->b_se = jget(fit, "b_se");
    bl->c_se = jget(fit, "c_se");
    bl->fit_dof = jget(fit, "dof");
    bl->n_max = jget(fit, "n_max");
    double sd = jget(noise, "log_sd"), dof = jget(noise, "dof");
    if (isfinite(sd) && dof > 0) {
        bl->log_ss = sd * sd * dof;
        bl->log_dof = dof;
    }
    for (size_t i = 0; i < json_array_size(lv) && bl->count < BASELINE_MAX_LEVELS; i++) {
        json_t *o = json_array_get(lv, i);
        struct base_level *b = &bl->lv[bl->count];
        b->n = jget(o, "services");
        b->log_mean = jget(o, "log_cpu_per_service");
        b->cpu_per_service = jget(o, "cpu_per_service");
        double r = jget(o, "repeats");
        b->repeats = r > 0 ? (size_t)r : 1;
        if (isfinite(b->n) && isfinite(b->log_mean))
            bl->count++;
    }
    json_decref(doc);
    return 0;
}

/* Compares cur with base: per N, is log(CPU/service) higher beyond the noise
 * (one-sided t on the difference of means, pooled within-N noise of both,
 * Bonferroni over the N compared) and by more than min_change? Then: did c
 * grow significantly and materially? Returns -1 when no noise estimate exists. */
static int compare_baseline(const struct baseline *cur, const struct baseline *base,
                            double min_change, double floor, double confidence, struct gate *g,
                            struct buf *err)
{
    double dof = cur->log_dof + base->log_dof;
    if (!(dof > 0)) {
        buf_puts(err, "no noise estimate in either sweep: repeat points (--repeat 3)");
        return -1;
    }
    double s = sqrt((cur->log_ss + base->log_ss) / dof);
    size_t shared = 0;
    for (size_t i = 0; i < cur->count; i++)
        for (size_t j = 0; j < base->count; j++)
            shared += cur->lv[i].n == base->lv[j].n;
    if (shared == 0) {
        buf_puts(err, "the baseline has none of this sweep's service counts");
        return -1;
    }
    double crit = t_quantile(1.0 - (1.0 - confidence) / (double)shared, dof);
    for (size_t i = 0; i < cur->count; i++) {
        const struct base_level *c = &cur->lv[i], *b = NULL;
        for (size_t j = 0; j < base->count; j++)
            if (base->lv[j].n == c->n)
                b = &base->lv[j];
        if (!b)
            continue;
        double d = c->log_mean - b->log_mean;
        double se = s * sqrt(1.0 / (double)c->repeats + 1.0 / (double)b->repeats);
        double t = se > 0 ? d / se : (d > 0 ? INFINITY : 0);
        bool worse = t > crit && exp(d) - 1.0 > min_change;
        char name[64];
        snprintf(name, sizeof(name), "baseline_N%g", c->n);
        struct check *ck = gate_add(g, name, worse);
        snprintf(ck->msg, sizeof(ck->msg),
                 "N=%g: CPU/service %.4g%% vs baseline %.4g%% (%+.1f%%, t=%.2f, critical %.2f, "
                 "noise %.1f%%)",
                 c->n, exp(c->log_mean), exp(b->log_mean), 100 * (exp(d) - 1), t, crit, 100 * s);
    }
    if (isfinite(base->c) && isfinite(base->c_se) && isfinite(cur->c_se) && base->b > 0) {
        double dc = cur->c - base->c, se = sqrt(cur->c_se * cur->c_se + base->c_se * base->c_se);
        double fdof = fmin(cur->fit_dof, base->fit_dof);
        double tc = fdof > 0 ? t_quantile(confidence, fdof) : INFINITY;
        double t = se > 0 ? dc / se : 0;
        double share = 2 * dc * cur->n_max / base->b;
        struct check *ck = gate_add(g, "baseline_c", t > tc && share > floor);
        snprintf(ck->msg, sizeof(ck->msg),
                 "quadratic term c %.4g vs baseline %.4g (t=%.2f, critical %.2f; adds %.0f%% "
                 "to the marginal cost at N=%g, floor %.0f%%)",
                 cur->c, base->c, t, tc, 100 * share, cur->n_max, 100 * floor);
    }
    return 0;
}

static int write_junit(const char *path, const struct gate *g, const char *unusable)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t failures = 0;
    for (size_t i = 0; i < g->count; i++)
        failures += g->checks[i].failed;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
            "<testsuite name=\"scaleprof-gate\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"%d\">\n",
            g->count + (unusable ? 1 : 0), failures, unusable ? 1 : 0);
    if (unusable) {
        fputs("<testcase classname=\"scaleprof.gate\" name=\"input\"><error message=\"", f);
        buf_fput_xml_escaped(f, unusable, strlen(unusable));
        fputs("\"/></testcase>\n", f);
    }
    for (size_t i = 0; i < g->count; i++) {
        const struct check *c = &g->checks[i];
        fprintf(f, "<testcase classname=\"scaleprof.gate\" name=\"%s\">", c->name);
        if (c->failed) {
            fputs("<failure message=\"", f);
            buf_fput_xml_escaped(f, c->msg, strlen(c->msg));
            fputs("\"/>", f);
        } else {
            fputs("<system-out>", f);
            buf_fput_xml_escaped(f, c->msg, strlen(c->msg));
            fputs("</system-out>", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("</testsuite>\n</testsuites>\n", f);
    return fclose(f);
}

static const char gate_usage[] =
    "usage: scaleprof gate RESULTS [--baseline FILE|DIR] [--max-ratio X] [--junit FILE]\n"
    "                      [--floor X] [--min-change X] [--confidence P]\n"
    "                      [--write-baseline FILE]\n"
    "\n"
    "The CI gate on CPU per service: fails on a significant super-linear term, and\n"
    "against a baseline on a per-N rise beyond the noise or a grown quadratic term.\n"
    "\n"
    "  --baseline FILE|DIR   a baseline file (--write-baseline) or an earlier sweep\n"
    "  --max-ratio X         fail when CPU per service at the largest N is more than X\n"
    "                        times that at the smallest (X >= 0; off by default)\n"
    "  --junit FILE          also write the checks as JUnit XML\n"
    "  --floor X             materiality floor of 2cNmax/b, >= 0 (default 0.2)\n"
    "  --min-change X        smallest relative rise per N that fails, >= 0 (default 0.10)\n"
    "  --confidence P        one-sided level of every test, in [0.5, 1) (default 0.99)\n"
    "  --write-baseline FILE write this sweep as a baseline\n"
    "Exit: 0 pass, 1 regression, 2 unusable input or usage.\n";

enum {
    GATE_OPT_BASELINE = 256,
    GATE_OPT_JUNIT,
    GATE_OPT_WRITE_BASELINE,
    GATE_OPT_MAX_RATIO,
    GATE_OPT_FLOOR,
    GATE_OPT_MIN_CHANGE,
    GATE_OPT_CONFIDENCE,
};

static const struct option gate_options[] = {
    {"baseline", required_argument, NULL, GATE_OPT_BASELINE},
    {"junit", required_argument, NULL, GATE_OPT_JUNIT},
    {"write-baseline", required_argument, NULL, GATE_OPT_WRITE_BASELINE},
    {"max-ratio", required_argument, NULL, GATE_OPT_MAX_RATIO},
    {"floor", required_argument, NULL, GATE_OPT_FLOOR},
    {"min-change", required_argument, NULL, GATE_OPT_MIN_CHANGE},
    {"confidence", required_argument, NULL, GATE_OPT_CONFIDENCE},
    {NULL, 0, NULL, 0},
};

int cmd_gate(int argc, char **argv)
{
    const char *root = NULL, *baseline = NULL, *junit = NULL, *write_bl = NULL;
    double max_ratio = NAN, floor = MODEL_DEFAULT_FLOOR, min_change = 0.10;
    double confidence = GATE_DEFAULT_CONFIDENCE;
    struct opts o;
    opts_init(&o, "gate", gate_usage, gate_options, NULL, argc, argv);
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
        case GATE_OPT_BASELINE:
            baseline = o.arg;
            break;
        case GATE_OPT_JUNIT:
            junit = o.arg;
            break;
        case GATE_OPT_WRITE_BASELINE:
            write_bl = o.arg;
            break;
        case GATE_OPT_MAX_RATIO:
            rc = opts_number(&o, "a number", 0, INFINITY, 0, &max_ratio);
            break;
        case GATE_OPT_FLOOR:
            rc = opts_number(&o, "a number", 0, INFINITY, 0, &floor);
            break;
        case GATE_OPT_MIN_CHANGE:
            rc = opts_number(&o, "a number", 0, INFINITY, 0, &min_change);
            break;
        case GATE_OPT_CONFIDENCE:
            rc = opts_number(&o, "a level", 0.5, 1, OPTS_OPEN_HI, &confidence);
            break;
        }
        if (rc < 0)
            return OPTS_USAGE;
    }
    if (!root)
        return opts_error(&o, "RESULTS (a results folder) is required");
    struct gate g = {.count = 0};
    struct buf err, why;
    buf_init(&err, 1 << 16);
    buf_init(&why, 1 << 16);
    struct analysis an, ban;
    memset(&ban, 0, sizeof(ban));
    int rc = 0;
    if (analysis_run(root, floor, confidence, &an, &err) != 0) {
        buf_printf(&why, "cannot read %s: %s", root, err.data ? err.data : "?");
        rc = 2;
        goto report;
    }
    for (size_t i = 0; i < an.res.count; i++) {
        const struct point *p = &an.res.points[i];
        if (!point_usable(p))
            buf_printf(&why, "%sN=%d repeat %d is %s (%s)", why.len ? "; " : "", p->services,
                       p->repeat, p->status, p->reason);
    }
    if (an.design.distinct < 3)
        buf_printf(&why, "%sonly %zu distinct service counts are usable; the model needs 3",
                   why.len ? "; " : "", an.design.distinct);
    if (why.len) {
        rc = 2;
        goto report;
    }
    struct check *ck = gate_add(&g, "superlinear", an.verdict.kind == MODEL_SUPERLINEAR);
    snprintf(ck->msg, sizeof(ck->msg), "verdict %s: %s", an.verdict.name, an.verdict.reason);
    if (!isnan(max_ratio)) {
        ck = gate_add(&g, "per_service_cpu_ratio", !(an.cpu_ratio <= max_ratio));
        snprintf(ck->msg, sizeof(ck->msg),
                 "CPU per service at N=%g is %.3f x that at N=%g "
                 "(bound %.3f)",
                 an.design.n_max, an.cpu_ratio, an.design.n_min, max_ratio);
    }
    struct baseline cur, base;
    baseline_from(&an, &cur);
    if (baseline) {
        struct stat st;
        int lrc;
        if (stat(baseline, &st) == 0 && S_ISDIR(st.st_mode)) {
            lrc = analysis_run(baseline, floor, confidence, &ban, &err);
            if (lrc == 0)
                baseline_from(&ban, &base);
        } else {
            lrc = baseline_load_file(baseline, &base, &err);
        }
        if (lrc != 0 ||
            compare_baseline(&cur, &base, min_change, floor, confidence, &g, &err) != 0) {
            buf_printf(&why, "baseline %s unusable: %s", baseline, err.data ? err.data : "?");
            rc = 2;
            goto report;
        }
    }
    if (write_bl) {
        json_t *doc = baseline_json(&cur, an.res.target_name);
        if (json_dump_file(doc, write_bl, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
            fprintf(stderr, "gate: cannot write %s: %s\n", write_bl, strerror(errno));
        else
            printf("baseline written to %s\n", write_bl);
        json_decref(doc);
    }
    for (size_t i = 0; i < g.count; i++)
        if (g.checks[i].failed)
            rc = 1;
report:
    printf("scaleprof gate: %s\n", rc == 0   ? "PASS"
                                   : rc == 1 ? "FAIL (regression)"
                                             : "UNUSABLE INPUT");
    if (rc == 2)
        printf("  %s\n", why.data ? why.data : "");
    for (size_t i = 0; i < g.count; i++)
        printf("  [%s] %s: %s\n", g.checks[i].failed ? "FAIL" : " ok ", g.checks[i].name,
               g.checks[i].msg);
    if (rc != 2) {
        printf("  %s\n", an.sentence);
        char seq[400];
        report_sequential_line(&an, seq, sizeof(seq));
        if (seq[0])
            printf("  %s\n", seq);
    }
    if (junit && write_junit(junit, &g, rc == 2 ? (why.data ? why.data : "unusable") : NULL))
        fprintf(stderr, "gate: cannot write %s\n", junit);
    analysis_free(&an);
    analysis_free(&ban);
    buf_free(&err);
    buf_free(&why);
    return rc;
}
