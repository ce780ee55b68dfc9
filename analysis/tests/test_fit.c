/*
 * Tests for analysis/fit.c: Student t quantiles against table values, exact
 * recovery on large N (numerical stability), interval coverage with seeded
 * noise, additivity of fits over a shared design, and the power-law exponent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fit.h"
#include "stats_model.h"

/* splitmix64: a small seeded PRNG so every run draws the same noise. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_uniform(void)
{
    return ((rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double rng_normal(void)
{
    double u1 = rng_uniform(), u2 = rng_uniform();
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void test_t_quantile_matches_table_values(void **state)
{
    (void)state;
    /* One-sided 95% and 97.5% points from any t table. */
    static const struct {
        double p, dof, want;
    } rows[] = {
        {0.95, 1, 6.314},   {0.95, 2, 2.920},   {0.95, 5, 2.015},   {0.95, 10, 1.812},
        {0.95, 12, 1.782},  {0.95, 30, 1.697},  {0.95, 120, 1.658}, {0.975, 2, 4.303},
        {0.975, 10, 2.228}, {0.975, 30, 2.042}, {0.99, 5, 3.365},   {0.95, 1e6, 1.645},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double got = t_quantile(rows[i].p, rows[i].dof);
        if (fabs(got - rows[i].want) > 0.0015)
            fail_msg("t_%.3f(%g) = %.5f, table says %.3f", rows[i].p, rows[i].dof, got,
                     rows[i].want);
    }
    assert_true(fabs(t_quantile(0.05, 7) + t_quantile(0.95, 7)) < 1e-9);
    assert_true(isinf(t_quantile(0.95, 0)));
    assert_true(fabs(t_cdf(t_quantile(0.95, 4.5), 4.5) - 0.95) < 1e-9);
}

static void test_fit_is_exact_on_noise_free_data_up_to_ten_thousand(void **state)
{
    (void)state;
    double n[] = {10, 32, 100, 316, 1000, 3162, 10000};
    double y[7];
    const double a = 5.0, b = 0.3, c = 1e-5;
    for (int i = 0; i < 7; i++)
        y[i] = a + b * n[i] + c * n[i] * n[i];
    struct fit_design d;
    assert_int_equal(fit_prepare(&d, n, NULL, 7), 0);
    struct fit_result r;
    fit_apply(&d, y, &r);
    assert_true(fabs(r.a - a) < 1e-7 * 1000);
    assert_true(fabs(r.b - b) / b < 1e-9);
    assert_true(fabs(r.c - c) / c < 1e-9);
    assert_true(r.dof == 4);
    fit_design_free(&d);
}

static void test_fit_refuses_fewer_than_three_distinct_n(void **state)
{
    (void)state;
    double n[] = {10, 10, 20, 20, 20};
    struct fit_design d;
    assert_int_equal(fit_prepare(&d, n, NULL, 5), -1);
    assert_false(d.ok);
    struct fit_result r;
    double y[5] = {1, 1, 2, 2, 2};
    fit_apply(&d, y, &r);
    assert_false(r.c_significant);
    fit_design_free(&d);
}

/* Over many seeded sweeps with 5% proportional noise and the right weights,
 * the two-sided 95% interval of each coefficient must cover the truth about
 * 95% of the time: the standard errors are honest, not just the estimates. */
static void test_fit_intervals_cover_true_coefficients(void **state)
{
    (void)state;
    const double a = 2.0, b = 0.1, c = 0.0006;
    double n[15], w[15], y[15];
    for (int i = 0; i < 15; i++) {
        n[i] = 10.0 * (i / 3 + 1);
        double mean = a + b * n[i] + c * n[i] * n[i];
        w[i] = 1.0 / (mean * mean);
    }
    struct fit_design d;
    assert_int_equal(fit_prepare(&d, n, w, 15), 0);
    rng_state = 42;
    int cover[3] = {0, 0, 0};
    const int runs = 1000;
    double tq = t_quantile(0.975, 12);
    for (int run = 0; run < runs; run++) {
        for (int i = 0; i < 15; i++) {
            double mean = a + b * n[i] + c * n[i] * n[i];
            y[i] = mean * (1.0 + 0.05 * rng_normal());
        }
        struct fit_result r;
        fit_apply(&d, y, &r);
        cover[0] += fabs(r.a - a) <= tq * r.a_se;
        cover[1] += fabs(r.b - b) <= tq * r.b_se;
        cover[2] += fabs(r.c - c) <= tq * r.c_se;
    }
    for (int k = 0; k < 3; k++)
        if (cover[k] < 920 || cover[k] > 980)
            fail_msg("coefficient %d covered %d/1000 times, want ~950", k, cover[k]);
    fit_design_free(&d);
}

