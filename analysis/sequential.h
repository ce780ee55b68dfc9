/*
 * sequential: the stopping rule of `scaleprof sweep --until-decided` — look at
 * the verdict after the first pass and after every round added since, and hold
 * both error rates (a false "superlinear" when c is immaterial, a false
 * "linear" when it matters) at their nominal level although the verdict is
 * looked at many times. Pure functions, so the tests can run thousands of
 * seeded sequential sweeps in milliseconds (analysis/README.md, "Repeats until
 * the question is decided").
 *
 * The rule: a fixed maximum number of looks, known before the first one (looks
 * after rounds first_rounds, first_rounds + 1, ..., max_rounds), and the same
 * corrected one-sided level at every look, both for the test of c and for c's
 * upper bound. The level is Pocock's: the nominal level alpha' whose constant
 * boundary z = Φ⁻¹(1 − alpha') a Gaussian statistic with information growing
 * as the rounds crosses at one look or more with probability alpha. Each look
 * then judges at t_{1−alpha'}(its dof). Bonferroni (alpha / looks) is the
 * provable bound it improves on: the looks share most of their data, so their
 * statistics are strongly correlated and Bonferroni pays for far more looks
 * than there are in effect.
 */
#ifndef SCALEPROF_SEQUENTIAL_H
#define SCALEPROF_SEQUENTIAL_H

#include <stdbool.h>

#include "stats_model.h"

/* Defaults of `sweep --until-decided`: the first look after 2 rounds (the
 * fewest that give every N a variance for the weights), the last after 8. */
#define SEQ_DEFAULT_FIRST_ROUNDS 2
#define SEQ_DEFAULT_MAX_ROUNDS 8
#define SEQ_MAX_LOOKS 100 /* bounds the numerical integration's work */

struct seq_design {
    int first_rounds; /* rounds in the first pass, before the first look (>= 1) */
    int max_rounds;   /* rounds at the last look (>= first_rounds) */
};

/* max_rounds - first_rounds + 1, or 0 when the design is not valid (first
 * rounds < 1, max < first, or more than SEQ_MAX_LOOKS looks). */
int seq_looks(const struct seq_design *d);

/* P(Z_k > z at one look k or more) where Z_k = S_k / sqrt(I_k) is a Gaussian
 * statistic with independent increments and information I_k = rounds at look
 * k (a random walk observed at the looks). Computed by integrating the
 * sub-density of Z_k over the continuation region look by look (Armitage,
 * McPherson and Rowe's recursion) on a grid of 0.02 with Simpson's rule;
 * error below 1e-5 for the designs here. NAN for an invalid design. */
double seq_crossing_probability(const struct seq_design *d, double z);

/* The one-sided nominal level alpha' to test at every look so that the chance
 * of crossing at any of the looks is alpha (0 < alpha < 0.5): Pocock's constant
 * boundary for this design. alpha itself with one look; never below
 * alpha / looks (Bonferroni) nor above alpha. NAN for an invalid design or
 * alpha. */
double seq_look_level(const struct seq_design *d, double alpha);

/* The one-sided confidence to judge each look at: 1 - seq_look_level(d,
 * 1 - confidence). */
double seq_look_confidence(const struct seq_design *d, double confidence);

/* Why a sequential sweep stopped adding rounds (sweep.json "stopped"). */
enum seq_stop {
    SEQ_CONTINUE = 0, /* run another round */
    SEQ_DECIDED,      /* superlinear or linear at the corrected level */
    SEQ_MAX_ROUNDS,   /* the last look was inconclusive */
    SEQ_BUDGET,       /* another round would overrun --budget */
    SEQ_INTERRUPTED,  /* SIGINT/SIGTERM */
    SEQ_NO_VERDICT,   /* the analysis could not read the folder */
    SEQ_ROUND_FAILED, /* every point of the last round failed */
};
const char *seq_stop_name(enum seq_stop s);

/* After a look at rounds_done rounds (>= first_rounds) with verdict kind:
 * decided → SEQ_DECIDED; rounds_done >= max_rounds → SEQ_MAX_ROUNDS; budget_s
 * > 0 and elapsed_s + longest_round_s > budget_s → SEQ_BUDGET (the longest
 * round so far is the estimate of the next: the budget is a bound, not a
 * target); else SEQ_CONTINUE. */
enum seq_stop seq_after_look(const struct seq_design *d, int rounds_done,
                             enum model_verdict_kind kind, double elapsed_s, double longest_round_s,
                             double budget_s);

#endif
