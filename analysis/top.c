/*
 * top: `scaleprof top PROFILE [--binary PATH] [--cum] [-n 20] [--alloc] [--objects]`
 * A native replacement for `pprof --top` on gperftools profiles: read, symbolize
 * each distinct address once, sum flat (leaf) and cumulative (anywhere in the
 * stack, once per stack) values per function, print the same columns as pprof.
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
#include "symbolize.h"

struct top_row {
    uint32_t func;
    uint64_t flat, cum;
};

struct top_table {
    struct top_row *rows; /* one per function, sorted */
    size_t nrows;
    uint64_t total;
};

/* Allocator frames, skipped with everything below them in heap stacks so the
 * row names the code that asked for memory (pprof's RemoveUninterestingFrames). */
static bool top_is_allocator(const char *name)
{
    return symbolize_is_allocator(name);
}

static const struct symbolizer *sort_sym;
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
    return strcmp(symbolize_func(sort_sym, a->func)->name, symbolize_func(sort_sym, b->func)->name);
}

/* Sums value v[vi] of every sample per function. Returns 0 or -1 (memory). */
static int top_compute(const struct profile *p, struct symbolizer *s, int vi, bool by_cum,
                       struct top_table *t)
{
    memset(t, 0, sizeof(*t));
    size_t cap = 0;
    uint64_t *flat = NULL, *cum = NULL;
    size_t *stamp = NULL; /* sample index + 1 that last added to cum: once per stack */
    uint32_t ids[PROFILE_MAX_DEPTH];
    int rc = -1;
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct profile_sample *smp = &p->samples[i];
        uint64_t v = smp->v[vi];
        uint32_t n = 0;
        for (uint32_t k = 0; k < smp->depth; k++) {
            uint32_t id = symbolize_addr(s, p->pcs[smp->pc_index + k], NULL);
            if (id == UINT32_MAX)
                goto out;
            if (p->kind == PROFILE_HEAP && top_is_allocator(symbolize_func(s, id)->name)) {
                n = 0; /* drop the allocator's own frames and everything inside it */
                continue;
            }
            ids[n++] = id;
        }
        if (n == 0)
            continue;
        size_t need = symbolize_func_count(s);
        if (need > cap) {
            size_t ncap = need * 2;
            uint64_t *nf = realloc(flat, ncap * sizeof(*nf));
            if (nf)
                flat = nf;
            uint64_t *nc = realloc(cum, ncap * sizeof(*nc));
            if (nc)
                cum = nc;
            size_t *ns = realloc(stamp, ncap * sizeof(*ns));
            if (ns)
                stamp = ns;
            if (!nf || !nc || !ns)
                goto out;
            memset(flat + cap, 0, (ncap - cap) * sizeof(*flat));
            memset(cum + cap, 0, (ncap - cap) * sizeof(*cum));
            memset(stamp + cap, 0, (ncap - cap) * sizeof(*stamp));
            cap = ncap;
        }
        flat[ids[0]] += v;
        for (uint32_t k = 0; k < n; k++) {
            if (stamp[ids[k]] != i + 1) {
                stamp[ids[k]] = i + 1;
                cum[ids[k]] += v;
            }
        }
        t->total += v;
    }
    size_t nf = symbolize_func_count(s);
    t->rows = calloc(nf ? nf : 1, sizeof(*t->rows));
    if (!t->rows)
        goto out;
    for (uint32_t id = 0; id < nf && id < cap; id++)
        if (flat[id] || cum[id])
            t->rows[t->nrows++] = (struct top_row){id, flat[id], cum[id]};
    sort_sym = s;
    sort_cum = by_cum;
    qsort(t->rows, t->nrows, sizeof(*t->rows), top_cmp);
    rc = 0;
out:
    free(flat);
    free(cum);
    free(stamp);
    return rc;
}

static void top_units(char *out, size_t len, uint64_t v, bool bytes)
{
    if (bytes)
        snprintf(out, len, "%.1f", (double)v / 1048576.0);
    else
        snprintf(out, len, "%llu", (unsigned long long)v);
}

static double pct(uint64_t v, uint64_t total)
{
    return total ? 100.0 * (double)v / (double)total : 0.0;
}

static void top_write(FILE *out, const struct top_table *t, const struct symbolizer *s, bool bytes,
                      size_t limit)
{
    if (bytes)
        fprintf(out, "Total: %.1f MB\n", (double)t->total / 1048576.0);
    else
        fprintf(out, "Total: %llu samples\n", (unsigned long long)t->total);
    uint64_t sum = 0;
    char f[32], c[32];
    for (size_t i = 0; i < t->nrows && i < limit; i++) {
        const struct top_row *r = &t->rows[i];
        const struct sym_func *fn = symbolize_func(s, r->func);
        sum += r->flat;
        top_units(f, sizeof(f), r->flat, bytes);
        top_units(c, sizeof(c), r->cum, bytes);
        fprintf(out, "%8s %5.1f%% %5.1f%% %8s %5.1f%% %s", f, pct(r->flat, t->total),
                pct(sum, t->total), c, pct(r->cum, t->total), fn->name);
        if (fn->file)
            fprintf(out, " %s:%d", fn->file, fn->line);
        fputc('\n', out);
    }
}

static const char top_usage[] =
    "usage: scaleprof top PROFILE [--binary PATH] [--cum] [-n 20] [--alloc] [--objects]\n"
    "\n"
    "The functions of a gperftools CPU or heap profile, hottest first, in the columns\n"
    "of pprof --top: flat, flat%, sum%, cum, cum%, name and source line.\n"
    "\n"
    "  --binary PATH  the main executable to symbolize with (default: the one the\n"
    "                 profile's maps name)\n"
    "  --cum          sort by cumulative value instead of flat\n"
    "  -n N           rows to print (default 20)\n"
    "  --alloc        heap profiles: everything allocated, not what is in use\n"
    "  --objects      heap profiles: count objects, not bytes\n"
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
        return opts_error(&o, "PROFILE (a cpu.prof or heap.prof) is required");
    char err[512];
    struct profile p;
    if (profile_read(path, &p, err, sizeof(err))) {
        fprintf(stderr, "scaleprof top: %s\n", err);
        return 2;
    }
    struct symbolizer *s;
    if (symbolize_open(&s, &p, binary, err, sizeof(err))) {
        fprintf(stderr, "scaleprof top: %s\n", err);
        profile_free(&p);
        return 2;
    }
    /* heap v[]: 0 in-use objects, 1 in-use bytes, 2 alloc objects, 3 alloc bytes */
    int vi = p.kind == PROFILE_CPU ? 0 : (alloc ? 2 : 0) + (objects ? 0 : 1);
    bool bytes = p.kind == PROFILE_HEAP && !objects;
    struct top_table t;
    int rc = 0;
    if (top_compute(&p, s, vi, by_cum, &t)) {
        fprintf(stderr, "scaleprof top: %s: out of memory\n", path);
        rc = 2;
    } else {
        top_write(stdout, &t, s, bytes, (size_t)limit);
        free(t.rows);
    }
    symbolize_close(s);
    profile_free(&p);
    return rc;
}
