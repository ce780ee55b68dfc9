/*
 * attribution: per-function and per-call-path scaling fits (attribution.h).
 * Profiles of different points have different address layouts (ASLR, other
 * builds), so everything is keyed by symbol name, never by address.
 */
#include "attribution.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "strmap.h"

/* The maps below read keys from the arrays themselves (strmap.h). */
_Static_assert(offsetof(struct attr_func, name) == 0, "strmap: the key is the first member");
_Static_assert(offsetof(struct attr_path, stack) == 0, "strmap: the key is the first member");

struct builder {
    struct attribution *a;
    struct strmap fmap, pmap;
    size_t fcap, pcap;
    struct profile_session *ps; /* one session for every profile */
    uint32_t *by_sym;           /* session function id → funcs index + 1 */
    size_t by_sym_cap;
    const struct attr_options *o;
};

static double *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static struct attr_func *func_get(struct builder *b, const struct profile_func *sf)
{
    struct attribution *a = b->a;
    uint32_t at = strmap_find(&b->fmap, a->funcs, sizeof(*a->funcs), sf->name);
    if (at != STRMAP_NONE)
        return &a->funcs[at];
    if (a->nfuncs == b->fcap) {
        size_t ncap = b->fcap ? b->fcap * 2 : 256;
        struct attr_func *nf = realloc(a->funcs, ncap * sizeof(*nf));
        if (!nf)
            return NULL;
        a->funcs = nf; /* the map stores indexes, so moving the array keeps it valid */
        b->fcap = ncap;
    }
    struct attr_func *f = &a->funcs[a->nfuncs];
    memset(f, 0, sizeof(*f));
    f->name = strdup(sf->name);
    f->file = sf->file ? strdup(sf->file) : NULL;
    f->line = sf->line;
    f->own = sf->own;
    f->self = zeros(a->count);
    f->cum = zeros(a->count);
    if (!f->name || !f->self || !f->cum ||
        strmap_add(&b->fmap, a->funcs, sizeof(*a->funcs), (uint32_t)a->nfuncs) != 0) {
        free(f->name);
        free(f->file);
        free(f->self);
        free(f->cum);
        return NULL;
    }
    a->nfuncs++;
    return f;
}

static struct attr_path *path_get(struct builder *b, const char *stack)
{
    struct attribution *a = b->a;
    uint32_t at = strmap_find(&b->pmap, a->paths, sizeof(*a->paths), stack);
    if (at != STRMAP_NONE)
        return &a->paths[at];
    if (a->npaths == b->pcap) {
        size_t ncap = b->pcap ? b->pcap * 2 : 256;
        struct attr_path *np = realloc(a->paths, ncap * sizeof(*np));
        if (!np)
            return NULL;
        a->paths = np;
        b->pcap = ncap;
    }
    struct attr_path *p = &a->paths[a->npaths];
    memset(p, 0, sizeof(*p));
    p->stack = strdup(stack);
    p->cost = zeros(a->count);
    if (!p->stack || !p->cost ||
        strmap_add(&b->pmap, a->paths, sizeof(*a->paths), (uint32_t)a->npaths) != 0) {
        free(p->stack);
        free(p->cost);
        return NULL;
    }
    a->npaths++;
    return p;
}

/* The attr_func of session function id: by name once, then by id (the
 * session keeps ids stable across profiles). */
static struct attr_func *func_of(struct builder *b, uint32_t id)
{
    if (id >= b->by_sym_cap) {
        size_t ncap = b->by_sym_cap ? b->by_sym_cap : 256;
        while (ncap <= id)
            ncap *= 2;
        uint32_t *nb = realloc(b->by_sym, ncap * sizeof(*nb));
        if (!nb)
            return NULL;
        memset(nb + b->by_sym_cap, 0, (ncap - b->by_sym_cap) * sizeof(*nb));
        b->by_sym = nb;
        b->by_sym_cap = ncap;
    }
    if (b->by_sym[id])
        return &b->a->funcs[b->by_sym[id] - 1];
    struct attr_func *f = func_get(b, profile_func(b->ps, id));
    if (f)
        b->by_sym[id] = (uint32_t)(f - b->a->funcs) + 1;
    return f;
}

/* The kinds of profile that hold a measure. */
static bool kind_holds(enum profile_kind k, enum profile_measure m)
{
    switch (m) {
    case PROFILE_SAMPLES:
    case PROFILE_CPU_NS:
        return k == PROFILE_CPU;
    case PROFILE_GOROUTINES:
        return k == PROFILE_GOROUTINE;
    case PROFILE_CONTENTIONS:
    case PROFILE_DELAY_NS:
        return k == PROFILE_CONTENTION;
    default:
        return k == PROFILE_HEAP;
    }
}

