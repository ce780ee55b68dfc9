/*
 * profiler: what produces a point's profiles. One backend per kind, one file
 * each, all driven the same way by sweep_point.c:
 *
 *   window_start   when the window opens (an HTTP fetch that answers after
 *                  the window, or a sampler the harness runs itself);
 *   (the window)   sweep_point runs the point's fetcher while it samples /proc;
 *   window_finish  once every transfer is done: write the window's files;
 *   collect_after  the profiles taken after the window (heap, goroutines, …).
 *
 * Kinds: gperftools (the target serves gperftools profiles: refproxy), go
 * (net/http/pprof), perf (the harness samples the process tree with
 * perf_event_open), none. `--profiler auto` asks the target's /debug/pprof/
 * index which it serves, in table order, and takes perf when it serves none.
 *
 * A point stands on its process measurements: no CPU profile (the kernel
 * refused perf, the endpoint failed) is recorded in point_profile.reason and
 * the point goes on; only a signal stops it.
 */
#ifndef SCALEPROF_PROFILER_H
#define SCALEPROF_PROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fetch.h"

/* What a point's profiling produced, for stats.json (sweep_json.c). */
struct point_profile {
    const char *profiler; /* the backend's name (static) */
    char cpu_file[32];    /* "cpu.prof", "cpu.pb.gz"; "" when there is none */
    char reason[512];     /* why there is no CPU profile; "" when there is one */
    char notes[512];      /* what was not collected and why ("mutex profiling not enabled") */
    char io_error[256];   /* a file could not be written (disk full): the point fails */
    long samples;         /* gperftools CPU profiles: samples; else -1 */
    long period_us;       /* gperftools CPU profiles: the period; else -1 */
    /* perf: sampled CPU and the share of samples whose call chain reached the
     * thread's entry; -1 when not measured */
    double sampled_cpu_ns, complete_share;
    long lost;
};

/* What a backend sees of the point. */
struct profiler_point {
    const char *admin;       /* the target's admin host:port; NULL when it has none */
    pid_t pid;               /* the target's root pid */
    double duration_s;       /* the window */
    unsigned hz;             /* samplers' samples per CPU-second (perf) */
    long fetch_timeout_ms;   /* allowance for each fetch beyond its own duration */
    const char *dir;         /* the point's folder: files are written there */
    bool want_heap;          /* heap profiling was asked for (refproxy: heapProfile) */
    struct fetcher *fetcher; /* the window's transfers; sweep_point runs them */
    volatile int *signal;    /* non-zero: stop now */
    struct point_profile *out;
    /* A line for the user (progress message); ctx is note_ctx. */
    void (*note)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void *note_ctx;
};

struct profiler {
    const char *name;
    /* True when the target's /debug/pprof/ index (body, NUL-terminated) shows
     * it serves this kind. NULL: never picked by auto from an index. */
    bool (*serves)(const char *index);
    /* Starts the window's profiles; *state is the backend's until finish.
     * 0, or -1: no CPU profile this window (out->reason says why). */
    int (*window_start)(struct profiler_point *pp, void **state);
    /* After the window, every transfer done: writes the window's files (when
     * keep; not for a window the target died in or a signal cut short) and
     * frees state. Failures are recorded in out, never fatal. */
    void (*window_finish)(struct profiler_point *pp, void *state, bool keep);
    /* After the window: the profiles taken at the end. 0, or -1 on a signal. */
    int (*collect_after)(struct profiler_point *pp);
};

extern const struct profiler profiler_gperftools;
extern const struct profiler profiler_go;
extern const struct profiler profiler_perf;
extern const struct profiler profiler_none;

/* The backend named name ("auto" is not a backend), or NULL. */
const struct profiler *profiler_by_name(const char *name);
/* --profiler auto: the first backend whose serves() accepts the index (NULL
 * when the target has no index), else perf. */
const struct profiler *profiler_pick(const char *index);
/* The names --profiler takes, for usage texts and errors: "auto|gperftools|…". */
const char *profiler_names(void);

/* Helpers for backends. */

/* Starts GET http://admin/path on pp's fetcher, to answer after the window
 * (timeout: window + fetch allowance). 0, or -1 (fx->error says why). */
int profiler_fetch_start(struct profiler_point *pp, struct fetch *fx, const char *path);
/* GET http://admin/path now (timeout: the fetch allowance) and write the body
 * to file in the point's folder. 1 written, 0 not served (HTTP status or
 * error in *why, when why is not NULL), -1 on a signal. */
int profiler_fetch_file(struct profiler_point *pp, const char *path, const char *file, char *why,
                        size_t whylen);
/* Writes body to file in the point's folder (temp name + rename). 0 or -1,
 * with the failure in out->io_error: results that cannot be written fail the
 * point (a missing profile alone does not). */
int profiler_save(struct profiler_point *pp, const char *file, const void *body, size_t len);
/* Appends a note ("; "-separated) to out->notes. */
void profiler_add_note(struct profiler_point *pp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