/* Least squares is linear in y: parts fitted over one design add up exactly to
 * the whole. This is what lets per-task and per-function c's sum to the total. */
static void test_fits_over_one_design_add_up(void **state)
{
    (void)state;
    double n[] = {10, 20, 30, 40, 50, 10, 20, 30, 40, 50};
    double w[10], y1[10], y2[10], tot[10];
    rng_state = 7;
    for (int i = 0; i < 10; i++) {
        w[i] = 0.5 + rng_uniform();
        y1[i] = 1 + 0.2 * n[i] + 0.3 * rng_normal();
        y2[i] = 0.001 * n[i] * n[i] + 0.3 * rng_normal();
        tot[i] = y1[i] + y2[i];
    }
    struct fit_design d;
    assert_int_equal(fit_prepare(&d, n, w, 10), 0);
    struct fit_result r1, r2, rt;
    fit_apply(&d, y1, &r1);
    fit_apply(&d, y2, &r2);
    fit_apply(&d, tot, &rt);
    assert_true(fabs(r1.a + r2.a - rt.a) < 1e-9);
    assert_true(fabs(r1.b + r2.b - rt.b) < 1e-11);
    assert_true(fabs(r1.c + r2.c - rt.c) < 1e-13);
    fit_design_free(&d);
}

static void test_power_law_exponent(void **state)
{
    (void)state;
    double n[] = {10, 20, 40, 80, 160};
    double y[5];
    for (int i = 0; i < 5; i++)
        y[i] = 4.0 + 3.0 * pow(n[i], 1.5);
    struct fit_exponent e;
    /* Above the overhead the exponent is exact; on the raw cost it is lower. */
    assert_int_equal(fit_power_law(n, y, NULL, 5, 4.0, &e), 0);
    assert_true(fabs(e.k - 1.5) < 1e-9);
    assert_true(e.k_lo <= 1.5 && e.k_hi >= 1.5);
    assert_int_equal(fit_power_law(n, y, NULL, 5, 0.0, &e), 0);
    assert_true(e.k < 1.5 && e.k > 1.3);
    /* An offset above some value cannot be logged. */
    assert_int_equal(fit_power_law(n, y, NULL, 5, 1e6, &e), -1);
}

/* The noise level of these tests: 2% relative (coefficient of variation) per
 * point. Measured on this 2-core machine: 12 windows of ~3.3 s of a loop that
 * reads /proc/net/{tcp,tcp6,udp,udp6} every 30 ms (refproxy's portlist work)
 * gave CPU with a CV of 2.0%. Real sweeps use 10–30 s windows (less noise). */
#define SWEEP_CV 0.02

/* One seeded sweep: 5 points 10..50, `repeats` each, interleaved. */
static void draw_sweep(double a, double b, double c, double cv, int repeats, double *n, double *y)
{
    for (int i = 0; i < 5 * repeats; i++) {
        n[i] = 10.0 * (i % 5 + 1);
        double mean = a + b * n[i] + c * n[i] * n[i];
        y[i] = mean * (1.0 + cv * rng_normal());
    }
}

/* A linear cost with a fixed overhead (CPU/N falls with N) must not be called
 * super-linear more than 5% of the time. The rule is a one-sided 95% test, so
 * its long-run rate is 5% by construction (5.3% measured over 20,000 sweeps
 * with estimated weights); 1000 sweeps estimate it to ±0.7% (one binomial
 * standard deviation), so the bound checked is 5% plus two of those. */
