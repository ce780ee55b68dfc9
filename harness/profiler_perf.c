/*
 * profiler_perf: the harness samples the target's whole process tree itself
 * (perf_profiler.h: perf_event_open cpu-clock at --hz, 99 by default, user stacks unwound
 * with libdw from the binaries' CFI), for programs that serve no profile.
 * The window's profile is cpu.pb.gz (pprof protobuf, address-only: the
 * analysis symbolizes it like a gperftools profile). A note says which mode
 * ran: per CPU (the default where permitted), or per thread, whose samples
 * undercount light threads (the note gives the share of the counted CPU
 * they hold). When the kernel refuses (perf_event_paranoid, no CAP_PERFMON)
 * the point goes on with process measurements and the reason says what to
 * set.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf_profiler.h"
#include "profiler.h"

static int perf_start(struct profiler_point *pp, void **state)
{
    *state = NULL;
    struct perf_profiler *p = NULL;
    struct buf err;
    buf_init(&err, 4096);
    struct perf_options o;
    perf_options_default(&o);
    if (pp->hz)
        o.hz = pp->hz;
    int rc = perf_profiler_start(&p, pp->pid, &o, &err);
    if (rc != PERF_OK) {
        snprintf(pp->out->reason, sizeof pp->out->reason, "perf: %s",
                 err.data ? err.data : "could not start");
        buf_free(&err);
        return -1;
    }
    buf_free(&err);
    *state = p;
    return 0;
}

static void perf_finish(struct profiler_point *pp, void *state, bool keep)
{
    struct perf_profiler *p = state;
    if (!p)
        return;
    struct point_profile *out = pp->out;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cpu.pb.gz", pp->dir);
    struct perf_stats st;
    struct buf err;
    buf_init(&err, 4096);
    int rc = perf_profiler_stop(p, keep ? path : NULL, &st, &err);
    if (!keep) {
        buf_free(&err);
        return;
    }
    if (rc == PERF_OK) {
        snprintf(out->cpu_file, sizeof out->cpu_file, "cpu.pb.gz");
    } else if (!out->io_error[0]) {
        /* the profile could not be written: a results file, so the point fails */
        snprintf(out->io_error, sizeof out->io_error, "perf profile: %.200s",
                 err.data ? err.data : "write failed");
    }
    buf_free(&err);
    out->samples = (long)st.samples;
    out->sampled_cpu_ns = (double)st.sampled_cpu_ns;
    out->complete_share = st.samples ? (double)st.samples_complete / (double)st.samples : -1;
    out->lost = (long)st.lost;
    if (st.per_cpu)
        profiler_add_note(pp, "perf: per CPU, %llu samples of other processes dropped",
                          (unsigned long long)st.samples_other);
    else
        profiler_add_note(pp,
                          "perf: per thread (per-CPU events need root, CAP_PERFMON or "
                          "kernel.perf_event_paranoid <= 0): threads using under a period per "
                          "CPU are undercounted; samples hold %.0f%% of the CPU the events "
                          "counted",
                          st.counted_cpu_ns
                              ? 100.0 * (double)st.sampled_cpu_ns / (double)st.counted_cpu_ns
                              : 0.0);
    if (st.tree_untracked)
        profiler_add_note(pp, "perf: %llu processes of the tree past the cap, not sampled",
                          (unsigned long long)st.tree_untracked);
    if (!st.kernel_sampled)
        profiler_add_note(pp, "perf: user time only (kernel.perf_event_paranoid > 1 and no "
                              "CAP_PERFMON): system-call time is not in the profile");
    if (st.lost)
        profiler_add_note(pp, "perf: %llu records lost", (unsigned long long)st.lost);
    if (st.samples_dropped)
        profiler_add_note(pp, "perf: %llu samples dropped at a table cap",
                          (unsigned long long)st.samples_dropped);
}

static int perf_after(struct profiler_point *pp)
{
    return 0;
}

const struct profiler profiler_perf = {
    .name = "perf",
    .window_start = perf_start,
    .window_finish = perf_finish,
    .collect_after = perf_after,
};
