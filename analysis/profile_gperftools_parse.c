/*
 * profile_gperftools_parse: the gperftools readers (CPU binary, heap text)
 * behind profile_gperftools.h, with no dependencies (the fuzz targets build
 * it alone). Everything here treats the file as hostile: every read is
 * bounds-checked against the buffer, every count against a limit, and every
 * failure names the file and where in it things went wrong.
 */
#include "profile_gperftools.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD sizeof(uint64_t)
/* A sample count above this is corruption, not a real profile (2^40 samples
 * at 1 kHz is 35 years); refusing it keeps totals meaningful. */
#define MAX_COUNT ((uint64_t)1 << 40)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void gperf_free(struct gperf_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nmaps; i++)
        free(p->maps[i].path);
    free(p->maps);
    free(p->samples);
    free(p->pcs);
    free(p->name);
    memset(p, 0, sizeof(*p));
}

/* Growth helpers: double capacity, refuse on overflow. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return -1;
        ncap *= 2;
    }
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

struct builder {
    struct gperf_profile *p;
    size_t samples_cap, pcs_cap;
};

/* Adds one stack; raw[0] is the leaf. Applies the caller fix (see profile.h). */
static int add_sample(struct builder *b, const uint64_t v[4], const uint64_t *raw, uint32_t depth)
{
    struct gperf_profile *p = b->p;
    if (grow((void **)&p->samples, &b->samples_cap, p->nsamples + 1, sizeof(*p->samples)) ||
        grow((void **)&p->pcs, &b->pcs_cap, p->npcs + depth, sizeof(*p->pcs)))
        return -1;
    struct gperf_sample *s = &p->samples[p->nsamples++];
    memcpy(s->v, v, sizeof(s->v));
    s->pc_index = p->npcs;
    s->depth = depth;
    for (uint32_t i = 0; i < depth; i++)
        p->pcs[p->npcs++] = (i > 0 && raw[i] > 0) ? raw[i] - 1 : raw[i];
    for (int k = 0; k < 4; k++)
        p->total[k] += v[k];
    return 0;
}

int gperf_parse_maps(struct gperf_profile *p, const char *text, size_t len, char *err,
                     size_t errlen)
{
    size_t cap = p->nmaps;
    const char *end = text + len;
    char line[4096 + 256];
    while (text < end) {
        const char *nl = memchr(text, '\n', (size_t)(end - text));
        const char *ls = text, *le = nl ? nl : end;
        size_t ll = (size_t)(le - ls);
        text = nl ? nl + 1 : end;
        if (ll >= sizeof(line))
            continue; /* longer than any real maps line (PATH_MAX) */
        memcpy(line, ls, ll);
        line[ll] = '\0';
        uint64_t start, stop, off;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start, &stop, perms,
                   &off, &pos) < 4 ||
            pos == 0 || stop <= start)
            continue;
        if (p->nmaps >= PROFILE_MAX_MAPS)
            return fail(err, errlen, "%s: more than %d lines in the maps trailer", p->name,
                        PROFILE_MAX_MAPS);
        char *path = line + pos;
        size_t pl = strlen(path);
        while (pl > 0 && (path[pl - 1] == ' ' || path[pl - 1] == '\r' || path[pl - 1] == '\t'))
            path[--pl] = '\0';
        if (grow((void **)&p->maps, &cap, p->nmaps + 1, sizeof(*p->maps)))
            return fail(err, errlen, "%s: out of memory reading maps", p->name);
        struct gperf_map *m = &p->maps[p->nmaps];
        m->path = strdup(path);
        if (!m->path)
            return fail(err, errlen, "%s: out of memory reading maps", p->name);
        m->start = start;
        m->end = stop;
        m->offset = off;
        snprintf(m->perms, sizeof(m->perms), "%.4s", perms);
        p->nmaps++;
    }
    return 0;
}

const struct gperf_map *gperf_find_map(const struct gperf_profile *p, uint64_t addr)
{
    for (size_t i = 0; i < p->nmaps; i++)
        if (addr >= p->maps[i].start && addr < p->maps[i].end)
            return &p->maps[i];
    return NULL;
}