static bool is_heap_measure(enum profile_measure m)
{
    return m == PROFILE_INUSE_BYTES || m == PROFILE_INUSE_OBJECTS || m == PROFILE_ALLOC_BYTES ||
           m == PROFILE_ALLOC_OBJECTS;
}

/* Adds observation i's profile: 0, -1 (out of memory), or -2 (the profile is
 * unreadable, nothing was added). Per second (CPU, delay): the measure over
 * the window, nanoseconds as seconds (CPU s/s). Heap measures drop the
 * allocator's own frames so a stack's leaf is the code that asked for the
 * memory (as `top` does). */
static int add_profile(struct builder *b, size_t i, const struct attr_point *pt, struct buf *err)
{
    char msg[512];
    struct profile p;
    enum profile_measure m = b->o->measure;
    bool heap = is_heap_measure(m);
    if (!pt->cpu_prof) {
        buf_printf(err, "N=%g: %s", pt->services, pt->missing ? pt->missing : "no profile");
        return -2;
    }
    if (profile_load(b->ps, pt->cpu_prof, &p, msg, sizeof(msg))) {
        buf_printf(err, "%s", msg);
        return -2;
    }
    bool holds = kind_holds(p.kind, m) && PROFILE_HAS(&p, m);
    if (!holds && m == PROFILE_CPU_NS && p.kind == PROFILE_CPU)
        /* samples without a period: a share of samples, not CPU time, which
         * the fit in CPU s/s (and its materiality in % of a core) needs */
        buf_printf(err,
                   "%s: a CPU profile of sample counts with no sampling period: its CPU time "
                   "is unknown",
                   pt->cpu_prof);
    else if (!holds)
        buf_printf(err, "%s: does not hold the measure %s (%s profile)", pt->cpu_prof,
                   profile_measure_name(m),
                   p.kind == PROFILE_CPU    ? "a CPU"
                   : p.kind == PROFILE_HEAP ? "a heap"
                                            : "another kind of");
    else if (b->o->per_second && !(pt->window_s > 0))
        buf_printf(err, "%s: window_s must be > 0", pt->cpu_prof);
    if (!holds || (b->o->per_second && !(pt->window_s > 0))) {
        profile_free(&p);
        return -2;
    }
    struct attribution *a = b->a;
    bool ns = m == PROFILE_CPU_NS || m == PROFILE_DELAY_NS;
    double scale = (ns ? 1e-9 : 1.0) / (b->o->per_second ? pt->window_s : 1.0);
    /* indexes into a->funcs, not pointers: adding a function to the table
     * may move it while a stack is being read */
    size_t *frames = malloc(PROFILE_MAX_DEPTH * sizeof(*frames));
    struct buf stack;
    buf_init(&stack, (size_t)1 << 20);
    int rc = frames ? 0 : -1;
    for (size_t k = 0; k < p.nsamples && rc == 0; k++) {
        const struct profile_sample *smp = &p.samples[k];
        double v = (double)smp->v[m] * scale;
        uint32_t depth = 0;
        buf_reset(&stack);
        for (uint32_t j = 0; j < smp->depth && rc == 0; j++) {
            uint32_t id = p.frames[smp->frame_index + j];
            if (heap && profile_is_allocator(profile_func(b->ps, id)->name)) {
                depth = 0; /* drop the allocator and everything inside it */
                continue;
            }
            struct attr_func *f = func_of(b, id);
            if (!f)
                rc = -1;
            else
                frames[depth++] = (size_t)(f - a->funcs);
        }
        if (rc)
            break;
        if (depth == 0)
            continue; /* no frame to charge: left out of the total too */
        a->funcs[frames[0]].self[i] += v;
        for (uint32_t j = 0; j < depth; j++) {
            bool seen = false; /* recursion: count a function once per stack */
            for (uint32_t q = 0; q < j && !seen; q++)
                seen = frames[q] == frames[j];
            if (!seen)
                a->funcs[frames[j]].cum[i] += v;
        }
        for (uint32_t j = depth; j-- > 0;) /* root first */
            if (buf_puts(&stack, a->funcs[frames[j]].name) || (j > 0 && buf_puts(&stack, ";")))
                rc = -1;
        struct attr_path *path = rc ? NULL : path_get(b, stack.data);
        if (!path)
            rc = -1;
        else
            path->cost[i] += v;
        a->total[i] += v;
    }
    if (rc)
        buf_printf(err, "%s: out of memory or stack too long", pt->cpu_prof);
    buf_free(&stack);
    free(frames);
    profile_free(&p);
    return rc;
}