static void test_false_alarm_rate_on_linear_sweeps(void **state)
{
    (void)state;
    double n[64], y[64];
    int alarms = 0, linear = 0;
    rng_state = 1;
    for (int run = 0; run < 1000; run++) {
        draw_sweep(2.0, 0.1, 0.0, SWEEP_CV, 3, n, y);
        struct fit_result r;
        struct model_verdict v;
        assert_int_equal(model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v), 0);
        alarms += v.kind == MODEL_SUPERLINEAR;
        linear += v.kind == MODEL_LINEAR;
    }
    print_message("false alarms: %d/1000, linear verdicts: %d/1000\n", alarms, linear);
    assert_true(alarms <= 50 + 14);
    assert_true(linear > 300); /* and it does say "linear" when it can */
}

/* A quadratic term worth 20% of the cost at Nmax must be caught in >= 95% of
 * sweeps at the measured noise, with 5 points and 3 repeats. */
static void test_power_for_quadratic_worth_20_percent_at_nmax(void **state)
{
    (void)state;
    const double a = 2.0, b = 0.1;
    /* c·50² = 0.2·(a + 50b + c·50²)  =>  c = 0.25·(a + 50b) / 2500 */
    const double c = 0.25 * (a + 50 * b) / 2500.0;
    double n[64], y[64];
    int caught = 0, called_linear = 0;
    rng_state = 2;
    for (int run = 0; run < 1000; run++) {
        draw_sweep(a, b, c, SWEEP_CV, 3, n, y);
        struct fit_result r;
        struct model_verdict v;
        model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v);
        caught += v.kind == MODEL_SUPERLINEAR;
        called_linear += v.kind == MODEL_LINEAR;
    }
    print_message("caught: %d/1000, called linear: %d\n", caught, called_linear);
    assert_true(caught >= 950);
    assert_int_equal(called_linear, 0);
}

/* With 5% noise the same effect needs more repeats: 3 do not suffice, and the
 * verdict must then mostly be inconclusive (with a detectable effect), not
 * "linear". The effect here matters by every notion of materiality (2cNmax/b
 * 0.7 > 0.2, 20% of the cost at Nmax > 10%, 1.75% of a core > 1%), so a
 * linear verdict needs c's 95% upper bound below the truth: at most 5% of
 * sweeps, checked at 5% plus two binomial standard deviations. */
static void test_noisier_sweeps_are_inconclusive_not_linear(void **state)
{
    (void)state;
    const double a = 2.0, b = 0.1, c = 0.25 * (2.0 + 5.0) / 2500.0;
    double n[64], y[64];
    int linear = 0, inconclusive = 0;
    rng_state = 3;
    for (int run = 0; run < 1000; run++) {
        draw_sweep(a, b, c, 0.05, 3, n, y);
        struct fit_result r;
        struct model_verdict v;
        model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v);
        linear += v.kind == MODEL_LINEAR;
        if (v.kind == MODEL_INCONCLUSIVE) {
            inconclusive++;
            assert_true(v.detectable_share > 0 && v.detectable_share < 1);
        }
    }
    print_message("c worth 20%% at Nmax, 5%% noise: linear %d/1000, inconclusive %d/1000\n", linear,
                  inconclusive);
    assert_true(linear <= 50 + 14);
    assert_true(inconclusive > 250);
}

/* A cost with no fixed part (a = 0: every bit of CPU is per service, as in
 * a per-service node architecture) puts the free fit's a below 0 in about
 * half the sweeps; those are refitted with a held at 0. That choice depends
 * on the data, so check both error rates where it matters most. */
static void test_false_alarm_rate_without_fixed_cost(void **state)
{
    (void)state;
    double n[64], y[64];
    int alarms = 0, held = 0;
    rng_state = 6;
    for (int run = 0; run < 1000; run++) {
        draw_sweep(0.0, 0.8, 0.0, SWEEP_CV, 3, n, y);
        struct fit_result r;
        struct model_verdict v;
        assert_int_equal(model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v), 0);
        alarms += v.kind == MODEL_SUPERLINEAR;
        held += r.a == 0 && r.a_se == 0;
    }
    print_message("a = 0: false alarms %d/1000, a held at 0 in %d\n", alarms, held);
    assert_true(held > 300 && held < 700);
    assert_true(alarms <= 50 + 14);
}

