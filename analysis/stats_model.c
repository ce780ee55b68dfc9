/*
 * stats_model: weights from repeats and the verdict rules of analysis/README.md.
 */
#include "stats_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool model_weights(const double *n, const double *y, size_t count, double *w)
{
    for (size_t i = 0; i < count; i++)
        w[i] = 1.0;
    if (count < 2)
        return false;
    /* Group observations by N (count is small: a quadratic scan is fine). */
    double *gn = calloc(count, sizeof(double)), *gmean = calloc(count, sizeof(double));
    double *gvar = calloc(count, sizeof(double));
    size_t *gcnt = calloc(count, sizeof(size_t));
    size_t groups = 0;
    bool weighted = false;
    if (!gn || !gmean || !gvar || !gcnt)
        goto out;
    for (size_t i = 0; i < count; i++) {
        size_t g = 0;
        while (g < groups && gn[g] != n[i])
            g++;
        if (g == groups)
            gn[groups++] = n[i];
        gcnt[g]++;
        gmean[g] += y[i];
    }
    for (size_t g = 0; g < groups; g++) {
        if (gcnt[g] < 2)
            goto out; /* some N without repeats: stay unweighted */
        gmean[g] /= (double)gcnt[g];
    }
    for (size_t i = 0; i < count; i++) {
        size_t g = 0;
        while (gn[g] != n[i])
            g++;
        double d = y[i] - gmean[g];
        gvar[g] += d * d / (double)(gcnt[g] - 1);
    }
    /* The level each group's variance is modelled on is the value of an
     * unweighted quadratic fit at that N, not the group's own mean: weights
     * built from the group means correlate with the very noise being tested
     * and push the false-alarm rate above its nominal 5%. */
    struct fit_design d;
    struct fit_result r0;
    if (fit_prepare(&d, n, NULL, count) != 0) {
        fit_design_free(&d);
        goto out;
    }
    fit_apply(&d, y, &r0);
    fit_design_free(&d);
    for (size_t g = 0; g < groups; g++)
        gmean[g] = r0.a + r0.b * gn[g] + r0.c * gn[g] * gn[g];
    /* Variance function var = s²·level^β, β by least squares on logs. Groups
     * with a zero variance or non-positive level carry no information on β. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    size_t used = 0;
    for (size_t g = 0; g < groups; g++) {
        if (!(gvar[g] > 0) || !(gmean[g] > 0))
            continue;
        double lx = log(gmean[g]), ly = log(gvar[g]);
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
        used++;
    }
    if (used < 2)
        goto out;
    double mx = sx / (double)used, my = sy / (double)used;
    double vxx = sxx / (double)used - mx * mx;
    double beta = vxx > 1e-12 ? (sxy / (double)used - mx * my) / vxx : 0.0;
    if (beta < 0)
        beta = 0;
    if (beta > 2)
        beta = 2;
    for (size_t g = 0; g < groups; g++)
        if (!(gmean[g] > 0))
            goto out;
    /* Only relative weights matter (sigma² is estimated from the residuals),
     * so s² is dropped; normalise to mean weight 1 for readable numbers. */
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        size_t g = 0;
        while (gn[g] != n[i])
            g++;
        w[i] = pow(gmean[g], -beta);
        sum += w[i];
    }
    for (size_t i = 0; i < count; i++)
        w[i] *= (double)count / sum;
    weighted = true;
out:
    if (!weighted)
        for (size_t i = 0; i < count; i++)
            w[i] = 1.0;
    free(gn);
    free(gmean);
    free(gvar);
    free(gcnt);
    return weighted;
}

void model_penalise_estimated_weights(struct fit_result *r)
{
    /* The weights' exponent β was estimated from the same data: one degree of
     * freedom fewer for the critical value keeps the false-alarm rate at its
     * nominal 5% instead of ~5.5% (measured over 20,000 seeded sweeps). */
    if (!(r->dof > 1) || !isfinite(r->c_se))
        return;
    r->t_dof = r->dof - 1.0;
    fit_set_confidence(r, r->confidence);
}