static double share(double c, double total_c)
{
    return total_c != 0 ? c / total_c : 0.0;
}

static double corr(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0.0;
}

static int by_share(const void *pa, const void *pb)
{
    const struct attr_func *a = pa, *b = pb;
    if (a->self_share != b->self_share)
        return a->self_share > b->self_share ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int by_c(const void *pa, const void *pb)
{
    const struct attr_path *a = pa, *b = pb;
    if (a->fit.c != b->fit.c)
        return a->fit.c > b->fit.c ? -1 : 1;
    return strcmp(a->stack, b->stack);
}

struct child {
    const char *name; /* points into a path's stack */
    size_t len;
    double c;
};

/* Descends the call tree from the roots, each step into the child frame that
 * carries the most c, while that child still holds >= ATTR_CULPRIT_SHARE;
 * then climbs back to the lowest frame that is the program's own code. */
static int find_culprit(struct attribution *a)
{
    double total_c = a->total_fit.c;
    if (!(total_c > 0) || a->npaths == 0)
        return 0;
    struct child *kids = malloc(a->npaths * sizeof(*kids));
    struct buf prefix;
    buf_init(&prefix, (size_t)1 << 20);
    double shares[PROFILE_MAX_DEPTH];
    size_t starts[PROFILE_MAX_DEPTH]; /* where each frame begins in prefix */
    int depth = 0;
    int rc = kids ? 0 : -1;
    for (; depth < PROFILE_MAX_DEPTH && rc == 0; depth++) {
        size_t nkids = 0;
        for (size_t i = 0; i < a->npaths; i++) {
            const char *st = a->paths[i].stack;
            if (prefix.len && (strncmp(st, prefix.data, prefix.len) != 0 || st[prefix.len] != ';'))
                continue;
            const char *next = st + prefix.len + (prefix.len ? 1 : 0);
            size_t nl = strcspn(next, ";");
            if (nl == 0)
                continue;
            size_t k = 0;
            while (k < nkids && !(kids[k].len == nl && memcmp(kids[k].name, next, nl) == 0))
                k++;
            if (k == nkids)
                kids[nkids++] = (struct child){next, nl, 0};
            kids[k].c += a->paths[i].fit.c;
        }
        const struct child *best = NULL;
        for (size_t k = 0; k < nkids; k++)
            if (!best || kids[k].c > best->c)
                best = &kids[k];
        if (!best || share(best->c, total_c) < ATTR_CULPRIT_SHARE)
            break;
        if (prefix.len && buf_puts(&prefix, ";"))
            rc = -1;
        starts[depth] = prefix.len;
        if (rc == 0 && buf_append(&prefix, best->name, best->len))
            rc = -1;
        shares[depth] = share(best->c, total_c);
    }
    if (rc == 0 && depth > 0) {
        int pick = depth - 1;
        while (pick >= 0) {
            const char *fr = prefix.data + starts[pick];
            const struct attr_func *f = attribution_find_n(a, fr, strcspn(fr, ";"));
            if (f && f->own)
                break;
            pick--;
        }
        if (pick < 0)
            pick = depth - 1; /* nothing of the program's own: name the leaf */
        const char *fr = prefix.data + starts[pick], *leaf = prefix.data + starts[depth - 1];
        a->culprit = strndup(fr, strcspn(fr, ";"));
        a->culprit_leaf = strdup(leaf);
        a->culprit_share = shares[pick];
        a->culprit_path = buf_detach(&prefix, NULL);
        if (!a->culprit || !a->culprit_leaf || !a->culprit_path)
            rc = -1;
    }
    buf_free(&prefix);
    free(kids);
    return rc;
}

/* Drops the observations with keep[i] false from every series. */
static void compact(struct attribution *a, const bool *keep)
{
    size_t k = 0;
    for (size_t i = 0; i < a->count; i++) {
        if (!keep[i])
            continue;
        a->n[k] = a->n[i];
        a->total[k] = a->total[i];
        a->obs[k] = a->obs[i];
        for (size_t f = 0; f < a->nfuncs; f++) {
            a->funcs[f].self[k] = a->funcs[f].self[i];
            a->funcs[f].cum[k] = a->funcs[f].cum[i];
        }
        for (size_t q = 0; q < a->npaths; q++)
            a->paths[q].cost[k] = a->paths[q].cost[i];
        k++;
    }
    a->count = k;
}

static int fit_and_rank(struct attribution *a, const struct fit_design *d);

static int build(struct attribution *a, const struct attr_point *pts, size_t count,
                 const struct fit_design *d, const struct attr_options *o, struct buf *skipped,
                 struct buf *err)
{
    memset(a, 0, sizeof(*a));
    if (!d->ok || d->count != count) {
        buf_printf(err, "attribution: design has %zu observations for %zu points%s", d->count,
                   count, d->ok ? "" : " (singular)");
        return -1;
    }
    a->count = count;
    a->n = zeros(count);
    a->total = zeros(count);
    a->obs = calloc(count ? count : 1, sizeof(*a->obs));
    bool *keep = calloc(count ? count : 1, sizeof(*keep));
    struct builder b = {.a = a, .o = o};
    char msg[256];
    int rc = a->n && a->total && a->obs && keep ? 0 : -1;
    struct profile_options po = {.binary = o->binary, .own_regex = o->own_regex};
    if (rc == 0 && profile_session_open(&b.ps, &po, msg, sizeof(msg)) != 0) {
        buf_printf(err, "attribution: %s", msg);
        rc = -1;
    }
    size_t nskip = 0;
    struct buf why;
    buf_init(&why, 4096);
    for (size_t i = 0; i < count && rc == 0; i++) {
        a->n[i] = pts[i].services;
        a->obs[i] = i;
        buf_reset(&why);
        rc = add_profile(&b, i, &pts[i], &why);
        keep[i] = rc == 0;
        if (rc == -2 && skipped) { /* name it and go on with the rest */
            buf_printf(skipped, "%s%s", nskip++ ? "\n" : "", why.data ? why.data : "?");
            rc = 0;
        } else if (rc) {
            buf_printf(err, "%s", why.data ? why.data : "attribution: out of memory");
            rc = -1;
        }
    }
    buf_free(&why);
    profile_session_close(b.ps);
    free(b.by_sym);
    strmap_free(&b.fmap);
    strmap_free(&b.pmap);
    if (rc == 0 && nskip) {
        /* Refit the rest with the same weights: a design over the kept
         * observations (the functions' c then add up to the kept total's c). */
        compact(a, keep);
        double *w = zeros(a->count);
        for (size_t i = 0; w && i < a->count; i++)
            w[i] = d->w[a->obs[i]];
        if (!w || fit_prepare(&a->design, a->n, w, a->count) != 0) {
            buf_printf(err,
                       "attribution: %zu of %zu profiles unreadable; the %zu left do not "
                       "span 3 distinct N",
                       nskip, count, a->count);
            rc = -1;
        }
        a->own_design = true;
        if (rc == 0 && d->zero_a && fit_fix_a_at_zero(&a->design) != 0) {
            buf_printf(err, "attribution: the kept profiles cannot hold a at 0 like the total");
            rc = -1;
        }
        free(w);
    }
    free(keep);
    if (rc) {
        attribution_free(a);
        return -1;
    }
    if (a->own_design)
        d = &a->design;
    if (fit_and_rank(a, d) != 0) {
        buf_printf(err, "attribution: out of memory");
        attribution_free(a);
        return -1;
    }
    return 0;
}

/* Fits the total, every function and every path over d, ranks them by their
 * share of c, groups the functions and finds the culprit. Safe to repeat. */
static int fit_and_rank(struct attribution *a, const struct fit_design *d)
{
    fit_apply(d, a->total, &a->total_fit);
    double tc = a->total_fit.c;
    for (size_t i = 0; i < a->nfuncs; i++) {
        struct attr_func *f = &a->funcs[i];
        fit_apply(d, f->self, &f->fit);
        fit_apply(d, f->cum, &f->cum_fit);
        f->self_share = share(f->fit.c, tc);
        f->cum_share = share(f->cum_fit.c, tc);
        /* Subtract the fixed part only when it is distinguishable from zero:
         * a noise-sized a taken off the smallest points bends the log-log line. */
        double off = fabs(f->fit.a) > 2 * f->fit.a_se ? f->fit.a : 0;
        f->has_exponent = fit_power_law(a->n, f->self, d->w, a->count, off, &f->exponent) == 0 ||
                          fit_power_law(a->n, f->self, d->w, a->count, 0, &f->exponent) == 0;
    }
    for (size_t i = 0; i < a->npaths; i++) {
        fit_apply(d, a->paths[i].cost, &a->paths[i].fit);
        a->paths[i].share = share(a->paths[i].fit.c, tc);
    }
    qsort(a->funcs, a->nfuncs, sizeof(*a->funcs), by_share);
    qsort(a->paths, a->npaths, sizeof(*a->paths), by_c);
    /* Groups, greedily in rank order: join the first leader whose curve
     * correlates above the bar, else lead a new group. The leaders are kept
     * in a list (a scan for them made this cubic in the functions: seconds
     * for the thousands a perf or Go profile of a sweep holds). */
    int groups = 0;
    size_t *leaders = malloc((a->nfuncs ? a->nfuncs : 1) * sizeof(*leaders));
    if (!leaders)
        return -1;
    for (size_t i = 0; i < a->nfuncs; i++) {
        struct attr_func *f = &a->funcs[i];
        f->group = 0;
        for (int g = 0; g < groups && !f->group; g++)
            if (corr(f->self, a->funcs[leaders[g]].self, a->count) > ATTR_GROUP_CORR)
                f->group = g + 1;
        if (!f->group) {
            leaders[groups] = i;
            f->group = ++groups;
        }
    }
    free(leaders);
    free(a->culprit_path);
    free(a->culprit);
    free(a->culprit_leaf);
    a->culprit_path = a->culprit = a->culprit_leaf = NULL;
    a->culprit_share = 0;
    return find_culprit(a);
}

int attribution_refit(struct attribution *a, const struct fit_design *d, struct buf *err)
{
    if (a->own_design) {
        if (d->zero_a && !a->design.zero_a && fit_fix_a_at_zero(&a->design) != 0) {
            buf_printf(err, "attribution: the kept profiles cannot hold a at 0 like the total");
            return -1;
        }
        d = &a->design;
    }
    if (fit_and_rank(a, d) != 0) {
        buf_printf(err, "attribution: out of memory");
        return -1;
    }
    return 0;
}

int attribution_build(struct attribution *a, const struct attr_point *pts, size_t count,
                      const struct fit_design *d, const char *binary, struct buf *err)
{
    struct attr_options o = {.measure = PROFILE_CPU_NS, .per_second = true, .binary = binary};
    return build(a, pts, count, d, &o, NULL, err);
}

int attribution_build_measure(struct attribution *a, const struct attr_point *pts, size_t count,
                              const struct fit_design *d, const struct attr_options *o,
                              struct buf *skipped, struct buf *err)
{
    return build(a, pts, count, d, o, skipped, err);
}

void attribution_free(struct attribution *a)
{
    for (size_t i = 0; i < a->nfuncs; i++) {
        free(a->funcs[i].name);
        free(a->funcs[i].file);
        free(a->funcs[i].self);
        free(a->funcs[i].cum);
    }
    for (size_t i = 0; i < a->npaths; i++) {
        free(a->paths[i].stack);
        free(a->paths[i].cost);
    }
    free(a->funcs);
    free(a->paths);
    free(a->n);
    free(a->total);
    free(a->culprit_path);
    free(a->culprit);
    free(a->culprit_leaf);
    free(a->obs);
    if (a->own_design)
        fit_design_free(&a->design);
    memset(a, 0, sizeof(*a));
}

const struct attr_func *attribution_find(const struct attribution *a, const char *name)
{
    return attribution_find_n(a, name, strlen(name));
}

const struct attr_func *attribution_find_n(const struct attribution *a, const char *name,
                                           size_t len)
{
    for (size_t i = 0; i < a->nfuncs; i++)
        if (strncmp(a->funcs[i].name, name, len) == 0 && a->funcs[i].name[len] == '\0')
            return &a->funcs[i];
    return NULL;
}

int attribution_write_folded(const struct attribution *a, const char *path, struct buf *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        buf_printf(err, "%s: cannot write", tmp);
        return -1;
    }
    for (size_t i = 0; i < a->npaths; i++)
        /* Only paths that print as a positive weight: flame-graph tools take
         * plain decimals, and a weight that rounds to 0.000 draws nothing. */
        if (a->paths[i].fit.c * 1e9 >= 0.0005)
            fprintf(f, "%s %.3f\n", a->paths[i].stack, a->paths[i].fit.c * 1e9);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        buf_printf(err, "%s: write failed", path);
        return -1;
    }
    return 0;
}
