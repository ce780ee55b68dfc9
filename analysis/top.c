/*
 * top: `scaleprof top PROFILE [--binary PATH] [--cum] [-n 20] [--alloc] [--objects]`
 * A native replacement for `pprof --top` on any profile the analysis reads
 * (profile.h: gperftools, pprof): load it through the format interface, sum
 * flat (leaf) and cumulative (anywhere in the stack, once per stack) values
 * per function, print the same columns as pprof.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "profile.h"

struct top_row {
    uint32_t func;
    uint64_t flat, cum;
};

struct top_table {
    struct top_row *rows; /* one per function, sorted */
    size_t nrows;
    uint64_t total;
};

static const struct profile_session *sort_ps;
static bool sort_cum;

static int top_cmp(const void *pa, const void *pb)
{
    const struct top_row *a = pa, *b = pb;
    uint64_t ka = sort_cum ? a->cum : a->flat, kb = sort_cum ? b->cum : b->flat;
    if (ka != kb)
        return ka > kb ? -1 : 1;
    uint64_t sa = sort_cum ? a->flat : a->cum, sb = sort_cum ? b->flat : b->cum;
    if (sa != sb)
        return sa > sb ? -1 : 1;
    return strcmp(profile_func(sort_ps, a->func)->name, profile_func(sort_ps, b->func)->name);
}

/* Sums measure m of every sample per function. Heap measures skip the
 * allocator's frames with everything below them, so the row names the code
 * that asked for memory (pprof's RemoveUninterestingFrames). 0 or -1. */
static int top_compute(const struct profile *p, const struct profile_session *s,
                       enum profile_measure m, bool by_cum, struct top_table *t)
{
    memset(t, 0, sizeof(*t));
    bool heap = p->kind == PROFILE_HEAP;
    size_t nf = profile_func_count(s);
    uint64_t *flat = calloc(nf ? nf : 1, sizeof(*flat));
    uint64_t *cum = calloc(nf ? nf : 1, sizeof(*cum));
    size_t *stamp = calloc(nf ? nf : 1, sizeof(*stamp)); /* sample + 1 that last added to cum */
    uint32_t ids[PROFILE_MAX_DEPTH];
    int rc = -1;
    if (!flat || !cum || !stamp)
        goto out;
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct profile_sample *smp = &p->samples[i];
        uint64_t v = smp->v[m] > 0 ? (uint64_t)smp->v[m] : 0;
        uint32_t n = 0;
        for (uint32_t k = 0; k < smp->depth; k++) {
            uint32_t id = p->frames[smp->frame_index + k];
            if (heap && profile_is_allocator(profile_func(s, id)->name)) {
                n = 0; /* drop the allocator's own frames and everything inside it */
                continue;
            }
            ids[n++] = id;
        }
        if (n == 0)
            continue;
        flat[ids[0]] += v;
        for (uint32_t k = 0; k < n; k++) {
            if (stamp[ids[k]] != i + 1) {
                stamp[ids[k]] = i + 1;
                cum[ids[k]] += v;
            }
        }
        t->total += v;
    }
    t->rows = calloc(nf ? nf : 1, sizeof(*t->rows));
    if (!t->rows)
        goto out;
    for (uint32_t id = 0; id < nf; id++)
        if (flat[id] || cum[id])
            t->rows[t->nrows++] = (struct top_row){id, flat[id], cum[id]};
    sort_ps = s;
    sort_cum = by_cum;
    qsort(t->rows, t->nrows, sizeof(*t->rows), top_cmp);
    rc = 0;
out:
    free(flat);
    free(cum);
    free(stamp);
    return rc;
}

enum top_unit { TOP_COUNT, TOP_BYTES, TOP_NANOSECONDS };

static enum top_unit unit_of(enum profile_measure m)
{
    if (m == PROFILE_INUSE_BYTES || m == PROFILE_ALLOC_BYTES)
        return TOP_BYTES;
    return m == PROFILE_CPU_NS || m == PROFILE_DELAY_NS ? TOP_NANOSECONDS : TOP_COUNT;
}

static void top_units(char *out, size_t len, uint64_t v, enum top_unit u)
{
    if (u == TOP_BYTES)
        snprintf(out, len, "%.1f", (double)v / 1048576.0);
    else if (u == TOP_NANOSECONDS)
        snprintf(out, len, "%.2fs", (double)v / 1e9);
    else
        snprintf(out, len, "%llu", (unsigned long long)v);
}

static double pct(uint64_t v, uint64_t total)
{
    return total ? 100.0 * (double)v / (double)total : 0.0;
}

static void top_write(FILE *out, const struct top_table *t, const struct profile_session *s,
                      enum profile_measure m, size_t limit)
{
    enum top_unit u = unit_of(m);
    static const char *const what[PROFILE_NMEASURES] = {
        [PROFILE_SAMPLES] = "samples",
        [PROFILE_INUSE_OBJECTS] = "objects in use",
        [PROFILE_ALLOC_OBJECTS] = "objects allocated",
        [PROFILE_GOROUTINES] = "goroutines",
        [PROFILE_CONTENTIONS] = "contentions",
        [PROFILE_CPU_NS] = "of CPU",
        [PROFILE_DELAY_NS] = "of delay",
    };
    if (u == TOP_BYTES)
        fprintf(out, "Total: %.1f MB\n", (double)t->total / 1048576.0);
    else if (u == TOP_NANOSECONDS)
        fprintf(out, "Total: %.2fs %s\n", (double)t->total / 1e9, what[m]);
    else
        fprintf(out, "Total: %llu %s\n", (unsigned long long)t->total, what[m]);
    uint64_t sum = 0;
    char f[32], c[32];
    for (size_t i = 0; i < t->nrows && i < limit; i++) {
        const struct top_row *r = &t->rows[i];
        const struct profile_func *fn = profile_func(s, r->func);
        sum += r->flat;
        top_units(f, sizeof(f), r->flat, u);
        top_units(c, sizeof(c), r->cum, u);
        fprintf(out, "%8s %5.1f%% %5.1f%% %8s %5.1f%% %s", f, pct(r->flat, t->total),
                pct(sum, t->total), c, pct(r->cum, t->total), fn->name);
        if (fn->file)
            fprintf(out, " %s:%d", fn->file, fn->line);
        fputc('\n', out);
    }
}