/* The gate's known super-linear case (per-service nodes, default tasks):
 * b ~ 0.8, c worth 20% of the cost at Nmax, no fixed cost. Holding a at 0
 * when the free fit makes it negative is what keeps the power up: the free
 * fit alone misses these sweeps (measured: 3 of 10 real gate runs). */
static void test_power_without_fixed_cost(void **state)
{
    (void)state;
    const double b = 0.8, c = 0.25 * 50 * b / 2500.0;
    double n[64], y[64];
    int caught = 0;
    rng_state = 7;
    for (int run = 0; run < 1000; run++) {
        draw_sweep(0.0, b, c, 0.05, 3, n, y);
        struct fit_result r;
        struct model_verdict v;
        model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v);
        caught += v.kind == MODEL_SUPERLINEAR;
    }
    print_message("a = 0, c worth 20%% at Nmax, 5%% noise: caught %d/1000\n", caught);
    assert_true(caught >= 950); /* the free fit alone: 606 */
}

static void test_two_points_are_inconclusive(void **state)
{
    (void)state;
    double n[] = {10, 50, 10, 50, 10, 50};
    double y[] = {1.0, 9.0, 1.1, 9.2, 0.9, 8.8};
    struct fit_result r;
    struct model_verdict v;
    assert_int_equal(model_fit_and_judge(n, y, 6, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v), -1);
    assert_int_equal(v.kind, MODEL_INCONCLUSIVE);
    assert_string_equal(v.name, "inconclusive");
    assert_non_null(strstr(v.reason, "2 distinct"));
}

/* CPU/N falls with a fixed overhead even when c > 0: the verdict must not. */
static void test_superlinear_despite_falling_cpu_per_service(void **state)
{
    (void)state;
    double n[15], y[15];
    rng_state = 4;
    draw_sweep(20.0, 0.1, 0.002, 0.005, 3, n, y);
    /* CPU/N at 50 is below CPU/N at 10 ... */
    assert_true((20 + 5 + 5) / 50.0 < (20 + 1 + 0.2) / 10.0);
    struct fit_result r;
    struct model_verdict v;
    model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v);
    assert_int_equal(v.kind, MODEL_SUPERLINEAR);
}

/* b <= 0 with a significant positive c: all growth is quadratic -> superlinear;
 * not significant -> never "linear" (nothing to weigh c against). */
/* The gate's flat case (per-service nodes with portlist and netmon shared):
 * measured a ~ 0.9% CPU, b ~ 0.011% per service, sd ~ 0.1% (about 8%) per
 * 5 s point. b is then too small to weigh c against, so noise alone makes a
 * significant positive c with b <= 0 at about the test's level; a CI gate
 * failed on one such sweep (c t = 1.96 > 1.80). The gate's 99% keeps that
 * below 1% per case while the known super-linear case is still caught. */
static void test_gate_confidence_on_a_cost_with_no_linear_part(void **state)
{
    (void)state;
    double n[64], y[64];
    int alarms95 = 0, alarms99 = 0;
    rng_state = 8;
    for (int run = 0; run < 2000; run++) {
        draw_sweep(0.9, 0.011, 0.0, 0.08, 3, n, y);
        struct fit_result r;
        struct model_verdict v;
        assert_int_equal(model_fit_and_judge(n, y, 15, NULL, 0.95, &r, &v), 0);
        alarms95 += v.kind == MODEL_SUPERLINEAR;
        model_fit_and_judge(n, y, 15, NULL, 0.99, &r, &v);
        alarms99 += v.kind == MODEL_SUPERLINEAR;
    }
    print_message("flat cost, no linear part to speak of: false alarms %d/2000 at 95%%, "
                  "%d/2000 at 99%%\n",
                  alarms95, alarms99);
    /* 1% of 2000 plus two binomial standard deviations (4.4) */
    assert_true(alarms99 <= 20 + 9);
    assert_true(alarms99 < alarms95);

    /* Power at 99%, 5% noise, 5 repeats as the CI gate sweeps the per-service
     * default case (a = 0, b = 0.8): with its effect as measured (2cNmax/b
     * 1.10 to 1.25 in CI runs; 1.10 here) it must still be caught every time.
     * Smaller effects pay for the stricter level: one worth 20% of the cost at
     * Nmax (2cNmax/b = 0.5) is caught a little less often. */
    const double b = 0.8, c_measured = 1.10 * b / (2 * 50), c_20 = 0.25 * 50 * b / 2500.0;
    int caught = 0, caught20_95 = 0, caught20_99 = 0;
    for (int run = 0; run < 1000; run++) {
        struct fit_result r;
        struct model_verdict v;
        draw_sweep(0.0, b, c_measured, 0.05, 5, n, y);
        model_fit_and_judge(n, y, 25, NULL, 0.99, &r, &v);
        caught += v.kind == MODEL_SUPERLINEAR;
        draw_sweep(0.0, b, c_20, 0.05, 5, n, y);
        model_fit_and_judge(n, y, 25, NULL, 0.95, &r, &v);
        caught20_95 += v.kind == MODEL_SUPERLINEAR;
        model_fit_and_judge(n, y, 25, NULL, 0.99, &r, &v);
        caught20_99 += v.kind == MODEL_SUPERLINEAR;
    }
    print_message("per-service default, 5 repeats: measured effect caught %d/1000 at 99%%; "
                  "20%% at Nmax caught %d/1000 at 95%%, %d/1000 at 99%%\n",
                  caught, caught20_95, caught20_99);
    assert_int_equal(caught, 1000);
    assert_true(caught20_99 >= 900);
}

