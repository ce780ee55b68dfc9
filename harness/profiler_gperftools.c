/*
 * profiler_gperftools: a target that serves its own CPU profile at
 * /debug/pprof/profile?seconds=N (refproxy: gperftools; any server whose
 * index is not Go's). The body is saved as it came, named by its format:
 * cpu.prof (gperftools binary), cpu.pb.gz (gzip: pprof protobuf). After the
 * window: heap.prof when heap profiling is on, and threads.txt when served.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler.h"

struct gperf_window {
    struct fetch cpu;
};

/* Sums the sample counts of a gperftools CPU profile (header 0,3,0,period,0;
 * records count,depth,pcs...; trailer 0,1,0); -1 when it is not one. */
static void count_samples(const struct buf *b, long *samples, long *period)
{
    *samples = *period = -1;
    const uintptr_t *w = (const uintptr_t *)(const void *)b->data;
    size_t n = b->len / sizeof *w;
    if (!b->data || n < 5 || w[0] != 0 || w[1] != 3 || w[2] != 0)
        return;
    *period = (long)w[3];
    long total = 0;
    size_t i = 2 + w[1]; /* header is 2 + header-words-count words */
    while (i + 2 <= n) {
        uintptr_t count = w[i], depth = w[i + 1];
        if (count == 0 && depth == 1 && i + 2 < n && w[i + 2] == 0)
            break; /* trailer */
        if (depth > 1024 || i + 2 + depth > n)
            return;
        total += (long)count;
        i += 2 + depth;
    }
    *samples = total;
}

/* Any index that is not Go's (go comes first in the table): the target
 * serves /debug/pprof/ and, by the convention refproxy follows, a profile. */
static bool gperf_serves(const char *index)
{
    return true;
}

static int gperf_start(struct profiler_point *pp, void **state)
{
    *state = NULL;
    if (!pp->admin) {
        snprintf(pp->out->reason, sizeof pp->out->reason,
                 "the target has no admin endpoint to serve a profile");
        return -1;
    }
    struct gperf_window *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/debug/pprof/profile?seconds=%.0f", pp->duration_s);
    profiler_fetch_start(pp, &w->cpu, path);
    *state = w;
    return 0;
}

static void gperf_finish(struct profiler_point *pp, void *state, bool keep)
{
    struct gperf_window *w = state;
    if (!w)
        return;
    if (!keep) {
        fetch_cleanup(pp->fetcher, &w->cpu);
        free(w);
        return;
    }
    struct point_profile *out = pp->out;
    if (w->cpu.done && w->cpu.result == CURLE_OK && w->cpu.status == 200) {
        const unsigned char *d = (const unsigned char *)w->cpu.body.data;
        bool gz = w->cpu.body.len >= 2 && d[0] == 0x1f && d[1] == 0x8b;
        const char *file = gz ? "cpu.pb.gz" : "cpu.prof";
        /* no body written means no file, never an empty one the analysis
         * would take for a truncated profile */
        if (profiler_save(pp, file, w->cpu.body.data, w->cpu.body.len) == 0)
            snprintf(out->cpu_file, sizeof out->cpu_file, "%s", file);
        else
            snprintf(out->reason, sizeof out->reason, "writing %s failed", file);
        if (!gz)
            count_samples(&w->cpu.body, &out->samples, &out->period_us);
    } else {
        char *u = NULL;
        if (w->cpu.easy) /* NULL when the transfer could not even be set up */
            curl_easy_getinfo(w->cpu.easy, CURLINFO_EFFECTIVE_URL, &u);
        snprintf(out->reason, sizeof out->reason, "CPU profile %s: %s", u ? u : "?",
                 fetch_error(&w->cpu));
    }
    fetch_cleanup(pp->fetcher, &w->cpu);
    free(w);
}

static int gperf_after(struct profiler_point *pp)
{
    char why[512];
    int rc;
    if (pp->want_heap) {
        rc = profiler_fetch_file(pp, "/debug/pprof/heap", "heap.prof", why, sizeof why);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            profiler_add_note(pp, "heap: %s", why);
            pp->note(pp->note_ctx, "%s: heap profile: %s (recorded, not fatal)", pp->dir, why);
        }
    }
    rc = profiler_fetch_file(pp, "/debug/pprof/threads", "threads.txt", why, sizeof why);
    if (rc < 0)
        return -1;
    if (rc == 0)
        pp->note(pp->note_ctx, "%s: threads: %s (recorded, not fatal)", pp->dir, why);
    return 0;
}

const struct profiler profiler_gperftools = {
    .name = "gperftools",
    .serves = gperf_serves,
    .window_start = gperf_start,
    .window_finish = gperf_finish,
    .collect_after = gperf_after,
};
