/*
 * attribution: which functions and call paths make cost grow faster than
 * linearly (issue 7). Each point's CPU profile becomes CPU seconds per second
 * per function (self and cumulative) and per call path (samples × period /
 * window); every such series is fitted with the SAME fit_design as the total,
 * so the functions' c add up exactly to the profile total's c. Functions are
 * ranked by their share of c, grouped when their curves move together, and the
 * call tree is descended to the lowest caller that still carries a set share of
 * c (the answer a person wants: "this loop, called from there").
 *
 * Ownership: struct attribution owns everything in it; attribution_free
 * releases it. Errors are -1 with a message in a struct buf.
 */
#ifndef SCALEPROF_ATTRIBUTION_H
#define SCALEPROF_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "fit.h"
#include "profile.h"

#define ATTR_GROUP_CORR 0.98   /* curves correlating above this are one group */
#define ATTR_CULPRIT_SHARE 0.5 /* the culprit carries at least this share of c */

/* One observation: a point (or one repeat of it). Order must match the n[] the
 * fit_design was prepared with. */
struct attr_point {
    double services;
    double window_s;
    const char *cpu_prof; /* path of the point's profile; NULL when it has none */
    const char *missing;  /* with cpu_prof NULL: why, for the skipped list */
};

struct attr_func {
    char *name;
    char *file; /* declaration file, NULL without DWARF */
    int line;
    double *self, *cum;           /* CPU s/s at each observation [count] */
    struct fit_result fit;        /* of self */
    struct fit_result cum_fit;    /* of cum */
    double self_share;            /* fit.c / total c */
    double cum_share;             /* cum_fit.c / total c */
    bool has_exponent;            /* false when self is not positive at every point */
    struct fit_exponent exponent; /* of self − a, else of self */
    int group;                    /* 1-based; functions in one group share a cause */
    bool own; /* in the profiled program, not a shared library (profile_func.own) */
};

struct attr_path {
    char *stack;  /* "root;…;leaf" */
    double *cost; /* CPU s/s at each observation [count] */
    struct fit_result fit;
    double share; /* fit.c / total c */
};

struct attribution {
    size_t count;  /* observations */
    double *n;     /* services per observation (copy) */
    double *total; /* profile CPU s/s per observation */
    struct fit_result total_fit;
    struct attr_func *funcs; /* sorted by self_share, largest first */
    size_t nfuncs;
    struct attr_path *paths; /* sorted by fit.c, largest first */
    size_t npaths;
    /* The call path down to the lowest frame carrying >= ATTR_CULPRIT_SHARE
     * of total c ("main;loop;poll;read"); NULL when none does (total c not
     * positive). culprit is the lowest frame on it that is the program's own
     * code (poll): a system call or library leaf (read) is charged to the
     * caller a person would change; when no frame is, the leaf. culprit_leaf
     * is the path's last frame. All three are owned. */
    char *culprit_path, *culprit, *culprit_leaf;
    double culprit_share; /* of culprit (its cumulative c / total c) */
    /* Observation k was input point obs[k] (they differ when unreadable
     * profiles were skipped; the fits then use design, over the kept
     * observations with their original weights). */
    size_t *obs;
    struct fit_design design;
    bool own_design;
};

/* Reads every CPU profile, any format (binary overrides the main executable as
 * in profile_options) and fits everything over d. Returns 0, or -1 with a
 * message (unreadable profile: the message names it). */
int attribution_build(struct attribution *a, const struct attr_point *pts, size_t count,
                      const struct fit_design *d, const char *binary, struct buf *err);
void attribution_free(struct attribution *a);

/* What attribution_build_measure fits (the other builders are shorthands). */
struct attr_options {
    enum profile_measure measure; /* CPU_NS, INUSE_BYTES, DELAY_NS, GOROUTINES, … */
    bool per_second;              /* divide by each point's window_s (ns → s first) */
    const char *binary;           /* as in profile_options */
    const char *own_regex;        /* as in profile_options */
};
/* Any measure over any format's profiles (pts[i].cpu_prof is then the path
 * of the profile holding it). With skipped not NULL, an unreadable profile
 * (missing, truncated, corrupt, without the measure) is named in skipped (one
 * line each) and left out, and the rest are fitted with the same weights: -1
 * only on out of memory, or when fewer than 3 distinct N remain. Heap
 * measures drop allocator frames (a stack's leaf is the code that asked for
 * memory); totals are the sums over the stacks that remain. */
int attribution_build_measure(struct attribution *a, const struct attr_point *pts, size_t count,
                              const struct fit_design *d, const struct attr_options *o,
                              struct buf *skipped, struct buf *err);

/* Refits everything over d (the design a was built over, since switched by
 * the caller, e.g. with fit_fix_a_at_zero once the total's free fit gave
 * a < 0): the fits, ranks, groups and culprit. When a has a design of its own
 * (profiles were skipped), that one is switched the same way and used.
 * Returns 0, or -1 with a message. */
int attribution_refit(struct attribution *a, const struct fit_design *d, struct buf *err);

/* The function named name, or NULL. */
const struct attr_func *attribution_find(const struct attribution *a, const char *name);
/* The same for the first len bytes of name (a frame of a "root;…;leaf"
 * path), at any length. */
const struct attr_func *attribution_find_n(const struct attribution *a, const char *name,
                                           size_t len);

/* scaling.folded: one line "root;…;leaf c" per call path with c > 0, c in CPU
 * nanoseconds per second per service² (so flame graph tools get plain decimals). */
int attribution_write_folded(const struct attribution *a, const char *path, struct buf *err);

/* A scaling flame graph (flamegraph.c): an SVG whose frame widths are the
 * super-linear term c by call path. Self-contained, no scripts needed. */
int attribution_write_flamegraph(const struct attribution *a, const char *path, const char *title,
                                 struct buf *err);

#endif