static uint64_t word_at(const unsigned char *d, size_t i)
{
    uint64_t w;
    memcpy(&w, d + i * WORD, WORD); /* unaligned-safe; native byte order */
    return w;
}

static int parse_cpu(struct builder *b, const unsigned char *d, size_t len, char *err,
                     size_t errlen)
{
    struct gperf_profile *p = b->p;
    size_t nwords = len / WORD;
    if (nwords < 5)
        return fail(err, errlen, "%s: truncated CPU profile header (%zu bytes, need 40)", p->name,
                    len);
    uint64_t hdr_words = word_at(d, 1), version = word_at(d, 2), period = word_at(d, 3);
    if (word_at(d, 0) != 0 || hdr_words < 3 || hdr_words > nwords - 2)
        return fail(err, errlen, "%s: offset 0: not a gperftools CPU profile header", p->name);
    if (version != 0)
        return fail(err, errlen, "%s: offset 16: unsupported CPU profile version %" PRIu64, p->name,
                    version);
    if (period == 0 || period > UINT32_MAX)
        return fail(err, errlen, "%s: offset 24: bad sampling period %" PRIu64, p->name, period);
    p->kind = GPERF_CPU;
    p->period_us = period;
    size_t i = 2 + (size_t)hdr_words;
    for (;;) {
        if (i + 2 > nwords)
            return fail(err, errlen,
                        "%s: offset %zu: truncated CPU profile (record header past end; "
                        "no end-of-data marker)",
                        p->name, i * WORD);
        uint64_t count = word_at(d, i), depth = word_at(d, i + 1);
        if (depth == 0 || depth > PROFILE_MAX_DEPTH)
            return fail(err, errlen, "%s: offset %zu: bad stack depth %" PRIu64 " (1..%d)", p->name,
                        (i + 1) * WORD, depth, PROFILE_MAX_DEPTH);
        if (depth > nwords - i - 2)
            return fail(err, errlen,
                        "%s: offset %zu: truncated CPU profile (stack of %" PRIu64
                        " frames past end)",
                        p->name, (i + 2) * WORD, depth);
        if (word_at(d, i + 2) == 0) { /* end-of-data marker: 0, 1, 0 */
            i += 2 + (size_t)depth;
            break;
        }
        if (count > MAX_COUNT)
            return fail(err, errlen, "%s: offset %zu: implausible sample count %" PRIu64, p->name,
                        i * WORD, count);
        uint64_t raw[PROFILE_MAX_DEPTH];
        for (size_t k = 0; k < depth; k++)
            raw[k] = word_at(d, i + 2 + k);
        uint64_t v[4] = {count, 0, 0, 0};
        if (add_sample(b, v, raw, (uint32_t)depth))
            return fail(err, errlen, "%s: out of memory", p->name);
        i += 2 + (size_t)depth;
    }
    size_t off = i * WORD;
    return gperf_parse_maps(p, (const char *)d + off, len - off, err, errlen);
}

/* Text cursor over [s, e): no NUL termination needed. */
struct cur {
    const char *s, *e;
};

static void skip_ws(struct cur *c)
{
    while (c->s < c->e && (*c->s == ' ' || *c->s == '\t' || *c->s == '\r'))
        c->s++;
}

static bool take(struct cur *c, char ch)
{
    skip_ws(c);
    if (c->s < c->e && *c->s == ch) {
        c->s++;
        return true;
    }
    return false;
}

