/*
 * results: reads a results folder (results/README.md) into memory — the
 * sweep.json manifest, every point's stats.json, metrics.prom (task CPU and
 * the tasks' entry-function prefixes) and thread_count.txt. A point that is
 * missing, failed, corrupt, contaminated or underloaded is kept with its
 * status and a reason, never dropped silently, and loading goes on with the
 * rest. Only points with status "ok" feed the model. A point whose stats.json
 * shows its load fell short (load_rule.h) is underloaded whatever sweep.json
 * says, so older results are judged alike. The one reader of a results
 * folder: analyze, gate and diff all go through it.
 */
#ifndef SCALEPROF_RESULTS_H
#define SCALEPROF_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* One Prometheus text-format sample: name{k="v",...} value. */
struct prom_label {
    char *key, *value;
};
struct prom_sample {
    char *name;
    struct prom_label *labels;
    size_t nlabels;
    double value;
};
struct prom_set {
    struct prom_sample *samples;
    size_t count;
};

/* Parses Prometheus text. Returns 0, or -1 with a message naming the line in
 * err (the samples parsed so far are kept; the caller frees them). */
int prom_parse(const char *text, size_t len, struct prom_set *out, struct buf *err);
void prom_free(struct prom_set *set);
/* Sum of every sample named name whose label key equals value (key NULL: all).
 * Returns false when no sample matched. */
bool prom_sum(const struct prom_set *set, const char *name, const char *key, const char *value,
              double *sum);

#define POINT_OK "ok"

struct point {
    int services, repeat, sequence;
    char *dir;       /* absolute path of the point's folder */
    char status[16]; /* ok | failed | contaminated | underloaded | missing | corrupt */
    char *reason;    /* why it is not ok ("" when ok) */
    /* stats.json */
    double window_s, cpu_ns, cpu_percent;
    double cpu_s_per_s; /* cpu_ns / 1e9 / window_s: the model's y */
    double rss_bytes, threads, wakeups_per_s, run_delay_share;
    double pss_bytes; /* NaN when stats.json has none (older sweeps, PSS unreadable) */
    double mem_bytes; /* memory for the model: see results.mem_source */
    bool has_load;    /* stats.json has "load" (a --load sweep) */
    double load_rps_target, load_rps_achieved, load_requests, load_errors;
    /* metrics.prom: CPU seconds per second of each task (index into
     * results.task_names; 0 where a task did not report) */
    double *task_cpu;
    bool has_metrics;
    bool metrics_is_delta; /* true: from metrics_start.prom deltas over the window */
    char *cpu_prof;        /* path of the CPU profile (stats.json's cpu_profile, else cpu.prof or
                            * cpu.pb.gz) when present, else NULL */
    char *profiler;        /* stats.json: which profiler ran ("gperftools", "go", "perf", …) */
    char *profile_reason;  /* why there is no CPU profile, NULL when there is */
    char *profile_notes;   /* what else was not collected, NULL when nothing */
};

/* sweep.json "sequential", written by `sweep --until-decided`: the looks'
 * design, which analyze and gate apply too (analysis/sequential.h). */
struct results_sequential {
    bool on;               /* false: a fixed design, judged once */
    int first_rounds;      /* rounds before the first look */
    int max_rounds;        /* rounds at the last possible look */
    int rounds;            /* rounds that ran */
    size_t looks;          /* looks taken */
    double confidence;     /* the level the sweep decided at */
    char stopped[24];      /* decided | max_rounds | budget | interrupted | ... */
    char last_verdict[16]; /* the verdict of the last look ("" when none) */
};

struct results {
    char *root; /* absolute results folder */
    char *sweep_status;
    char *target_name;
    char *target_binary;
    double warmup_s, duration_s, load_rps;
    int repeat_flag;
    struct point *points;
    size_t count;
    char **task_names;
    size_t ntasks;
    /* refproxy_task_info{task,entry_prefix} 1 lines of the points' metrics.prom:
     * which functions run each task, as the target declared it (first seen
     * wins). A task without one has no mapping. */
    struct task_entry {
        char *task, *prefix;
    } * task_entries;
    size_t ntask_entries;
    size_t usable; /* points with status ok */
    /* "PSS" when every usable point has pss_bytes (a tree's memory with shared pages
     * counted once), else "RSS": what every point's mem_bytes holds, one measure for
     * all points so that memory per service compares across N. */
    const char *mem_source;
    bool has_manifest; /* read from sweep.json (results_load); false: results_scan */
    struct results_sequential seq;
};

/* Loads root. Returns 0 (some points may be unusable: see each status), or -1
 * when sweep.json itself is missing or unreadable, or its "sequential" design
 * is malformed (message in err, naming the field). */
int results_load(const char *root, struct results *r, struct buf *err);
/* Loads root without reading sweep.json: the points are its folders in the
 * layout of results/README.md, every <N>_services/run-<R>, or <N>_services
 * itself when it has no run-<R>, sorted by N then repeat (sequence follows
 * that order; the run order is unknown). Each is read and judged as with
 * results_load, except that stats.json needs only window_s: such folders may
 * hold profiles alone, so a point without cpu_ns is ok with cpu_ns and
 * cpu_s_per_s NaN (feed it to attribution, not to the model). Target and
 * flags keep their defaults. Returns 0, or -1 when root cannot be read
 * (message in err; nothing left to free). For `scaleprof diff` and tests; analyze and gate insist
 * on a manifest (results_load). */
int results_scan(const char *root, struct results *r, struct buf *err);
void results_free(struct results *r);
bool point_usable(const struct point *p);
/* The entry-function name prefix the target declared for task, or NULL when
 * its metrics.prom files have no refproxy_task_info line for it. Owned by r. */
const char *results_task_entry_prefix(const struct results *r, const char *task);

#endif
