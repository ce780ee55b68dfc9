/*
 * sequential: Pocock's constant boundary for looks after rounds first_rounds
 * .. max_rounds, and the stopping decision of `sweep --until-decided`. Why
 * this rule and what the simulations show: analysis/README.md, "Repeats until
 * the question is decided".
 */
#include "sequential.h"

#include <math.h>
#include <stdlib.h>

/* Grid step of the integration in S = Z·sqrt(I) (the sum, whose increments
 * between looks are N(0, 1) per round): a tenth of one round's standard
 * deviation, and the region below -SEQ_LOW standard deviations of S_k is
 * left out (its mass is under 1e-12). */
#define SEQ_STEP 0.1
#define SEQ_LOW 7.0

int seq_looks(const struct seq_design *d)
{
    if (!d || d->first_rounds < 1 || d->max_rounds < d->first_rounds)
        return 0;
    int looks = d->max_rounds - d->first_rounds + 1;
    return looks <= SEQ_MAX_LOOKS ? looks : 0;
}

static double upper_tail(double x) /* P(N(0,1) > x) */
{
    return 0.5 * erfc(x / M_SQRT2);
}

static double gauss(double x) /* the standard normal density */
{
    return exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* Simpson weight of grid point j of 0..g (g even). */
static double simpson(size_t j, size_t g)
{
    if (j == 0 || j == g)
        return 1.0 / 3.0;
    return j % 2 ? 4.0 / 3.0 : 2.0 / 3.0;
}

double seq_crossing_probability(const struct seq_design *d, double z)
{
    int looks = seq_looks(d);
    if (!looks || isnan(z))
        return NAN;
    if (z < 1.0 - SEQ_LOW) /* the grid needs b_k above -SEQ_LOW·sqrt(I_k) */
        return 1.0;
    if (isinf(z))
        return 0.0;
    /* The sub-density f_k of S_k over the continuation region S_k < b_k =
     * z·sqrt(I_k), on the grid s_j = b_k - j·h, j = 0..g_k (g_k even). */
    const double h = SEQ_STEP;
    size_t cap = (size_t)ceil((fabs(z) + SEQ_LOW) * sqrt((double)d->max_rounds) / h) + 4;
    double *f = malloc(cap * sizeof(double)), *next = malloc(cap * sizeof(double));
    double *kern = malloc(2 * cap * sizeof(double));
    if (!f || !next || !kern) {
        free(f);
        free(next);
        free(kern);
        return NAN;
    }
    double info = d->first_rounds, b = z * sqrt(info);
    size_t g = (size_t)ceil((b + SEQ_LOW * sqrt(info)) / h);
    g += g % 2;
    for (size_t j = 0; j <= g; j++)
        f[j] = gauss((b - (double)j * h) / sqrt(info)) / sqrt(info);
    double crossed = upper_tail(z);
    for (int k = 1; k < looks; k++) {
        double info2 = info + 1.0, b2 = z * sqrt(info2);
        size_t g2 = (size_t)ceil((b2 + SEQ_LOW * sqrt(info2)) / h);
        g2 += g2 % 2;
        /* One round's increment is N(0, 1): crossing at this look from s_j
         * has probability P(N > b2 - s_j), and s'_i - s_j = (b2 - b) +
         * (j - i)·h depends on j - i alone, so the transition kernel is one
         * row of g + g2 + 1 values. */
        for (size_t j = 0; j <= g; j++)
            crossed += h * simpson(j, g) * f[j] * upper_tail(b2 - b + (double)j * h);
        for (size_t m = 0; m <= g + g2; m++) /* m = j - i + g2 */
            kern[m] = gauss(b2 - b + ((double)m - (double)g2) * h);
        for (size_t i = 0; i <= g2; i++) {
            double s = 0;
            for (size_t j = 0; j <= g; j++)
                s += simpson(j, g) * f[j] * kern[j + g2 - i];
            next[i] = h * s;
        }
        double *t = f;
        f = next;
        next = t;
        g = g2;
        b = b2;
        info = info2;
    }
    free(f);
    free(next);
    free(kern);
    return crossed;
}

double seq_look_level(const struct seq_design *d, double alpha)
{
    int looks = seq_looks(d);
    if (!looks || !(alpha > 0 && alpha < 0.5))
        return NAN;
    if (looks == 1)
        return alpha;
    /* The crossing probability falls as z rises: bisect between the fixed
     * design's boundary (crossing >= alpha) and Bonferroni's (<= alpha). */
    double lo = 0, hi = 10;
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (lo + hi);
        if (upper_tail(mid) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    double z_lo = hi;
    lo = z_lo;
    hi = 10;
    for (int i = 0; i < 50; i++) {
        double mid = 0.5 * (lo + hi);
        double p = seq_crossing_probability(d, mid);
        if (!isfinite(p))
            return NAN;
        if (p > alpha)
            lo = mid;
        else
            hi = mid;
    }
    double level = upper_tail(hi);
    /* The grid's error cannot make the rule worse than Bonferroni's. */
    return fmin(alpha, fmax(level, alpha / looks));
}

double seq_look_confidence(const struct seq_design *d, double confidence)
{
    return 1.0 - seq_look_level(d, 1.0 - confidence);
}

const char *seq_stop_name(enum seq_stop s)
{
    static const char *const names[] = {"running",     "decided",    "max_rounds",  "budget",
                                        "interrupted", "no_verdict", "round_failed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

enum seq_stop seq_after_look(const struct seq_design *d, int rounds_done,
                             enum model_verdict_kind kind, double elapsed_s, double longest_round_s,
                             double budget_s)
{
    if (kind == MODEL_SUPERLINEAR || kind == MODEL_LINEAR)
        return SEQ_DECIDED;
    if (rounds_done >= d->max_rounds)
        return SEQ_MAX_ROUNDS;
    if (budget_s > 0 && elapsed_s + longest_round_s > budget_s)
        return SEQ_BUDGET;
    return SEQ_CONTINUE;
}
