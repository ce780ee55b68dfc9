/*
 * Tests for analysis/sequential.c, the rule of `sweep --until-decided`:
 * Pocock's boundary against published constants and simulated random walks,
 * the stopping decision, and the rule itself over thousands of seeded
 * sequential sweeps on the model (false alarms on linear shapes, wrongful
 * "linear" on material shapes, power on the per-service default shape, and
 * the rounds used). Then the results-folder side: analyze and gate read the
 * design from sweep.json and judge at the same corrected level as the looks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "commands.h"
#include "sequential.h"
#include "test_analyze_synth.h"

#define SIM_RUNS 2000
#define SIM_MAX_ROUNDS 16

/* The z whose upper tail is level. */
static double z_of(double level)
{
    double lo = 0, hi = 10;
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(mid / M_SQRT2) > level)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Pocock's constants for K equally spaced looks, two-sided 5% (Jennison and
 * Turnbull, "Group Sequential Methods", table 2.1): 2.178 (K = 2), 2.413 (5),
 * 2.555 (10). One-sided 2.5% gives the same constants to three decimals (a
 * path that crosses the lower boundary almost never crosses the upper one
 * later). Looks after rounds 1..K are equally spaced. */
static void test_pocock_boundary_matches_published_constants(void **state)
{
    (void)state;
    static const struct {
        int looks;
        double z;
    } rows[] = {{2, 2.178}, {5, 2.413}, {10, 2.555}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct seq_design d = {1, rows[i].looks};
        double z = z_of(seq_look_level(&d, 0.025));
        print_message("K=%d: z %.4f, published %.3f\n", rows[i].looks, z, rows[i].z);
        assert_true(fabs(z - rows[i].z) < 0.0015);
        assert_true(fabs(seq_crossing_probability(&d, rows[i].z) - 0.025) < 3e-4);
    }
}

/* The recursion against brute force: a random walk with N(0,1) steps per
 * round, looked at after rounds 2..8, crosses z·sqrt(rounds) at one look or
 * more as often as seq_crossing_probability says (within 4 binomial sd). */
static void test_crossing_probability_matches_simulated_random_walks(void **state)
{
    (void)state;
    const struct seq_design d = {2, 8};
    const double zs[] = {2.0, z_of(seq_look_level(&d, 0.01))};
    const int paths = 200000;
    for (size_t k = 0; k < 2; k++) {
        synth_rng = 900 + k;
        int crossed = 0;
        for (int p = 0; p < paths; p++) {
            double s = synth_normal() + synth_normal();
            bool over = s / sqrt(2.0) > zs[k];
            for (int r = 3; r <= 8 && !over; r++) {
                s += synth_normal();
                over = s / sqrt((double)r) > zs[k];
            }
            crossed += over;
        }
        double want = seq_crossing_probability(&d, zs[k]), got = (double)crossed / paths;
        double sd = sqrt(want * (1 - want) / paths);
        print_message("z=%.3f: crossing %.5f computed, %.5f simulated (sd %.5f)\n", zs[k], want,
                      got, sd);
        assert_true(fabs(got - want) < 4 * sd);
    }
    assert_true(fabs(seq_crossing_probability(&d, zs[1]) - 0.01) < 1e-6);
}

static void test_look_level_lies_between_bonferroni_and_alpha(void **state)
{
    (void)state;
    static const struct seq_design designs[] = {{1, 1}, {3, 3}, {2, 4}, {2, 8}, {3, 8}, {1, 20}};
    const double alphas[] = {0.01, 0.05};
    for (size_t i = 0; i < sizeof(designs) / sizeof(designs[0]); i++)
        for (size_t k = 0; k < 2; k++) {
            const struct seq_design *d = &designs[i];
            int looks = seq_looks(d);
            double a = alphas[k], level = seq_look_level(d, a);
            print_message("rounds %d..%d, alpha %g: level %.5f (Bonferroni %.5f)\n",
                          d->first_rounds, d->max_rounds, a, level, a / looks);
            if (looks == 1) {
                assert_true(level == a);
                continue;
            }
            /* the looks share data: far less correction than Bonferroni's */
            assert_true(level > 1.3 * a / looks && level < a);
            assert_true(fabs(seq_look_confidence(d, 1 - a) - (1 - level)) < 1e-12);
        }
    struct seq_design few = {2, 4}, many = {2, 8};
    assert_true(seq_look_level(&many, 0.01) < seq_look_level(&few, 0.01));
    static const struct seq_design bad[] = {{0, 3}, {4, 3}, {1, 1 + SEQ_MAX_LOOKS}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(seq_looks(&bad[i]), 0);
        assert_true(isnan(seq_look_level(&bad[i], 0.05)));
    }
    assert_true(isnan(seq_look_level(&few, 0.6)));
}

