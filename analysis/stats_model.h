/*
 * stats_model: the decisions made on top of fit.h — observation weights from
 * the repeats, and the verdict (superlinear / linear / inconclusive) with the
 * smallest effect the sweep could have detected. Pure functions over arrays so
 * the false-alarm and power tests can run thousands of sweeps in milliseconds.
 */
#ifndef SCALEPROF_STATS_MODEL_H
#define SCALEPROF_STATS_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "fit.h"

#define MODEL_DEFAULT_FLOOR 0.2       /* 2cNmax/b */
#define MODEL_DEFAULT_SHARE_FLOOR 0.1 /* cNmax² / C(Nmax) */
#define MODEL_DEFAULT_ABS_FLOOR 1.0   /* cNmax², in y's units (analyze: % of one core) */

/* The three notions of "the super-linear term matters" (analysis/README.md,
 * "Materiality"). A value <= 0 selects the default.
 *   relative: 2cNmax / b, the super-linear part of the marginal cost at Nmax
 *             against the linear part;
 *   share:    cNmax² / C(Nmax), the super-linear part of the cost at Nmax as a
 *             share of the whole cost there;
 *   abs:      cNmax², the super-linear part of the cost at Nmax itself, in the
 *             units of y (percent of one core in analyze). NAN: not used (y
 *             has no absolute scale that means anything). */
struct model_floors {
    double relative, share, abs;
};

enum model_verdict_kind { MODEL_INCONCLUSIVE = 0, MODEL_LINEAR, MODEL_SUPERLINEAR };

/* Fills w[count] with weights 1/var(N) for observations y at service counts n.
 * Weighted only when every distinct N has >= 2 repeats: the per-N sample
 * variances are then smoothed by a variance function var = s²·mean^β (β fitted
 * on log var vs log mean across N, clamped to [0, 2]) because a variance from
 * 2–3 repeats is itself so noisy that weighting by it directly inflates false
 * alarms. Otherwise every weight is 1. Returns true when weighted. */
bool model_weights(const double *n, const double *y, size_t count, double *w);

/* Raises r->t_crit to dof - 1 (and re-decides c_significant) for a fit whose
 * weights came from model_weights: the variance exponent was estimated. */
void model_penalise_estimated_weights(struct fit_result *r);

/* Fits the total cost y over d: the free fit, and when its fixed cost a comes
 * out negative — which no process has; over N = 10..50 the N and N² columns
 * are nearly collinear and a negative a absorbs part of c — the fit with a
 * held at 0, which is the least-squares solution under a >= 0. d is switched
 * (fit_fix_a_at_zero) so later fits of parts of y use the same model and add
 * up. Applies the estimated-weights penalty when weighted. Returns true when
 * a was held at 0; *free_a (may be NULL) gets the free fit's a. */
bool model_fit_total(struct fit_design *d, const double *y, bool weighted, struct fit_result *r,
                     double *free_a);

struct model_verdict {
    enum model_verdict_kind kind;
    const char *name; /* "superlinear", "linear", "inconclusive" */
    double n_min, n_max;
    double floor;       /* relative floor used */
    double share_floor; /* share floor used */
    double abs_floor;   /* absolute floor used (NAN: none) */
    /* 2·c·Nmax / b: the super-linear part of the marginal cost at Nmax against
     * the linear part. Not defined (material_defined false) when b <= 0: then a
     * positive c is all there is of the growth and is counted as material. */
    double material_share;
    bool material_defined;
    bool material;
    double c_hi;       /* one-sided upper bound of c at the fit's confidence */
    double c_hi_share; /* 2·c_hi·Nmax / b (NAN when b <= 0) */
    /* The absolute notions (issue 17): the super-linear part of the cost at
     * Nmax, c·Nmax², as a share of the fitted cost there and in y's units;
     * at c's point estimate and at its upper bound c_hi. NAN when the fitted
     * cost at Nmax is not positive (share). */
    double sl_share, sl_share_hi;
    double sl_abs, sl_abs_hi;
    /* Which rule made a linear verdict: "relative", "share" or "absolute". */
    const char *linear_by;
    /* The smallest c this sweep would have called significant (t_crit·c_se),
     * as a share of the fitted cost at Nmax and as a material share. */
    double detectable_c;
    double detectable_share;
    double detectable_material;
    char reason[200];
};

/* Judges a fit. distinct is the number of distinct N (fewer than 3: always
 * inconclusive). floors may be NULL (every default); a floor <= 0 selects its
 * default. Superlinear: c significant and material by every notion;
 * linear: the upper bound of c is immaterial by at least one. */
void model_judge(const struct fit_result *r, size_t distinct, double n_min, double n_max,
                 const struct model_floors *floors, struct model_verdict *out);

/* Convenience for tests: weights, fit and verdict in one call, c tested at
 * the one-sided confidence given (FIT_DEFAULT_CONFIDENCE for the report's).
 * Returns 0, or -1 when the design is unusable (verdict is then inconclusive). */
int model_fit_and_judge(const double *n, const double *y, size_t count,
                        const struct model_floors *floors, double confidence, struct fit_result *r,
                        struct model_verdict *v);

#endif