/* Issue 17: a near-free per-service cost (the CI gate's per-service-fixed
 * case: a ~ 0.9% of a core, b ~ 0.011% per service, ~8% noise per 5 s point)
 * came out inconclusive in 6 of 6 CI runs: b is so small that any c a sweep
 * can rule out is still large against it. The absolute notions vouch for it:
 * at c's upper bound the super-linear part at Nmax is well under 1% of a
 * core. Over 2000 seeded sweeps each, at the gate's 99% and the report's
 * 95%, with 3 and 5 repeats: never more false alarms than the level allows,
 * and "linear" in most sweeps (about half with 3 repeats at 99%: that is
 * what `sweep --until-decided` adds rounds for). */
static void test_near_free_cost_reads_linear(void **state)
{
    (void)state;
    static const struct {
        int repeats;
        double confidence;
        int min_linear; /* of 2000 */
    } rows[] = {
        {3, 0.99, 900}, /* measured 1028: one look is not enough at 99% */
        {5, 0.99, 1500},
        {3, 0.95, 1450},
        {5, 0.95, 1800},
    };
    double n[64], y[64];
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        int counts[3] = {0, 0, 0}, by_abs = 0, by_share = 0;
        rng_state = 20 + k;
        for (int run = 0; run < 2000; run++) {
            draw_sweep(0.9, 0.011, 0.0, 0.08, rows[k].repeats, n, y);
            struct fit_result r;
            struct model_verdict v;
            model_fit_and_judge(n, y, (size_t)(5 * rows[k].repeats), NULL, rows[k].confidence, &r,
                                &v);
            counts[v.kind]++;
            by_abs += v.kind == MODEL_LINEAR && strcmp(v.linear_by, "absolute") == 0;
            by_share += v.kind == MODEL_LINEAR && strcmp(v.linear_by, "share") == 0;
        }
        print_message("near-free, %d repeats, %g%%: linear %d (by share %d, absolute %d), "
                      "inconclusive %d, superlinear %d of 2000\n",
                      rows[k].repeats, 100 * rows[k].confidence, counts[MODEL_LINEAR], by_share,
                      by_abs, counts[MODEL_INCONCLUSIVE], counts[MODEL_SUPERLINEAR]);
        double alpha = 1 - rows[k].confidence, sd = sqrt(2000 * alpha * (1 - alpha));
        assert_true(counts[MODEL_SUPERLINEAR] <= 2000 * alpha + 2 * sd);
        assert_true(counts[MODEL_LINEAR] >= rows[k].min_linear);
    }
}

/* The absolute notions never turn a material effect into "linear" more often
 * than the level: the per-service default shape (a = 0, b = 0.8, c worth 20%
 * of the cost at Nmax) and the fixed-overhead shape, at 5% noise. */
