/*
 * analyze: one sweep's model, computed once and shared by the report writers,
 * the plots, the gate and attribution. analysis_run does all the numbers;
 * report_*.c and plot.c only print them.
 *
 * Attribution (issue 7) plugs in through report_functions.c: it builds
 * analysis/attribution.h's model over an->design (the same design matrix and
 * weights as the total, so the functions' c add up to the profile total's c)
 * and fills report.json's "functions" and the report sections.
 */
#ifndef SCALEPROF_ANALYZE_H
#define SCALEPROF_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>

#include "fit.h"
#include "results.h"
#include "stats_model.h"

/* One distinct N: means over its usable repeats. */
struct level {
    double n;
    size_t repeats;
    double cpu_mean, cpu_sd; /* CPU seconds per second (1.0 = one core) */
    double cpu_per_service;  /* cpu_mean / N */
    double mem_per_service;  /* res.mem_source (PSS or RSS) bytes per service */
    double threads_per_service, wakeups_per_s;
    double marginal;   /* fitted b + 2cN */
    double fitted;     /* fitted a + bN + cN² */
    double *task_mean; /* per task, CPU s/s (results.ntasks entries) */
};

struct task_fit {
    const char *name; /* owned by results */
    struct fit_result fit;
    double share;      /* task c / total c (NAN when total c is 0) */
    bool is_remainder; /* total minus every task: what no counter covers */
};

struct analysis {
    struct results res;
    double floor;          /* relative materiality floor (2cNmax/b) */
    double share_floor;    /* cNmax²/C(Nmax); 0: the default */
    double abs_floor;      /* cNmax² in % of one core; 0: the default */
    const char *own_regex; /* --own: what is the program's own code (NULL: by format) */
    double confidence;     /* one-sided level of the test of c (0.95; the gate's 0.99) */
    /* The level every test is made at: confidence itself, or for a sweep run
     * --until-decided the corrected level of each of its looks
     * (analysis/sequential.h), so that the looks together hold confidence. */
    double look_confidence;
    /* observations: usable points in sweep order */
    size_t nobs;
    double *n, *y, *w;
    size_t *obs_point; /* index into res.points */
    bool weighted;
    struct fit_design design;
    bool design_ok;
    struct fit_result fit;
    bool a_held_at_zero; /* the free fit's a was negative: refitted with a = 0 */
    double free_a;       /* the free fit's a */
    struct model_verdict verdict;
    struct fit_exponent exponent;
    bool exponent_ok;
    bool exponent_above_overhead; /* exponent of C(N) - a (else of C(N)) */
    double cpu_ratio;             /* (CPU/N at Nmax) / (CPU/N at Nmin), NAN if undefined */
    struct level *levels;         /* ascending N */
    size_t nlevels;
    struct task_fit *tasks; /* res.ntasks tasks, then the remainder */
    size_t ntasks;
    char sentence[512]; /* the verdict for a person */
};

/* Loads root and computes everything. confidence outside (0, 1) selects the
 * default: the level a sequential sweep decided at (sweep.json), else 0.95.
 * Returns 0, or -1 when the results folder is unreadable (message in err).
 * Too few usable points is not an error: the verdict is then inconclusive and
 * says why. */
int analysis_run(const char *root, double floor, double confidence, struct analysis *an,
                 struct buf *err);
/* The same with every materiality floor (stats_model.h) and --own: the
 * regex of the program's own code (NULL: by format; kept, not copied). */
int analysis_run_with(const char *root, const struct model_floors *floors, double confidence,
                      const char *own_regex, struct analysis *an, struct buf *err);
void analysis_free(struct analysis *an);

/* Writers (report.c, plot.c). outdir exists. Return 0 or -1 (message in err). */
struct plot_set {
    bool done;      /* gnuplot ran */
    char note[256]; /* why plots were skipped, or "" */
    size_t count;
    char names[8][32]; /* base names without extension: <name>.svg, <name>.png */
    char titles[8][80];
};
int plot_render(const struct analysis *an, const char *outdir, struct plot_set *plots,
                struct buf *err);

/* report.c */
#include <jansson.h>
#include <stdio.h>
/* report.json as a new object; functions (may be NULL) is stolen. */
json_t *report_json(const struct analysis *an, json_t *functions, const struct plot_set *plots);
int report_write_md(const struct analysis *an, const struct plot_set *plots, const char *extra_md,
                    const char *path, struct buf *err);
int report_write_html(const struct analysis *an, const struct plot_set *plots, const char *outdir,
                      const char *extra_html, const char *path, struct buf *err);
void report_print_table(const struct analysis *an, FILE *out);
/* One line on a sequential sweep's rounds and looks into buf (empty when the
 * sweep had a fixed design). */
void report_sequential_line(const struct analysis *an, char *buf, size_t len);
/* report_functions.c: attribution into the report (0, or -1 with err; no
 * profiles is not an error). extra (an object) receives report.json's
 * additional keys (task_crosscheck, functions_skipped). Runs before
 * plot_render: it leaves plot_functions.dat/.names for the functions plot. */
int report_functions(const struct analysis *an, const char *outdir, json_t *functions,
                     json_t *extra, struct buf *md, struct buf *html, struct buf *err);
/* The report's further sections, each a view of how the target grows with N
 * beside CPU; each adds keys to extra and a section to md/html, and returns
 * 0, or -1 (memory; err may say more). A section with nothing to show (no
 * heap profile, not a Go target) adds nothing.
 * report_heap.c: heap in use by allocating function ("heap");
 * report_roles.c: threads and goroutines per service by role
 * ("threads_by_role", "threads_per_service", "goroutines_by_role",
 * "goroutines_per_service");
 * report_contention.c: mutex and block delay against N ("contention"). */
int report_heap(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                struct buf *err);
int report_roles(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                 struct buf *err);
int report_contention(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                      struct buf *err);
/* A double for JSON: null when not finite (JSON has no NaN or Infinity). */
json_t *report_real(double x);
/* report.json's culprit object {function, leaf, path, share} of an
 * attribution that has one (at->culprit not NULL); a new reference. */
struct attribution;
json_t *report_culprit_json(const struct attribution *at);
#endif