static void test_after_look_stops_for_each_reason(void **state)
{
    (void)state;
    const struct seq_design d = {2, 5};
    static const struct {
        int rounds;
        enum model_verdict_kind kind;
        double elapsed, longest, budget;
        enum seq_stop want;
        const char *why;
    } rows[] = {
        {2, MODEL_SUPERLINEAR, 10, 5, 0, SEQ_DECIDED, "superlinear decides"},
        {2, MODEL_LINEAR, 10, 5, 0, SEQ_DECIDED, "linear decides"},
        {5, MODEL_LINEAR, 10, 5, 12, SEQ_DECIDED, "a decision at the last look is a decision"},
        {2, MODEL_INCONCLUSIVE, 10, 5, 0, SEQ_CONTINUE, "undecided, no budget: another round"},
        {4, MODEL_INCONCLUSIVE, 10, 5, 0, SEQ_CONTINUE, "undecided before the last look"},
        {5, MODEL_INCONCLUSIVE, 10, 5, 0, SEQ_MAX_ROUNDS, "the last look was taken"},
        {3, MODEL_INCONCLUSIVE, 10, 5, 15, SEQ_CONTINUE, "another round ends on the budget"},
        {3, MODEL_INCONCLUSIVE, 10, 5.5, 15, SEQ_BUDGET, "the longest round would overrun"},
        {3, MODEL_INCONCLUSIVE, 20, 5, 15, SEQ_BUDGET, "the budget is already spent"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum seq_stop got = seq_after_look(&d, rows[i].rounds, rows[i].kind, rows[i].elapsed,
                                           rows[i].longest, rows[i].budget);
        print_message("%s: %s\n", rows[i].why, seq_stop_name(got));
        assert_int_equal(got, rows[i].want);
    }
    assert_string_equal(seq_stop_name(SEQ_CONTINUE), "running");
    assert_string_equal(seq_stop_name(SEQ_ROUND_FAILED), "round_failed");
}

/* ---- the rule over seeded sequential sweeps ---- */

struct shape {
    const char *name;
    double a, b, c, cv; /* CPU % of one core = (a + bN + cN²)(1 + cv·normal) */
};

/* c such that c·50² is share of the cost at N = 50. */
static double c_worth(double a, double b, double share)
{
    return share / (1 - share) * (a + 50 * b) / 2500.0;
}

struct tally {
    int verdicts[3];                /* by enum model_verdict_kind */
    int rounds[SIM_MAX_ROUNDS + 1]; /* sweeps that stopped after this many rounds */
    double mean_rounds;
};

/* One round over N = 10..50 into n, y at observation 5·round. */
static void draw_round(const struct shape *s, int round, double *n, double *y)
{
    for (int i = 0; i < 5; i++) {
        int k = 5 * round + i;
        n[k] = 10.0 * (i + 1);
        y[k] = (s->a + s->b * n[k] + s->c * n[k] * n[k]) * (1 + s->cv * synth_normal());
    }
}

/* runs seeded sequential sweeps as `sweep --until-decided` makes them: the
 * first pass, then one round at a time while seq_after_look says so, each
 * look judged at look_confidence (the corrected level, or the nominal one to
 * show what the correction is for). */
static void simulate(const struct shape *s, const struct seq_design *d, double look_confidence,
                     uint64_t seed, struct tally *t)
{
    memset(t, 0, sizeof(*t));
    assert_true(d->max_rounds <= SIM_MAX_ROUNDS);
    synth_rng = seed;
    double n[5 * SIM_MAX_ROUNDS], y[5 * SIM_MAX_ROUNDS], total = 0;
    for (int run = 0; run < SIM_RUNS; run++) {
        int r = 0;
        for (; r < d->first_rounds; r++)
            draw_round(s, r, n, y);
        struct fit_result fr;
        struct model_verdict v;
        for (;;) {
            model_fit_and_judge(n, y, (size_t)(5 * r), NULL, look_confidence, &fr, &v);
            if (seq_after_look(d, r, v.kind, 0, 0, 0) != SEQ_CONTINUE)
                break;
            draw_round(s, r++, n, y);
        }
        t->verdicts[v.kind]++;
        t->rounds[r]++;
        total += r;
    }
    t->mean_rounds = total / SIM_RUNS;
}

static void print_tally(const char *what, const struct shape *s, const struct seq_design *d,
                        double confidence, const struct tally *t)
{
    char dist[256] = "";
    size_t used = 0;
    for (int r = d->first_rounds; r <= d->max_rounds && used < sizeof(dist) - 16; r++)
        used += (size_t)snprintf(dist + used, sizeof(dist) - used, " %d", t->rounds[r]);
    print_message("%s, %s, rounds %d..%d at %g%%: superlinear %d, linear %d, inconclusive %d; "
                  "mean rounds %.2f, sweeps stopping at each round:%s\n",
                  what, s->name, d->first_rounds, d->max_rounds, 100 * confidence,
                  t->verdicts[MODEL_SUPERLINEAR], t->verdicts[MODEL_LINEAR],
                  t->verdicts[MODEL_INCONCLUSIVE], t->mean_rounds, dist);
}

/* The designs checked: the default (first look after 2 rounds, at most 8) at
 * analyze's 95% and the gate's 99%, and the CI gate's (2 to 4 rounds, 99%). */
static const struct {
    struct seq_design d;
    double confidence;
} designs[] = {{{2, 8}, 0.95}, {{2, 8}, 0.99}, {{2, 4}, 0.99}};
#define NDESIGNS (sizeof(designs) / sizeof(designs[0]))

/* No super-linear term: "superlinear" is a false alarm. The noise levels are
 * test_fit's: 2% measured on this machine, 8% on the CI gate's near-free
 * case. Over 2000 sweeps per shape and design, at or under the nominal rate;
 * and most sweeps end decided ("linear"), not out of rounds. */
static void test_sequential_false_alarm_rate_on_linear_shapes(void **state)
{
    (void)state;
    static const struct shape shapes[] = {
        {"overhead a=2 b=0.1, 2% noise", 2.0, 0.1, 0.0, 0.02},
        {"no fixed cost a=0 b=0.8, 2% noise", 0.0, 0.8, 0.0, 0.02},
        {"near-free a=0.9 b=0.011, 8% noise", 0.9, 0.011, 0.0, 0.08},
    };
    for (size_t k = 0; k < NDESIGNS; k++)
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
            struct tally t;
            double look = seq_look_confidence(&designs[k].d, designs[k].confidence);
            simulate(&shapes[i], &designs[k].d, look, 300 + 10 * k + i, &t);
            print_tally("false alarms", &shapes[i], &designs[k].d, designs[k].confidence, &t);
            assert_true(t.verdicts[MODEL_SUPERLINEAR] <= (1 - designs[k].confidence) * SIM_RUNS);
            assert_true(t.verdicts[MODEL_LINEAR] > SIM_RUNS / 2);
        }
}

