/*
 * fit: the scaling model. Cost C(N) = a + b·N + c·N², weighted least squares
 * over every point and repeat. Because least squares is linear in y, fitting
 * each function's (or task's) cost with the SAME design matrix and weights
 * gives coefficients that add up exactly to the total's: fit_prepare computes
 * the design once and fit_apply reuses it for any y.
 */
#ifndef SCALEPROF_FIT_H
#define SCALEPROF_FIT_H

#include <stdbool.h>
#include <stddef.h>

struct fit_design {
    size_t count;          /* observations */
    double *n;             /* service counts (owned copy) */
    double *w;             /* weights (owned copy; all 1 when unweighted) */
    double xtwx_inv[3][3]; /* (XᵀWX)⁻¹ */
    bool ok;               /* false when the design is singular (fewer than 3 distinct N) */
    /* Added by h6b: the solve runs on x = (N - center) / scale so that N up to
     * 10,000 (N² up to 1e8) stays well conditioned; fit_apply transforms back. */
    double center, scale;
    double inv_scaled[3][3]; /* (XₛᵀWXₛ)⁻¹ over [1, x, x²] */
    size_t distinct;         /* distinct N values */
    double n_min, n_max;
    /* Set by fit_fix_a_at_zero: fit_apply then fits C(N) = b·N + c·N² over
     * u = N / n_max, with (UᵀWU)⁻¹ over [u, u²] in inv_zero_a. */
    bool zero_a;
    double inv_zero_a[2][2];
};

struct fit_result {
    double a, b, c;
    double a_se, b_se, c_se;
    double c_t;         /* c / c_se */
    double dof;         /* residual degrees of freedom: count - 3 */
    double sigma2;      /* residual variance (weighted) */
    double confidence;  /* one-sided level of the test of c: 0.95 unless set */
    double t_dof;       /* the dof its critical value uses (dof, or fewer) */
    double t_crit;      /* one-sided critical value of t at t_dof */
    bool c_significant; /* c_t > t_crit */
};

#define FIT_DEFAULT_CONFIDENCE 0.95

/* Returns 0, or -1 when fewer than 3 distinct N (design->ok false). w may be
 * NULL (all 1). The design owns copies of n and w; fit_design_free releases. */
int fit_prepare(struct fit_design *d, const double *n, const double *w, size_t count);
void fit_design_free(struct fit_design *d);
/* Fits y over the prepared design. */
void fit_apply(const struct fit_design *d, const double *y, struct fit_result *out);
/* Switches a prepared design to the model with a = 0 (no fixed cost): the
 * least-squares solution under the constraint a >= 0 when the free fit gives
 * a < 0. Every later fit_apply uses it, so parts still add up to the total.
 * a and a_se are then 0 and dof is count - 2. Returns 0, or -1 (design
 * unchanged) when the two columns are singular. */
int fit_fix_a_at_zero(struct fit_design *d);
/* Re-decides the test of c at another one-sided level (e.g. 0.99 for a CI
 * gate): t_crit at r->t_dof, and c_significant. */
void fit_set_confidence(struct fit_result *r, double confidence);

/* Student's t: one-sided upper quantile t_{p}(dof), e.g. p = 0.95.
 * Returns INFINITY for dof <= 0. */
double t_quantile(double p, double dof);
/* Student's t distribution function P(T <= t) at dof > 0 (added by h6b). */
double t_cdf(double t, double dof);

/* Power-law exponent k of y ≈ A·N^k (added by h6b): a weighted least-squares
 * line through (log N, log(y - offset)), with a two-sided 95% interval from the
 * slope's standard error and t at count - 2 dof. Pass offset = fitted a to get
 * the exponent of the cost above the fixed overhead; every y - offset must be
 * > 0, else -1 is returned (the caller may retry with offset 0). Needs at least
 * 2 distinct N; with only 2 observations the interval is infinite. */
struct fit_exponent {
    double k, k_se, k_lo, k_hi;
    double offset; /* the offset actually used */
};
int fit_power_law(const double *n, const double *y, const double *w, size_t count, double offset,
                  struct fit_exponent *out);

#endif
