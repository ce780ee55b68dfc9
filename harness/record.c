/*
 * record: `scaleprof record --pid PID --out FILE [--duration 10] [--hz 99]
 * [--mode auto]`.
 * Profiles a running process tree with the perf profiler (perf_profiler.h),
 * as a sweep's window does, and writes a pprof profile (cpu.pb.gz) that
 * `scaleprof top`, `pprof` and the analysis read. For a look at one process
 * outside a sweep, and for measuring what sampling costs a target
 * (bench/perf_overhead.sh). Prints the sampled CPU (and, per thread, what
 * the events counted), the mode, the samples whose call chain reached the
 * thread's entry, and what scaleprof's reader thread spent.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "opts.h"
#include "perf_profiler.h"
#include "record.h"

static const char record_usage[] =
    "usage: scaleprof record --pid PID --out FILE [--duration S] [--hz HZ] [--mode M]\n"
    "\n"
    "Samples a running process and every process and thread of its tree with\n"
    "perf_event_open (cpu-clock), unwinds each sample from the binaries' CFI (no frame\n"
    "pointers needed) and writes a gzip'd pprof profile: `scaleprof top FILE`.\n"
    "\n"
    "  --pid PID       the root of the tree to sample\n"
    "  --out FILE      the profile to write (cpu.pb.gz); an existing file is refused\n"
    "  --duration S    seconds to sample, whole (default 10)\n"
    "  --hz HZ         samples per CPU-second, 1..1000 (default 99)\n"
    "  --mode M        auto (default): one event per CPU for every task, keeping the\n"
    "                  tree's samples, where permitted (root, CAP_PERFMON or\n"
    "                  kernel.perf_event_paranoid <= 0), else per-thread;\n"
    "                  per-cpu: that or fail; per-thread: one event per thread and CPU\n"
    "                  (undercounts threads using under a period of CPU per CPU)\n"
    "Exit: 0 ok, 1 the kernel refused or the profile could not be written, 2 usage.\n";

enum { RECORD_OPT_PID = 256, RECORD_OPT_OUT, RECORD_OPT_DURATION, RECORD_OPT_HZ, RECORD_OPT_MODE };

static const char *const record_modes[] = {"auto", "per-cpu", "per-thread", NULL};
static const enum perf_mode record_mode_values[] = {PERF_MODE_AUTO, PERF_MODE_PER_CPU,
                                                    PERF_MODE_PER_THREAD};

static const struct option record_options[] = {
    {"pid", required_argument, NULL, RECORD_OPT_PID},
    {"out", required_argument, NULL, RECORD_OPT_OUT},
    {"duration", required_argument, NULL, RECORD_OPT_DURATION},
    {"hz", required_argument, NULL, RECORD_OPT_HZ},
    {"mode", required_argument, NULL, RECORD_OPT_MODE},
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t stop_now;
static void on_signal(int sig)
{
    stop_now = sig;
}

int cmd_record(int argc, char **argv)
{
    long pid = 0, duration = 10, hz = 99;
    int mode = 0;
    const char *out = NULL;
    struct opts o;
    opts_init(&o, "record", record_usage, record_options, NULL, argc, argv);
    for (int c; (c = opts_next(&o)) != OPTS_END;) {
        int rc = 0;
        switch (c) {
        case OPTS_STOP:
            return o.exit;
        case OPTS_ARG:
            return opts_error(&o, "unexpected argument '%s'", o.arg);
        case RECORD_OPT_PID:
            rc = opts_whole(&o, "a pid", 1, INT_MAX, &pid);
            break;
        case RECORD_OPT_OUT:
            out = o.arg;
            break;
        case RECORD_OPT_DURATION:
            rc = opts_whole(&o, "whole seconds", 1, 86400, &duration);
            break;
        case RECORD_OPT_HZ:
            rc = opts_whole(&o, "samples per second", 1, 1000, &hz);
            break;
        case RECORD_OPT_MODE:
            rc = opts_choice(&o, record_modes, &mode);
            break;
        }
        if (rc < 0)
            return OPTS_USAGE;
    }
    if (!pid || !out)
        return opts_error(&o, "--pid PID and --out FILE are required");
    struct stat st_out;
    if (lstat(out, &st_out) == 0) { /* whatever it is, readable or not, a link or not */
        fprintf(stderr, "scaleprof record: %s exists; not overwritten\n", out);
        return 2;
    }
    struct perf_options po;
    perf_options_default(&po);
    po.hz = (unsigned)hz;
    po.mode = record_mode_values[mode];
    struct perf_profiler *p;
    struct buf err;
    buf_init(&err, 4096);
    if (perf_profiler_start(&p, (pid_t)pid, &po, &err) != PERF_OK) {
        fprintf(stderr, "scaleprof record: %s\n", err.data ? err.data : "could not start");
        buf_free(&err);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += duration;
    for (;;) { /* bounded by the duration; a signal ends it early, the profile is kept */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (stop_now || now.tv_sec > end.tv_sec ||
            (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            break;
        struct timespec tick = {0, 50 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    struct perf_stats st;
    int rc = perf_profiler_stop(p, out, &st, &err) == PERF_OK ? 0 : 1;
    if (rc)
        fprintf(stderr, "scaleprof record: %s\n", err.data ? err.data : "write failed");
    printf("samples %llu (complete chains %llu, %.1f%%), lost %llu, processes %llu, threads %llu\n",
           (unsigned long long)st.samples, (unsigned long long)st.samples_complete,
           st.samples ? 100.0 * (double)st.samples_complete / (double)st.samples : 0.0,
           (unsigned long long)st.lost, (unsigned long long)st.processes,
           (unsigned long long)st.threads);
    if (st.per_cpu)
        printf("sampled CPU %.3f s, over %.3f s; kernel time %s\n"
               "per CPU: %llu samples of other processes dropped\n",
               (double)st.sampled_cpu_ns / 1e9, (double)st.duration_ns / 1e9,
               st.kernel_sampled ? "sampled" : "not sampled (user time only)",
               (unsigned long long)st.samples_other);
    else
        printf("sampled CPU %.3f s, counted CPU %.3f s, over %.3f s; kernel time %s\n"
               "per thread: threads using under a period of CPU per CPU are undercounted\n",
               (double)st.sampled_cpu_ns / 1e9, (double)st.counted_cpu_ns / 1e9,
               (double)st.duration_ns / 1e9,
               st.kernel_sampled ? "sampled" : "not sampled (user time only)");
    if (st.steal_ns)
        printf("the hypervisor stole %.1f%% of the busy CPU time (samples count what was "
               "stolen while a sampled task ran; the process's CPU does not)\n",
               100.0 * (double)st.steal_ns / (double)(st.busy_ns + st.steal_ns));
    printf("scaleprof's reader thread: %.3f s of CPU\n", (double)st.reader_cpu_ns / 1e9);
    buf_free(&err);
    return rc;
}