bool model_fit_total(struct fit_design *d, const double *y, bool weighted, struct fit_result *r,
                     double *free_a)
{
    fit_apply(d, y, r);
    if (free_a)
        *free_a = r->a;
    bool held = false;
    if (d->ok && !d->zero_a && r->a < 0 && fit_fix_a_at_zero(d) == 0) {
        fit_apply(d, y, r);
        held = true;
    }
    if (weighted)
        model_penalise_estimated_weights(r);
    return held;
}

/* The super-linear term t (c or its upper bound) matters by every notion:
 * relative to b, as a share of the cost at Nmax, and in absolute terms. With
 * b <= 0 the relative notion is undefined and a positive t counts. */
static bool matters(const struct model_verdict *v, double t, double rel, double share, double abs)
{
    if (!(t > 0))
        return false;
    bool by_rel = v->material_defined ? rel > v->floor : true;
    bool by_share = !isfinite(share) || share > v->share_floor;
    bool by_abs = !isfinite(v->abs_floor) || abs > v->abs_floor;
    return by_rel && by_share && by_abs;
}

void model_judge(const struct fit_result *r, size_t distinct, double n_min, double n_max,
                 const struct model_floors *floors, struct model_verdict *v)
{
    static const struct model_floors defaults = {MODEL_DEFAULT_FLOOR, MODEL_DEFAULT_SHARE_FLOOR,
                                                 MODEL_DEFAULT_ABS_FLOOR};
    if (!floors)
        floors = &defaults;
    memset(v, 0, sizeof(*v));
    v->kind = MODEL_INCONCLUSIVE;
    v->floor = floors->relative > 0 ? floors->relative : MODEL_DEFAULT_FLOOR;
    v->share_floor = floors->share > 0 ? floors->share : MODEL_DEFAULT_SHARE_FLOOR;
    v->abs_floor = isnan(floors->abs) ? NAN
                   : floors->abs > 0  ? floors->abs
                                      : MODEL_DEFAULT_ABS_FLOOR;
    v->n_min = n_min;
    v->n_max = n_max;
    v->material_share = v->c_hi_share = v->detectable_material = NAN;
    v->c_hi = v->detectable_c = v->detectable_share = NAN;
    v->sl_share = v->sl_share_hi = v->sl_abs = v->sl_abs_hi = NAN;
    if (distinct < 3) {
        v->name = "inconclusive";
        snprintf(v->reason, sizeof(v->reason),
                 "%zu distinct service count(s): a quadratic needs at least 3", distinct);
        return;
    }
    if (!isfinite(r->c_se) || !isfinite(r->t_crit)) {
        v->name = "inconclusive";
        snprintf(v->reason, sizeof(v->reason),
                 "no residual degrees of freedom: add repeats or service counts");
        return;
    }
    double nm = n_max, nm2 = n_max * n_max;
    v->material_defined = r->b > 0;
    if (v->material_defined)
        v->material_share = 2.0 * r->c * nm / r->b;
    v->c_hi = r->c + r->t_crit * r->c_se;
    v->detectable_c = r->t_crit * r->c_se;
    double cost_max = r->a + r->b * nm + r->c * nm * nm;
    if (cost_max > 0) {
        v->detectable_share = v->detectable_c * nm * nm / cost_max;
        /* Both against the fitted cost at Nmax, which the data pin down well
         * whatever the split between b and c (the N and N² columns are nearly
         * collinear over a narrow range: b rises as c falls). */
        v->sl_share = r->c * nm2 / cost_max;
        v->sl_share_hi = v->c_hi * nm2 / cost_max;
    }
    v->sl_abs = r->c * nm2;
    v->sl_abs_hi = v->c_hi * nm2;
    if (r->b > 0) {
        v->c_hi_share = 2.0 * v->c_hi * nm / r->b;
        v->detectable_material = 2.0 * v->detectable_c * nm / r->b;
    }
    v->material = matters(v, r->c, v->material_share, v->sl_share, v->sl_abs);

    /* Linear when the upper bound is immaterial by at least one notion. */
    if (!(v->c_hi > 0))
        v->linear_by = "relative";
    else if (r->b > 0 && v->c_hi_share <= v->floor)
        v->linear_by = "relative";
    else if (isfinite(v->sl_share_hi) && v->sl_share_hi <= v->share_floor)
        v->linear_by = "share";
    else if (isfinite(v->abs_floor) && v->sl_abs_hi <= v->abs_floor)
        v->linear_by = "absolute";

    if (r->c_significant && v->material) {
        v->kind = MODEL_SUPERLINEAR;
        if (v->material_defined)
            snprintf(v->reason, sizeof(v->reason),
                     "c significant (t=%.2f > %.2f, one-sided %g%%) and material "
                     "(2cNmax/b=%.2f > %.2f; c*Nmax^2 is %.0f%% of the cost at Nmax)",
                     r->c_t, r->t_crit, 100 * r->confidence, v->material_share, v->floor,
                     100 * v->sl_share);
        else
            snprintf(v->reason, sizeof(v->reason),
                     "c significant (t=%.2f > %.2f, one-sided %g%%) with b <= 0: all growth is "
                     "super-linear",
                     r->c_t, r->t_crit, 100 * r->confidence);
    } else if (v->linear_by) {
        /* The data exclude a c that matters: linear, whether or not a small c
         * is statistically significant (with enough data every tiny c is). */
        v->kind = MODEL_LINEAR;
        const char *why = r->c_significant ? "c significant but not material" : "c not significant";
        if (!(v->c_hi > 0))
            snprintf(v->reason, sizeof(v->reason), "c is not positive even at its upper bound");
        else if (strcmp(v->linear_by, "relative") == 0)
            snprintf(v->reason, sizeof(v->reason),
                     "%s; upper bound of c gives 2cNmax/b=%.2f <= %.2f", why, v->c_hi_share,
                     v->floor);
        else if (strcmp(v->linear_by, "share") == 0)
            snprintf(v->reason, sizeof(v->reason),
                     "%s; at its upper bound the super-linear part is %.1f%% of the cost at "
                     "Nmax <= %.0f%%",
                     why, 100 * v->sl_share_hi, 100 * v->share_floor);
        else
            snprintf(v->reason, sizeof(v->reason),
                     "%s; at its upper bound the super-linear part at Nmax is %.3g <= %.3g "
                     "(absolute floor)",
                     why, v->sl_abs_hi, v->abs_floor);
    } else {
        if (r->b <= 0)
            snprintf(v->reason, sizeof(v->reason),
                     "b <= 0 (%.3g): no linear part to weigh c against; c t=%.2f (critical "
                     "%.2f, one-sided %g%%)",
                     r->b, r->c_t, r->t_crit, 100 * r->confidence);
        else
            snprintf(v->reason, sizeof(v->reason),
                     "c t=%.2f (critical %.2f, one-sided %g%%); its upper bound would be "
                     "material (2cNmax/b=%.2f); smallest detectable c=%.3g (%.0f%% of cost at "
                     "Nmax)",
                     r->c_t, r->t_crit, 100 * r->confidence, v->c_hi_share, v->detectable_c,
                     100.0 * v->detectable_share);
    }
    v->name = v->kind == MODEL_SUPERLINEAR ? "superlinear"
              : v->kind == MODEL_LINEAR    ? "linear"
                                           : "inconclusive";
}

int model_fit_and_judge(const double *n, const double *y, size_t count,
                        const struct model_floors *floors, double confidence, struct fit_result *r,
                        struct model_verdict *v)
{
    double *w = malloc((count ? count : 1) * sizeof(double));
    if (!w)
        return -1;
    bool weighted = model_weights(n, y, count, w);
    struct fit_design d;
    int rc = fit_prepare(&d, n, w, count);
    model_fit_total(&d, y, weighted, r, NULL);
    fit_set_confidence(r, confidence);
    model_judge(r, d.distinct, d.n_min, d.n_max, floors, v);
    fit_design_free(&d);
    free(w);
    return rc;
}