/* What the correction is for: judging every look at the nominal level gives
 * the false alarms of every look. At 5% noise materiality no longer hides a
 * significant c, so the overhead shape shows it plainly: the uncorrected rule
 * alarms in ~15% of sweeps at a nominal 5%; the corrected one is near its
 * single look's rate (analysis/README.md gives both at 20,000 sweeps). */
static void test_uncorrected_looks_inflate_false_alarms(void **state)
{
    (void)state;
    const struct shape s = {"overhead a=2 b=0.1, 5% noise", 2.0, 0.1, 0.0, 0.05};
    const struct seq_design d = {2, 8}, one_look = {8, 8};
    struct tally naive, corrected, fixed;
    simulate(&s, &d, 0.95, 400, &naive);
    simulate(&s, &d, seq_look_confidence(&d, 0.95), 400, &corrected);
    simulate(&s, &one_look, 0.95, 400, &fixed);
    print_tally("uncorrected", &s, &d, 0.95, &naive);
    print_tally("corrected", &s, &d, 0.95, &corrected);
    print_tally("one look", &s, &one_look, 0.95, &fixed);
    double sd = sqrt(SIM_RUNS * 0.05 * 0.95);
    assert_true(naive.verdicts[MODEL_SUPERLINEAR] > 0.05 * SIM_RUNS + 4 * sd);
    assert_true(2 * corrected.verdicts[MODEL_SUPERLINEAR] < naive.verdicts[MODEL_SUPERLINEAR]);
}

