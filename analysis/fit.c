/*
 * fit: weighted least squares for C(N) = a + bN + cN², Student t quantiles, and
 * the power-law exponent. The solve runs on a centred and scaled x = (N - m)/s
 * in [-1, 1]: on raw N up to 10,000 the normal matrix holds sums of N⁴ ~ 1e16
 * next to counts ~ 1e1, which loses most of a double's digits when inverted.
 * Coefficients and their covariance are mapped back to raw N with the exact
 * linear map T (θ_raw = T θ_scaled, Cov_raw = T Cov Tᵀ).
 */
#include "fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Inverts a symmetric 3×3 matrix by its adjugate; -1 when (near) singular
 * relative to the size of its entries. */
static int invert3(const double m[3][3], double out[3][3])
{
    double c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    double c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    double c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    double det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02;
    double scale = fabs(m[0][0] * m[1][1] * m[2][2]);
    if (!(fabs(det) > 1e-12 * scale) || det == 0.0)
        return -1;
    out[0][0] = c00 / det;
    out[0][1] = (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det;
    out[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det;
    out[1][0] = c01 / det;
    out[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det;
    out[1][2] = (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det;
    out[2][0] = c02 / det;
    out[2][1] = (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det;
    out[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det;
    return 0;
}

/* T maps scaled coefficients (α, β, γ) of [1, x, x²] to raw (a, b, c) of
 * [1, N, N²] with x = (N - m)/s. */
static void transform_matrix(double m, double s, double t[3][3])
{
    memset(t, 0, sizeof(double[3][3]));
    t[0][0] = 1.0;
    t[0][1] = -m / s;
    t[0][2] = m * m / (s * s);
    t[1][1] = 1.0 / s;
    t[1][2] = -2.0 * m / (s * s);
    t[2][2] = 1.0 / (s * s);
}

/* out = T A Tᵀ. Flat 3×3 row-major arrays: GCC's -Wstringop-overflow
 * misjudges double[3][3] parameters under the sanitizers. */
static void sandwich(const double *t, const double *a, double *out)
{
    double ta[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            ta[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                ta[i * 3 + j] += t[i * 3 + k] * a[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            out[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                out[i * 3 + j] += ta[i * 3 + k] * t[j * 3 + k];
        }
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int fit_prepare(struct fit_design *d, const double *n, const double *w, size_t count)
{
    memset(d, 0, sizeof(*d));
    d->count = count;
    if (count == 0)
        return -1;
    d->n = malloc(count * sizeof(double));
    d->w = malloc(count * sizeof(double));
    double *sorted = malloc(count * sizeof(double));
    if (!d->n || !d->w || !sorted) {
        free(sorted);
        fit_design_free(d);
        d->count = count;
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        d->n[i] = n[i];
        d->w[i] = w ? w[i] : 1.0;
        sorted[i] = n[i];
    }
    qsort(sorted, count, sizeof(double), cmp_double);
    d->distinct = 0;
    for (size_t i = 0; i < count; i++)
        if (i == 0 || sorted[i] != sorted[i - 1])
            d->distinct++;
    d->n_min = sorted[0];
    d->n_max = sorted[count - 1];
    free(sorted);

    d->center = 0.5 * (d->n_min + d->n_max);
    d->scale = 0.5 * (d->n_max - d->n_min);
    if (d->scale <= 0)
        d->scale = 1.0;
    if (d->distinct < 3)
        return -1;

    double m[3][3] = {{0}};
    for (size_t i = 0; i < count; i++) {
        double x = (d->n[i] - d->center) / d->scale;
        double p[3] = {1.0, x, x * x};
        if (!(d->w[i] > 0))
            continue; /* a zero or invalid weight drops the observation */
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                m[r][c] += d->w[i] * p[r] * p[c];
    }
    if (invert3(m, d->inv_scaled) != 0)
        return -1;
    double t[3][3];
    transform_matrix(d->center, d->scale, t);
    sandwich(&t[0][0], &d->inv_scaled[0][0], &d->xtwx_inv[0][0]);
    d->ok = true;
    return 0;
}

void fit_design_free(struct fit_design *d)
{
    free(d->n);
    free(d->w);
    d->n = NULL;
    d->w = NULL;
    d->ok = false;
}

/* The one-sided test of c > 0 once c, its standard error and dof are set. */
static void test_c(struct fit_result *out)
{
    if (out->c_se > 0)
        out->c_t = out->c / out->c_se;
    else
        out->c_t = out->c > 0 ? INFINITY : (out->c < 0 ? -INFINITY : 0);
    out->t_dof = out->dof;
    fit_set_confidence(out, FIT_DEFAULT_CONFIDENCE);
}

void fit_set_confidence(struct fit_result *r, double confidence)
{
    r->confidence = confidence;
    r->t_crit = t_quantile(confidence, r->t_dof);
    r->c_significant = r->c_t > r->t_crit;
}

int fit_fix_a_at_zero(struct fit_design *d)
{
    if (!d->ok || !(d->n_max > 0))
        return -1;
    double m[2][2] = {{0}};
    for (size_t i = 0; i < d->count; i++) {
        if (!(d->w[i] > 0))
            continue;
        double u = d->n[i] / d->n_max, p[2] = {u, u * u};
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++)
                m[r][c] += d->w[i] * p[r] * p[c];
    }
    double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if (!(fabs(det) > 1e-12 * (m[0][0] * m[1][1])))
        return -1;
    d->inv_zero_a[0][0] = m[1][1] / det;
    d->inv_zero_a[0][1] = -m[0][1] / det;
    d->inv_zero_a[1][0] = -m[1][0] / det;
    d->inv_zero_a[1][1] = m[0][0] / det;
    d->zero_a = true;
    return 0;
}

/* fit_apply for a design with a fixed at 0 (fit_fix_a_at_zero). */
static void apply_zero_a(const struct fit_design *d, const double *y, struct fit_result *out)
{
    double g[2] = {0, 0};
    size_t used = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (!(d->w[i] > 0))
            continue;
        used++;
        double u = d->n[i] / d->n_max;
        g[0] += d->w[i] * u * y[i];
        g[1] += d->w[i] * u * u * y[i];
    }
    double th[2];
    for (int r = 0; r < 2; r++)
        th[r] = d->inv_zero_a[r][0] * g[0] + d->inv_zero_a[r][1] * g[1];
    double rss = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (!(d->w[i] > 0))
            continue;
        double u = d->n[i] / d->n_max, r = y[i] - (th[0] * u + th[1] * u * u);
        rss += d->w[i] * r * r;
    }
    double s = d->n_max;
    out->a = out->a_se = 0;
    out->b = th[0] / s;
    out->c = th[1] / (s * s);
    out->dof = (double)used - 2.0;
    if (out->dof <= 0) {
        out->sigma2 = NAN;
        out->b_se = out->c_se = INFINITY;
        out->t_crit = INFINITY;
        return;
    }
    out->sigma2 = rss / out->dof;
    out->b_se = sqrt(out->sigma2 * d->inv_zero_a[0][0]) / s;
    out->c_se = sqrt(out->sigma2 * d->inv_zero_a[1][1]) / (s * s);
    test_c(out);
}

void fit_apply(const struct fit_design *d, const double *y, struct fit_result *out)
{
    memset(out, 0, sizeof(*out));
    out->confidence = FIT_DEFAULT_CONFIDENCE;
    if (!d->ok) {
        out->a_se = out->b_se = out->c_se = INFINITY;
        out->t_crit = INFINITY;
        return;
    }
    if (d->zero_a) {
        apply_zero_a(d, y, out);
        return;
    }
    double g[3] = {0, 0, 0};
    size_t used = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (!(d->w[i] > 0))
            continue;
        used++;
        double x = (d->n[i] - d->center) / d->scale;
        g[0] += d->w[i] * y[i];
        g[1] += d->w[i] * x * y[i];
        g[2] += d->w[i] * x * x * y[i];
    }
    double th[3];
    for (int r = 0; r < 3; r++)
        th[r] =
            d->inv_scaled[r][0] * g[0] + d->inv_scaled[r][1] * g[1] + d->inv_scaled[r][2] * g[2];
    double rss = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (!(d->w[i] > 0))
            continue;
        double x = (d->n[i] - d->center) / d->scale;
        double r = y[i] - (th[0] + th[1] * x + th[2] * x * x);
        rss += d->w[i] * r * r;
    }
    double t[3][3];
    transform_matrix(d->center, d->scale, t);
    out->a = t[0][0] * th[0] + t[0][1] * th[1] + t[0][2] * th[2];
    out->b = t[1][1] * th[1] + t[1][2] * th[2];
    out->c = t[2][2] * th[2];
    out->dof = (double)used - 3.0;
    if (out->dof <= 0) {
        /* An exact fit through three points says nothing about the noise. */
        out->sigma2 = NAN;
        out->a_se = out->b_se = out->c_se = INFINITY;
        out->t_crit = INFINITY;
        out->c_t = 0;
        out->c_significant = false;
        return;
    }
    out->sigma2 = rss / out->dof;
    double cov[3][3];
    sandwich(&t[0][0], &d->inv_scaled[0][0], &cov[0][0]);
    out->a_se = sqrt(out->sigma2 * cov[0][0]);
    out->b_se = sqrt(out->sigma2 * cov[1][1]);
    out->c_se = sqrt(out->sigma2 * cov[2][2]);
    test_c(out);
}

/* Continued fraction for the incomplete beta (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, dd = 1.0 - qab * x / qap;
    if (fabs(dd) < tiny)
        dd = tiny;
    dd = 1.0 / dd;
    double h = dd;
    for (int m = 1; m <= 500; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        dd = 1.0 + aa * dd;
        if (fabs(dd) < tiny)
            dd = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        dd = 1.0 / dd;
        h *= dd * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        dd = 1.0 + aa * dd;
        if (fabs(dd) < tiny)
            dd = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        dd = 1.0 / dd;
        double del = dd * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double beta_reg(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1.0) / (a + b + 2.0))
        return bt * beta_cf(a, b, x) / a;
    return 1.0 - bt * beta_cf(b, a, 1.0 - x) / b;
}

double t_cdf(double t, double dof)
{
    if (!(dof > 0))
        return NAN;
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    double x = dof / (dof + t * t);
    double tail = 0.5 * beta_reg(0.5 * dof, 0.5, x); /* P(T > |t|) */
    return t > 0 ? 1.0 - tail : tail;
}

/* Student's t density at t with dof degrees of freedom. */
static double t_pdf(double t, double dof)
{
    return exp(lgamma(0.5 * (dof + 1)) - lgamma(0.5 * dof) - 0.5 * log(dof * M_PI) -
               0.5 * (dof + 1) * log1p(t * t / dof));
}

double t_quantile(double p, double dof)
{
    if (!(dof > 0))
        return INFINITY;
    if (!(p > 0 && p < 1))
        return NAN;
    if (p == 0.5)
        return 0.0;
    if (p < 0.5)
        return -t_quantile(1.0 - p, dof);
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 200 && t_cdf(hi, dof) < p; i++) {
        lo = hi;
        hi *= 2.0;
    }
    /* Newton's method inside the bracket, bisecting whenever a step would
     * leave it: the cdf is monotone and smooth, so a few steps reach the
     * resolution of a double where bisection alone took ~60 evaluations of
     * the incomplete beta (the sequential simulations call this per look). */
    double x = 0.5 * (lo + hi);
    for (int i = 0; i < 200; i++) {
        double f = t_cdf(x, dof) - p;
        if (f == 0)
            break;
        if (f < 0)
            lo = x;
        else
            hi = x;
        double next = x - f / t_pdf(x, dof);
        if (!(next > lo && next < hi))
            next = 0.5 * (lo + hi);
        if (next == x || fabs(next - x) <= 1e-15 * fabs(x))
            break;
        x = next;
    }
    return x;
}

int fit_power_law(const double *n, const double *y, const double *w, size_t count, double offset,
                  struct fit_exponent *out)
{
    memset(out, 0, sizeof(*out));
    out->offset = offset;
    out->k_se = out->k_lo = out->k_hi = NAN;
    double sw = 0, sx = 0, sy = 0;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        double v = y[i] - offset;
        if (!(v > 0) || !(n[i] > 0))
            return -1;
    }
    /* Delta method: var(log v) ≈ var(v)/v², so a weight w on v becomes w·v² on
     * log v. Unweighted input is taken as constant relative noise (weight 1 in
     * log space), which is what CPU measurements show. */
    double *lw = malloc((count ? count : 1) * sizeof(double));
    if (!lw)
        return -1;
    for (size_t i = 0; i < count; i++) {
        double v = y[i] - offset;
        lw[i] = w ? w[i] * v * v : 1.0;
        if (!(lw[i] > 0)) {
            lw[i] = 0;
            continue;
        }
        used++;
        double lx = log(n[i]), ly = log(v);
        sw += lw[i];
        sx += lw[i] * lx;
        sy += lw[i] * ly;
    }
    if (used < 2 || !(sw > 0)) {
        free(lw);
        return -1;
    }
    double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0;
    for (size_t i = 0; i < count; i++) {
        if (lw[i] == 0)
            continue;
        double dx = log(n[i]) - mx;
        sxx += lw[i] * dx * dx;
        sxy += lw[i] * dx * (log(y[i] - offset) - my);
    }
    if (!(sxx > 0)) {
        free(lw);
        return -1; /* one distinct N */
    }
    out->k = sxy / sxx;
    double icept = my - out->k * mx;
    if (used > 2) {
        double rss = 0;
        for (size_t i = 0; i < count; i++) {
            if (lw[i] == 0)
                continue;
            double r = log(y[i] - offset) - (icept + out->k * log(n[i]));
            rss += lw[i] * r * r;
        }
        double dof = (double)used - 2.0;
        out->k_se = sqrt(rss / dof / sxx);
        double tq = t_quantile(0.975, dof);
        out->k_lo = out->k - tq * out->k_se;
        out->k_hi = out->k + tq * out->k_se;
    } else {
        out->k_se = INFINITY;
        out->k_lo = -INFINITY;
        out->k_hi = INFINITY;
    }
    free(lw);
    return 0;
}