/* The measure a view shows: CPU in samples when the profile counts them (as
 * pprof --top does for gperftools), else in time; heap in-use or allocated,
 * bytes or objects; contention delay, or events with --objects. */
static enum profile_measure top_measure(const struct profile *p, bool alloc, bool objects)
{
    switch (p->kind) {
    case PROFILE_CPU:
        return PROFILE_HAS(p, PROFILE_SAMPLES) ? PROFILE_SAMPLES : PROFILE_CPU_NS;
    case PROFILE_HEAP: {
        enum profile_measure m = alloc ? (objects ? PROFILE_ALLOC_OBJECTS : PROFILE_ALLOC_BYTES)
                                       : (objects ? PROFILE_INUSE_OBJECTS : PROFILE_INUSE_BYTES);
        if (!PROFILE_HAS(p, m)) /* a Go heap profile has all four; another may not */
            m = alloc ? (objects ? PROFILE_INUSE_OBJECTS : PROFILE_INUSE_BYTES)
                      : (objects ? PROFILE_ALLOC_OBJECTS : PROFILE_ALLOC_BYTES);
        return m;
    }
    case PROFILE_CONTENTION:
        return objects ? PROFILE_CONTENTIONS : PROFILE_DELAY_NS;
    default:
        return profile_default_measure(p->kind);
    }
}

static const char top_usage[] =
    "usage: scaleprof top PROFILE [--binary PATH] [--cum] [-n 20] [--alloc] [--objects]\n"
    "\n"
    "The functions of a profile (gperftools CPU or heap; pprof protobuf: CPU, heap,\n"
    "allocs, goroutine, mutex, block), hottest first, in the columns of pprof --top:\n"
    "flat, flat%, sum%, cum, cum%, name and source line.\n"
    "\n"
    "  --binary PATH  the main executable to symbolize with (default: the one the\n"
    "                 profile's maps name)\n"
    "  --cum          sort by cumulative value instead of flat\n"
    "  -n N           rows to print (default 20)\n"
    "  --alloc        heap profiles: everything allocated, not what is in use\n"
    "  --objects      heap profiles: count objects, not bytes; mutex and block\n"
    "                 profiles: count contentions, not delay\n"
    "Exit: 0 ok, 2 unreadable profile or usage.\n";

enum { TOP_OPT_BINARY = 256, TOP_OPT_CUM, TOP_OPT_ALLOC, TOP_OPT_OBJECTS, TOP_OPT_ROWS = 'n' };

static const struct option top_options[] = {
    {"binary", required_argument, NULL, TOP_OPT_BINARY},
    {"cum", no_argument, NULL, TOP_OPT_CUM},
    {"alloc", no_argument, NULL, TOP_OPT_ALLOC},
    {"objects", no_argument, NULL, TOP_OPT_OBJECTS},
    {NULL, 0, NULL, 0},
};

int cmd_top(int argc, char **argv)
{
    const char *path = NULL, *binary = NULL;
    bool by_cum = false, alloc = false, objects = false;
    long limit = 20;
    struct opts o;
    opts_init(&o, "top", top_usage, top_options, "n:", argc, argv);
    for (int c; (c = opts_next(&o)) != OPTS_END;) {
        switch (c) {
        case OPTS_STOP:
            return o.exit;
        case OPTS_ARG:
            if (path)
                return opts_error(&o, "unexpected argument '%s' (PROFILE is '%s')", o.arg, path);
            path = o.arg;
            break;
        case TOP_OPT_BINARY:
            binary = o.arg;
            break;
        case TOP_OPT_CUM:
            by_cum = true;
            break;
        case TOP_OPT_ALLOC:
            alloc = true;
            break;
        case TOP_OPT_OBJECTS:
            objects = true;
            break;
        case TOP_OPT_ROWS:
            if (opts_whole(&o, "a row count", 1, LONG_MAX, &limit) < 0)
                return OPTS_USAGE;
            break;
        }
    }
    if (!path)
        return opts_error(&o,
                          "PROFILE (a CPU, heap, goroutine, mutex or block profile) is required");
    char err[512];
    struct profile_session *s;
    struct profile_options po = {.binary = binary};
    if (profile_session_open(&s, &po, err, sizeof(err))) {
        fprintf(stderr, "scaleprof top: %s\n", err);
        return 2;
    }
    struct profile p;
    if (profile_load(s, path, &p, err, sizeof(err))) {
        fprintf(stderr, "scaleprof top: %s\n", err);
        profile_session_close(s);
        return 2;
    }
    enum profile_measure m = top_measure(&p, alloc, objects);
    struct top_table t;
    int rc = 0;
    if (top_compute(&p, s, m, by_cum, &t)) {
        fprintf(stderr, "scaleprof top: %s: out of memory\n", path);
        rc = 2;
    } else {
        top_write(stdout, &t, s, m, (size_t)limit);
        free(t.rows);
    }
    profile_free(&p);
    profile_session_close(s);
    return rc;
}