/* A super-linear term that matters by every notion of materiality: "linear"
 * is the wrong verdict, at or under the nominal rate. The last two shapes sit
 * just above the share floor (c·Nmax² 10.01% of the cost at Nmax), where the
 * upper bound of c is at its least margin, so the rate there is close to the
 * level itself. */
static void test_sequential_rarely_calls_material_effects_linear(void **state)
{
    (void)state;
    const struct shape shapes[] = {
        {"a=0 b=0.8, c worth 20% at Nmax, 5% noise", 0.0, 0.8, c_worth(0, 0.8, 0.2), 0.05},
        {"a=2 b=0.1, c worth 20% at Nmax, 5% noise", 2.0, 0.1, c_worth(2, 0.1, 0.2), 0.05},
        {"a=0 b=0.8, c worth 12% at Nmax, 5% noise", 0.0, 0.8, c_worth(0, 0.8, 0.12), 0.05},
        {"a=0 b=0.8, c worth 10.01% at Nmax, 2% noise", 0.0, 0.8, c_worth(0, 0.8, 0.1001), 0.02},
        {"a=0 b=0.8, c worth 10.01% at Nmax, 5% noise", 0.0, 0.8, c_worth(0, 0.8, 0.1001), 0.05},
    };
    for (size_t k = 0; k < NDESIGNS; k++)
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
            struct tally t;
            double look = seq_look_confidence(&designs[k].d, designs[k].confidence);
            simulate(&shapes[i], &designs[k].d, look, 500 + 10 * k + i, &t);
            print_tally("wrongly linear", &shapes[i], &designs[k].d, designs[k].confidence, &t);
            assert_true(t.verdicts[MODEL_LINEAR] <= (1 - designs[k].confidence) * SIM_RUNS);
        }
}

/* The CI gate's known super-linear case, the per-service default shape: no
 * fixed cost, b = 0.8, 2cNmax/b = 1.1 as measured in CI, 5% noise. The fixed
 * design it replaces ran 5 rounds; the sequential one must catch it as
 * reliably in fewer. A smaller effect, worth 20% of the cost at Nmax: 5 fixed
 * rounds catch it 998/1000 at 95% and 954/1000 at 99% (test_fit); the default
 * design (up to 8 rounds) must do as well. The CI gate's design stops at 4
 * rounds and catches fewer of these (printed): it is sized for the case it
 * must fail, and a smaller effect there comes out inconclusive, never linear
 * (test_sequential_rarely_calls_material_effects_linear). */
static void test_sequential_power_on_per_service_default(void **state)
{
    (void)state;
    const struct shape measured = {"per-service default, 2cNmax/b=1.1, 5% noise", 0.0, 0.8,
                                   1.1 * 0.8 / 100, 0.05};
    const struct shape small = {"a=0 b=0.8, c worth 20% at Nmax, 5% noise", 0.0, 0.8,
                                c_worth(0, 0.8, 0.2), 0.05};
    for (size_t k = 0; k < NDESIGNS; k++) {
        struct tally t;
        double look = seq_look_confidence(&designs[k].d, designs[k].confidence);
        simulate(&measured, &designs[k].d, look, 600 + k, &t);
        print_tally("power", &measured, &designs[k].d, designs[k].confidence, &t);
        assert_true(t.verdicts[MODEL_SUPERLINEAR] >= SIM_RUNS - SIM_RUNS / 200);
        assert_true(t.mean_rounds < 2.5);
        simulate(&small, &designs[k].d, look, 700 + k, &t);
        print_tally("power", &small, &designs[k].d, designs[k].confidence, &t);
        if (designs[k].d.max_rounds == SEQ_DEFAULT_MAX_ROUNDS)
            assert_true(t.verdicts[MODEL_SUPERLINEAR] >= 0.95 * SIM_RUNS);
    }
}