static void test_material_effects_are_not_called_linear(void **state)
{
    (void)state;
    static const struct {
        double a, b, share; /* share: c·Nmax² / C(Nmax) */
    } rows[] = {
        {0.0, 0.8, 0.2},
        {2.0, 0.1, 0.2},
        {0.0, 0.8, 0.12},
    };
    double n[64], y[64];
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        double lin = rows[k].a + 50 * rows[k].b;
        double c = rows[k].share / (1 - rows[k].share) * lin / 2500.0;
        int linear = 0, caught = 0;
        rng_state = 40 + k;
        for (int run = 0; run < 2000; run++) {
            draw_sweep(rows[k].a, rows[k].b, c, 0.05, 3, n, y);
            struct fit_result r;
            struct model_verdict v;
            model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v);
            linear += v.kind == MODEL_LINEAR;
            caught += v.kind == MODEL_SUPERLINEAR;
        }
        print_message("a=%g b=%g, c worth %.0f%% at Nmax: linear %d, superlinear %d of 2000\n",
                      rows[k].a, rows[k].b, 100 * rows[k].share, linear, caught);
        assert_true(linear <= 100 + 20); /* 5% + 2 sd */
    }
}

static void test_nonpositive_b_is_handled(void **state)
{
    (void)state;
    double n[15], y[15];
    rng_state = 5;
    draw_sweep(1.0, 0.0, 0.002, 0.01, 3, n, y);
    struct fit_result r;
    struct model_verdict v;
    model_fit_and_judge(n, y, 15, NULL, FIT_DEFAULT_CONFIDENCE, &r, &v);
    assert_int_equal(v.kind, MODEL_SUPERLINEAR);
    struct fit_result fake = {.a = 1,
                              .b = -0.01,
                              .c = 0.0001,
                              .c_se = 0.001,
                              .c_t = 0.1,
                              .confidence = 0.95,
                              .t_crit = 1.78,
                              .dof = 12,
                              .c_significant = false};
    model_judge(&fake, 5, 10, 50, NULL, &v);
    assert_int_equal(v.kind, MODEL_INCONCLUSIVE);
    assert_false(v.material_defined);
}

/* Weights: repeats at every N -> weighted, with the noisier (larger) points
 * weighing less; one N without repeats -> unweighted. */
static void test_weights_follow_repeats(void **state)
{
    (void)state;
    double n[15], y[15], w[15];
    rng_state = 6;
    draw_sweep(1.0, 1.0, 0.0, 0.05, 3, n, y);
    assert_true(model_weights(n, y, 15, w));
    assert_true(w[0] > w[4]);                /* N=10 weighs more than N=50 */
    assert_true(model_weights(n, y, 10, w)); /* two repeats at every N */
    assert_false(model_weights(n, y, 9, w)); /* N=50 once: unweighted */
    assert_true(w[0] == 1.0 && w[8] == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_quantile_matches_table_values),
        cmocka_unit_test(test_fit_is_exact_on_noise_free_data_up_to_ten_thousand),
        cmocka_unit_test(test_near_free_cost_reads_linear),
        cmocka_unit_test(test_material_effects_are_not_called_linear),
        cmocka_unit_test(test_fit_refuses_fewer_than_three_distinct_n),
        cmocka_unit_test(test_fit_intervals_cover_true_coefficients),
        cmocka_unit_test(test_fits_over_one_design_add_up),
        cmocka_unit_test(test_power_law_exponent),
        cmocka_unit_test(test_false_alarm_rate_on_linear_sweeps),
        cmocka_unit_test(test_power_for_quadratic_worth_20_percent_at_nmax),
        cmocka_unit_test(test_noisier_sweeps_are_inconclusive_not_linear),
        cmocka_unit_test(test_false_alarm_rate_without_fixed_cost),
        cmocka_unit_test(test_power_without_fixed_cost),
        cmocka_unit_test(test_two_points_are_inconclusive),
        cmocka_unit_test(test_superlinear_despite_falling_cpu_per_service),
        cmocka_unit_test(test_gate_confidence_on_a_cost_with_no_linear_part),
        cmocka_unit_test(test_nonpositive_b_is_handled),
        cmocka_unit_test(test_weights_follow_repeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
