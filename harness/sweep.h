/*
 * sweep: `scaleprof sweep` — run the target at each service count, collect
 * profiles and process statistics, and write a results folder laid out as in
 * results/README.md (the analysis reads exactly that).
 *
 * Shared types between sweep.c (the run) and sweep_json.c (the files).
 */
#ifndef SCALEPROF_SWEEP_H
#define SCALEPROF_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loadgen.h"
#include "procstat.h"
#include "profiler.h"

/* Share of the machine's CPU capacity other processes must use during a window before a
 * large run delay counts as contamination (see sweep_write_stats). */
#define SWEEP_OTHER_LOAD_SHARE 0.10

struct sweep_point {
    int services, repeat, sequence;
    char *dir;          /* relative to the results folder, e.g. "10_services/run-2" */
    char *config;       /* the config file it runs (in --configs) */
    char *point_file;   /* its point file (in --configs), or NULL when it has none */
    const char *status; /* "pending", "ok", "failed", "contaminated", "underloaded" */
    char *reason;       /* why it is not ok, "" otherwise (malloc'd) */
    char started_at[32], finished_at[32];
    double wall_s;  /* whole point, start to files written */
    int remeasured; /* contaminated attempts kept aside as <dir>.contaminated-<k> */
};

/* One look of --until-decided: the verdict on every round so far. */
struct sweep_look {
    int rounds;
    char verdict[16]; /* superlinear | linear | inconclusive | none (unreadable) */
    double c_t, t_crit, elapsed_s;
};

struct sweep_run {
    /* flags */
    const char *configs, *out, *order, *target_cmd, *admin_override;
    const char *profiler; /* --profiler: a backend's name or "auto" (NULL: auto) */
    unsigned hz;          /* --hz: perf's samples per CPU-second */
    double warmup_s, duration_s, contaminated_share, load_rps;
    double ready_timeout_s; /* 0: 30 s + 1 ms per service */
    int retry_contaminated; /* a contaminated point is measured again, up to this many times */
    double fetch_timeout_s; /* allowance for each fetch (the profile: window + this) */
    int repeat;
    unsigned long seed;
    bool force;
    /* what every point file says alike (NULL without point files) */
    char *point_target, *point_command, *point_upstream;
    char *point_format; /* POINTCFG_REFPROXY_YAML for configs without a point file */
    /* --until-decided: rounds are planned one at a time (repeat is the first
     * pass, max_rounds the last look), each look judged by the analysis at
     * look_confidence (analysis/sequential.h) */
    bool until_decided;
    int max_rounds;
    double budget_s;        /* 0: none */
    double confidence;      /* one-sided level the sweep decides at */
    double look_confidence; /* the corrected level of every look */
    const char *stopped;    /* seq_stop_name: "running" until it stops */
    struct sweep_look *looks;
    size_t num_looks;
    int rounds_planned;
    int rounds_done; /* rounds whose every point has run */
    uint64_t shuffle_state;
    /* target */
    const char *target_name;
    char *binary, *build_id;
    /* the run */
    const char *status; /* "running", "complete", "interrupted", "failed" */
    char started_at[32], finished_at[32];
    double loadavg_start[3], loadavg_end[3];
    int *counts;
    size_t num_counts;
    struct sweep_point *points;
    size_t num_points;
    /* --load pre-flight (sweep.c, before the first point) */
    bool load_checked;
    double load_asked_rps;         /* in all, at the largest count */
    double load_offered_rps;       /* in all: the generator against the origin alone */
    size_t load_connection_budget; /* connections the generator may hold (fds) */
};

struct point_stats {
    int services, repeat;
    int pid;
    double window_s;
    struct procstat first, last; /* at the window's start and end */
    struct procstat *samples;    /* one a second, including first and last */
    size_t num_samples;
    uint64_t threads_after;       /* from /proc after the window */
    struct point_profile profile; /* what the profiler produced, and why not */
    double contaminated_share;    /* the threshold */
    bool has_load;
    struct loadgen_result load;
};

struct progress;

/* What every point of a run shares (sweep.c owns it; sweep_point.c uses it). */
struct sweep_ctx {
    struct sweep_run *run;
    struct progress *progress;
    const char *command;    /* target command template with {config} */
    bool heap_by_command;   /* the command itself turns heap profiling on */
    const char *origin_url; /* --load: the origin services proxy to; NULL otherwise */
    const char *profiler;   /* --profiler (NULL: auto) */
    volatile int *signal;   /* set by the signal handler: stop now */
};

/* Runs one point: start, ready, warm up, window, collect, stop, write.
 * Sets p->status/reason/times. Returns 0, or -1 when interrupted. */
int sweep_run_point(struct sweep_ctx *ctx, struct sweep_point *p, int index);

/* Writes dir/stats.json. Returns 0 or -1 (errno). Sets *contaminated. */
int sweep_write_stats(const char *dir, const struct point_stats *s, bool *contaminated);
/* Writes out/sweep.json from the run as it is now. */
int sweep_write_manifest(const struct sweep_run *run);
/* The started_at of an existing out/sweep.json (malloc'd), or NULL. */
char *sweep_read_started_at(const char *manifest_path);
/* UTC "2026-11-22T12:00:00Z" into buf (>= 21 bytes). */
void sweep_timestamp(char *buf, size_t size);

/* The subcommand; argv[0] is "sweep". 0 all points ok, 1 some failed,
 * 2 usage error, 130/143 interrupted. */
int cmd_sweep(int argc, char **argv);

#endif