/* Unsigned number, decimal or (with hex) 0x-prefixed hex; refuses overflow. */
static bool number(struct cur *c, bool hex, uint64_t *out)
{
    skip_ws(c);
    unsigned base = 10;
    if (hex) {
        if (c->e - c->s < 3 || c->s[0] != '0' || (c->s[1] != 'x' && c->s[1] != 'X'))
            return false;
        c->s += 2;
        base = 16;
    }
    uint64_t v = 0;
    const char *start = c->s;
    while (c->s < c->e) {
        char ch = *c->s;
        unsigned dig;
        if (ch >= '0' && ch <= '9')
            dig = (unsigned)(ch - '0');
        else if (base == 16 && ch >= 'a' && ch <= 'f')
            dig = (unsigned)(ch - 'a' + 10);
        else if (base == 16 && ch >= 'A' && ch <= 'F')
            dig = (unsigned)(ch - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - dig) / base)
            return false;
        v = v * base + dig;
        c->s++;
    }
    *out = v;
    return c->s > start;
}

/* "a: b [c: d]" */
static bool four(struct cur *c, uint64_t v[4])
{
    return number(c, false, &v[0]) && take(c, ':') && number(c, false, &v[1]) && take(c, '[') &&
           number(c, false, &v[2]) && take(c, ':') && number(c, false, &v[3]) && take(c, ']');
}

static bool starts(const char *s, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - s) >= n && memcmp(s, lit, n) == 0;
}

static int parse_heap(struct builder *b, const char *d, size_t len, char *err, size_t errlen)
{
    struct gperf_profile *p = b->p;
    const char *end = d + len, *s = d;
    size_t lineno = 0;
    p->kind = GPERF_HEAP;
    uint64_t raw[PROFILE_MAX_DEPTH];
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        struct cur c = {s, nl ? nl : end};
        const char *next = nl ? nl + 1 : end;
        lineno++;
        if (lineno == 1) {
            if (!starts(c.s, c.e, "heap profile:"))
                return fail(err, errlen, "%s:1: not a heap profile", p->name);
            c.s += strlen("heap profile:");
            if (!four(&c, p->heap_header))
                return fail(err, errlen, "%s:1: bad heap profile header", p->name);
            s = next;
            continue;
        }
        skip_ws(&c);
        if (starts(c.s, c.e, "MAPPED_LIBRARIES:") || starts(c.s, c.e, "--- Memory map:"))
            return gperf_parse_maps(p, next, (size_t)(end - next), err, errlen);
        if (c.s == c.e) {
            s = next;
            continue;
        }
        uint64_t v[4];
        if (!four(&c, v) || !take(&c, '@'))
            return fail(err, errlen, "%s:%zu: bad heap sample line", p->name, lineno);
        uint32_t depth = 0;
        skip_ws(&c);
        while (c.s < c.e) {
            if (depth >= PROFILE_MAX_DEPTH)
                return fail(err, errlen, "%s:%zu: stack deeper than %d frames", p->name, lineno,
                            PROFILE_MAX_DEPTH);
            if (!number(&c, true, &raw[depth]))
                return fail(err, errlen, "%s:%zu: bad address in heap stack", p->name, lineno);
            depth++;
            skip_ws(&c);
        }
        if (depth == 0)
            return fail(err, errlen, "%s:%zu: heap sample without a stack", p->name, lineno);
        if (add_sample(b, v, raw, depth))
            return fail(err, errlen, "%s: out of memory", p->name);
        s = next;
    }
    if (lineno == 0)
        return fail(err, errlen, "%s: empty file", p->name);
    return 0; /* no maps trailer: addresses stay unresolved */
}

int gperf_parse(const char *name, const void *data, size_t len, struct gperf_profile *p, char *err,
                size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (errlen > 0)
        err[0] = '\0';
    p->name = strdup(name ? name : "(memory)");
    if (!p->name)
        return fail(err, errlen, "out of memory");
    struct builder b = {.p = p};
    int rc;
    if (len > PROFILE_MAX_BYTES)
        rc = fail(err, errlen, "%s: larger than %zu bytes", p->name, PROFILE_MAX_BYTES);
    else if (len == 0)
        rc = fail(err, errlen, "%s: empty file", p->name);
    else if (starts(data, (const char *)data + len, "heap "))
        rc = parse_heap(&b, data, len, err, errlen);
    else
        rc = parse_cpu(&b, data, len, err, errlen);
    if (rc)
        gperf_free(p);
    return rc;
}