/* ---- the results folder: analyze and gate apply the sweep's design ---- */

static char *tmpdir(const char *tag)
{
    char *p = NULL;
    if (asprintf(&p, "/tmp/scaleprof-test-seq-%s-%d", tag, (int)getpid()) < 0)
        abort();
    synth_rmtree(p);
    return p;
}

static const int counts5[] = {10, 20, 30, 40, 50};

/* Writes a results folder with `rounds` rounds of shape s and a sequential
 * block (looks after first..rounds, the last with verdict last). Rounds are
 * drawn in order from one seed, so a folder with more rounds extends the one
 * with fewer: what a sweep adding rounds leaves on disk. */
static void write_sequential(const char *root, const struct shape *s, int first, int max,
                             int rounds, double confidence, const char *stopped)
{
    char extra[512];
    snprintf(extra, sizeof(extra),
             "\"sequential\":{\"method\":\"pocock\",\"first_rounds\":%d,\"max_rounds\":%d,"
             "\"confidence\":%g,\"rounds\":%d,\"stopped\":\"%s\",\"looks\":[]}",
             first, max, confidence, rounds, stopped);
    struct synth sy = {.counts = counts5,
                       .ncounts = 5,
                       .repeats = rounds,
                       .a = s->a,
                       .b = s->b,
                       .c = s->c,
                       .cv = s->cv,
                       .seed = 77,
                       .failed_index = -1,
                       .contaminated_index = -1,
                       .missing_index = -1,
                       .manifest_extra = extra};
    synth_rmtree(root);
    synth_results(root, &sy);
}

/* The harness's loop on disk: after each round the analysis judges the
 * folder at the corrected level, and the sweep stops when it is decided.
 * Then analyze (by default at the sweep's level) and the gate (at its 99%,
 * the sweep's level here) must give the verdict that stopped it. */
static void test_analyze_and_gate_agree_with_the_look_that_stopped_the_sweep(void **state)
{
    (void)state;
    const struct shape s = {"near-free, 8% noise", 0.9, 0.011, 0.0, 0.08};
    const struct seq_design d = {2, 6};
    char *root = tmpdir("agree");
    struct analysis an;
    struct buf err;
    buf_init(&err, 4096);
    enum model_verdict_kind last = MODEL_INCONCLUSIVE;
    int rounds = d.first_rounds;
    for (;; rounds++) {
        write_sequential(root, &s, d.first_rounds, d.max_rounds, rounds, 0.99, "running");
        assert_int_equal(analysis_run(root, 0, 0.99, &an, &err), 0);
        assert_true(an.res.seq.on);
        assert_true(an.look_confidence == seq_look_confidence(&d, 0.99));
        assert_true(an.fit.confidence == an.look_confidence);
        assert_true(fabs(an.fit.t_crit - t_quantile(an.look_confidence, an.fit.t_dof)) < 1e-9);
        last = an.verdict.kind;
        print_message("look after round %d: %s (%s)\n", rounds, an.verdict.name, an.verdict.reason);
        enum seq_stop stop = seq_after_look(&d, rounds, last, 0, 0, 0);
        analysis_free(&an);
        if (stop != SEQ_CONTINUE)
            break;
    }
    write_sequential(root, &s, d.first_rounds, d.max_rounds, rounds, 0.99,
                     last == MODEL_INCONCLUSIVE ? "max_rounds" : "decided");
    /* analyze's default level is the sweep's */
    assert_int_equal(analysis_run(root, 0, 0, &an, &err), 0);
    assert_true(an.confidence == 0.99);
    assert_int_equal(an.verdict.kind, last);
    json_t *doc = report_json(&an, NULL, NULL);
    json_t *seq = json_object_get(doc, "sequential");
    assert_int_equal(json_integer_value(json_object_get(seq, "rounds")), rounds);
    assert_true(json_real_value(json_object_get(seq, "look_confidence")) == an.look_confidence);
    char line[400];
    report_sequential_line(&an, line, sizeof(line));
    print_message("%s\n", line);
    char want[64];
    snprintf(want, sizeof(want), "%d round%s of at most 6", rounds, rounds == 1 ? "" : "s");
    assert_non_null(strstr(line, want));
    json_decref(doc);
    analysis_free(&an);
    /* the gate at its default 99% */
    char *argv[] = {"gate", root, NULL};
    int rc = cmd_gate(2, argv);
    assert_int_equal(rc, last == MODEL_SUPERLINEAR ? 1 : 0);
    /* at another level, the same correction for that level; the report says so */
    assert_int_equal(analysis_run(root, 0, 0.95, &an, &err), 0);
    assert_true(an.look_confidence == seq_look_confidence(&d, 0.95));
    report_sequential_line(&an, line, sizeof(line));
    assert_non_null(strstr(line, "The sweep decided at 99%"));
    analysis_free(&an);
    buf_free(&err);
    synth_rmtree(root);
    free(root);
}

