/*
 * profiler_go: a Go server with net/http/pprof, fetched as the seed
 * investigation did by hand. Over the window, at once: the CPU profile
 * (profile?seconds=W) and the mutex and block profiles as deltas over the same
 * window (mutex?seconds=W, block?seconds=W: contention per second of window,
 * not since start). After the window: heap, allocs, goroutine (protobuf and
 * the debug=1 text), and whether mutex profiling is on (its debug=1 header
 * says "sampling period=0" when runtime.SetMutexProfileFraction was never set:
 * said once in the notes, not an error). Files: results/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler.h"

/* The window's deltas: file name and the path fetched over the window. */
static const struct {
    const char *file, *path;
    bool is_cpu;
} window_items[] = {
    {"cpu.pb.gz", "/debug/pprof/profile?seconds=%.0f", true},
    {"mutex.pb.gz", "/debug/pprof/mutex?seconds=%.0f", false},
    {"block.pb.gz", "/debug/pprof/block?seconds=%.0f", false},
};
#define NWINDOW (sizeof window_items / sizeof window_items[0])

struct go_window {
    struct fetch fx[NWINDOW];
};

/* net/http/pprof's index: "Types of profiles available" and a link to the
 * full goroutine dump, which no other server's index has. */
static bool go_serves(const char *index)
{
    return strstr(index, "goroutine?debug=2") || strstr(index, "Types of profiles available");
}

static int go_start(struct profiler_point *pp, void **state)
{
    *state = NULL;
    if (!pp->admin) {
        snprintf(pp->out->reason, sizeof pp->out->reason,
                 "the target has no admin endpoint to serve net/http/pprof");
        return -1;
    }
    struct go_window *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    for (size_t i = 0; i < NWINDOW; i++) {
        char path[96];
        snprintf(path, sizeof path, window_items[i].path, pp->duration_s);
        profiler_fetch_start(pp, &w->fx[i], path); /* a failure leaves fx done, with why */
    }
    *state = w;
    return 0;
}

static void go_finish(struct profiler_point *pp, void *state, bool keep)
{
    struct go_window *w = state;
    if (!w)
        return;
    for (size_t i = 0; i < NWINDOW && !keep; i++)
        fetch_cleanup(pp->fetcher, &w->fx[i]);
    for (size_t i = 0; i < NWINDOW && keep; i++) {
        struct fetch *fx = &w->fx[i];
        const char *file = window_items[i].file;
        bool got = fx->done && fx->result == CURLE_OK && fx->status == 200;
        if (got && profiler_save(pp, file, fx->body.data, fx->body.len) == 0) {
            if (window_items[i].is_cpu)
                snprintf(pp->out->cpu_file, sizeof pp->out->cpu_file, "%s", file);
        } else if (window_items[i].is_cpu) {
            snprintf(pp->out->reason, sizeof pp->out->reason, "CPU profile: %s",
                     got ? "writing cpu.pb.gz failed" : fetch_error(fx));
        } else {
            profiler_add_note(pp, "%s over the window: %s", file,
                              got ? "writing failed" : fetch_error(fx));
        }
        fetch_cleanup(pp->fetcher, fx);
    }
    free(w);
}

static int go_after(struct profiler_point *pp)
{
    static const struct {
        const char *path, *file;
    } items[] = {
        {"/debug/pprof/heap", "heap.pb.gz"},
        {"/debug/pprof/allocs", "allocs.pb.gz"},
        {"/debug/pprof/goroutine", "goroutine.pb.gz"},
        {"/debug/pprof/goroutine?debug=1", "goroutine.txt"},
        {"/debug/pprof/mutex?debug=1", "mutex.txt"},
    };
    char why[512];
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        int rc = profiler_fetch_file(pp, items[i].path, items[i].file, why, sizeof why);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            profiler_add_note(pp, "%s: %s", items[i].file, why);
            pp->note(pp->note_ctx, "%s: %s: %s (recorded, not fatal)", pp->dir, items[i].file, why);
        }
    }
    /* mutex.txt's header says whether the program ever turned mutex
     * profiling on; an empty profile alone could also mean no contention */
    char path[4096];
    snprintf(path, sizeof path, "%s/mutex.txt", pp->dir);
    FILE *f = fopen(path, "r");
    char line[256];
    for (int n = 0; f && n < 8 && fgets(line, sizeof line, f); n++)
        if (strncmp(line, "sampling period=0", 17) == 0)
            profiler_add_note(pp, "mutex profiling not enabled "
                                  "(runtime.SetMutexProfileFraction is 0)");
    if (f)
        fclose(f);
    return 0;
}

const struct profiler profiler_go = {
    .name = "go",
    .serves = go_serves,
    .window_start = go_start,
    .window_finish = go_finish,
    .collect_after = go_after,
};