/* A design the analysis cannot apply is refused, naming the field, rather
 * than judged as if the sweep had looked once. */
static void test_malformed_sequential_design_is_refused_naming_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *field;
    } rows[] = {
        {"\"sequential\":{\"method\":\"obrien\",\"first_rounds\":2,\"max_rounds\":4,"
         "\"confidence\":0.99}",
         "sequential.method"},
        {"\"sequential\":{\"method\":\"pocock\",\"max_rounds\":4,\"confidence\":0.99}",
         "sequential.first_rounds"},
        {"\"sequential\":{\"method\":\"pocock\",\"first_rounds\":5,\"max_rounds\":4,"
         "\"confidence\":0.99}",
         "sequential.max_rounds"},
        {"\"sequential\":{\"method\":\"pocock\",\"first_rounds\":2,\"max_rounds\":4,"
         "\"confidence\":1.5}",
         "sequential.confidence"},
        {"\"sequential\":{\"method\":\"pocock\",\"first_rounds\":1,\"max_rounds\":900,"
         "\"confidence\":0.99}",
         "sequential design of 1 to 900 rounds"},
    };
    char *root = tmpdir("bad");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct synth sy = {.counts = counts5,
                           .ncounts = 5,
                           .repeats = 2,
                           .b = 1,
                           .cv = 0.02,
                           .seed = 5,
                           .failed_index = -1,
                           .contaminated_index = -1,
                           .missing_index = -1,
                           .manifest_extra = rows[i].extra};
        synth_rmtree(root);
        synth_results(root, &sy);
        struct analysis an;
        struct buf err;
        buf_init(&err, 4096);
        assert_int_equal(analysis_run(root, 0, 0, &an, &err), -1);
        print_message("%s\n", err.data);
        assert_non_null(strstr(err.data, rows[i].field));
        assert_non_null(strstr(err.data, "sweep.json"));
        analysis_free(&an);
        buf_free(&err);
    }
    synth_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pocock_boundary_matches_published_constants),
        cmocka_unit_test(test_crossing_probability_matches_simulated_random_walks),
        cmocka_unit_test(test_look_level_lies_between_bonferroni_and_alpha),
        cmocka_unit_test(test_after_look_stops_for_each_reason),
        cmocka_unit_test(test_sequential_false_alarm_rate_on_linear_shapes),
        cmocka_unit_test(test_uncorrected_looks_inflate_false_alarms),
        cmocka_unit_test(test_sequential_rarely_calls_material_effects_linear),
        cmocka_unit_test(test_sequential_power_on_per_service_default),
        cmocka_unit_test(test_analyze_and_gate_agree_with_the_look_that_stopped_the_sweep),
        cmocka_unit_test(test_malformed_sequential_design_is_refused_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
