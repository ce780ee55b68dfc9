/*
 * profile: the session and the format table behind profile.h. A file is read
 * whole (bounded), handed to the first backend that recognizes its bytes, and
 * comes back as samples of session function ids; the builder helpers here are
 * what every backend fills a struct profile with (profile_format.h).
 */
#include "profile.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_format.h"
#include "symbolize.h"

/* Every format the analysis reads; a new one is a new file and a line here. */
static const struct profile_format *const formats[] = {
    &profile_format_gperftools,
    &profile_format_pprof,
};

struct profile_session {
    struct symbolizer *sym; /* the function table, and libdwfl for addresses */
    regex_t own_re;
    bool has_own_re;
    bool offline;
};

int profile_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int profile_session_open(struct profile_session **out, const struct profile_options *o, char *err,
                         size_t errlen)
{
    static const struct profile_options defaults;
    if (!o)
        o = &defaults;
    *out = NULL;
    struct profile_session *s = calloc(1, sizeof(*s));
    if (!s)
        return profile_fail(err, errlen, "out of memory");
    s->offline = o->offline;
    if (o->own_regex) {
        int rc = regcomp(&s->own_re, o->own_regex, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &s->own_re, msg, sizeof(msg));
            free(s);
            return profile_fail(err, errlen, "--own '%s': %s", o->own_regex, msg);
        }
        s->has_own_re = true;
    }
    if (symbolize_session(&s->sym, o->offline ? NULL : o->binary, err, errlen) != 0) {
        profile_session_close(s);
        return -1;
    }
    if (s->has_own_re)
        symbolize_set_own_regex(s->sym, &s->own_re);
    *out = s;
    return 0;
}

void profile_session_close(struct profile_session *s)
{
    if (!s)
        return;
    symbolize_close(s->sym);
    if (s->has_own_re)
        regfree(&s->own_re);
    free(s);
}

const char *profile_format_of(const void *data, size_t len)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (formats[i]->recognizes(data, len))
            return formats[i]->name;
    return NULL;
}

int profile_load_mem(struct profile_session *s, const char *name, const void *data, size_t len,
                     struct profile *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (errlen > 0)
        err[0] = '\0';
    if (!name)
        name = "(memory)";
    if (len == 0)
        return profile_fail(err, errlen, "%s: empty file", name);
    if (len > PROFILE_MAX_BYTES)
        return profile_fail(err, errlen, "%s: larger than %zu bytes", name, PROFILE_MAX_BYTES);
    const struct profile_format *fmt = NULL;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]) && !fmt; i++)
        if (formats[i]->recognizes(data, len))
            fmt = formats[i];
    if (!fmt)
        return profile_fail(err, errlen,
                            "%s: offset 0: not a profile format scaleprof reads (gperftools CPU "
                            "or heap, pprof protobuf)",
                            name);
    if (!(p->name = strdup(name)))
        return profile_fail(err, errlen, "%s: out of memory", name);
    p->format = fmt->name;
    int rc = fmt->load(s, data, len, p, err, errlen);
    if (rc != 0)
        profile_free(p);
    return rc;
}

int profile_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return profile_fail(err, errlen, "%s: %s", path, strerror(errno));
    size_t cap = 0, n = 0;
    char *d = NULL;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            /* The buffer grows to at most the limit + 1 byte: filling that is
             * the refusal, so a huge file costs the limit, not twice it. */
            if (n > PROFILE_MAX_BYTES) {
                rc =
                    profile_fail(err, errlen, "%s: larger than %zu bytes", path, PROFILE_MAX_BYTES);
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > PROFILE_MAX_BYTES + 1)
                ncap = PROFILE_MAX_BYTES + 1;
            char *nd = realloc(d, ncap);
            if (!nd) {
                rc = profile_fail(err, errlen, "%s: out of memory", path);
                break;
            }
            d = nd;
            cap = ncap;
        }
        size_t got = fread(d + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = profile_fail(err, errlen, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc != 0) {
        free(d);
        return -1;
    }
    *data = d;
    *len = n;
    return 0;
}

int profile_load(struct profile_session *s, const char *path, struct profile *p, char *err,
                 size_t errlen)
{
    memset(p, 0, sizeof(*p));
    char *data;
    size_t len;
    if (profile_read_file(path, &data, &len, err, errlen) != 0)
        return -1;
    int rc = profile_load_mem(s, path, data, len, p, err, errlen);
    free(data);
    return rc;
}

void profile_free(struct profile *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->samples);
    free(p->frames);
    memset(p, 0, sizeof(*p));
}

/* Doubles *cap until need fits; refuses overflow. */
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

int profile_add_sample(struct profile *p, const int64_t *v, const uint32_t *funcs, uint32_t depth,
                       enum profile_measure *overflow)
{
    /* Totals first, so that a sample that would overflow one adds nothing
     * (signed overflow is undefined, and a wrapped total is a wrong one). */
    int64_t total[PROFILE_NMEASURES];
    for (int m = 0; m < PROFILE_NMEASURES; m++)
        if (__builtin_add_overflow(p->total[m], PROFILE_HAS(p, m) ? v[m] : 0, &total[m])) {
            if (overflow)
                *overflow = (enum profile_measure)m;
            return -2;
        }
    if (depth > PROFILE_MAX_DEPTH ||
        grow((void **)&p->samples, &p->samples_cap, p->nsamples + 1, sizeof(*p->samples)) ||
        grow((void **)&p->frames, &p->frames_cap, p->nframes + depth, sizeof(*p->frames)))
        return -1;
    struct profile_sample *smp = &p->samples[p->nsamples++];
    smp->frame_index = p->nframes;
    smp->depth = depth;
    for (int m = 0; m < PROFILE_NMEASURES; m++)
        smp->v[m] = PROFILE_HAS(p, m) ? v[m] : 0;
    memcpy(p->total, total, sizeof(total));
    if (depth > 0) /* frames is still NULL when every stack so far was empty */
        memcpy(p->frames + p->nframes, funcs, depth * sizeof(*funcs));
    p->nframes += depth;
    return 0;
}

/* Go's rule for the standard library: an import path whose first element has
 * no dot (net/http, runtime, sync). The function name is "path.Func" or
 * "path.(*T).Method"; package main is the program's own. */
static bool go_is_own(const char *name)
{
    const char *slash = strchr(name, '/');
    const char *dot = strchr(name, '.');
    size_t first = slash && (!dot || slash < dot) ? (size_t)(slash - name)
                   : dot                          ? (size_t)(dot - name)
                                                  : strlen(name);
    if (first == 4 && strncmp(name, "main", 4) == 0)
        return true;
    return slash && memchr(name, '.', (size_t)(slash - name)) != NULL;
}

uint32_t profile_intern(struct profile_session *s, const char *name, const char *file, int line,
                        enum profile_own_rule rule, bool own)
{
    if (rule == PROFILE_OWN_GO)
        own = go_is_own(name);
    return symbolize_intern(s->sym, name, file, line, true, own);
}

int profile_use_maps(struct profile_session *s, const struct symbolize_map *maps, size_t nmaps,
                     char *err, size_t errlen)
{
    if (nmaps > PROFILE_MAX_MAPS)
        return profile_fail(err, errlen, "more than %d mappings", PROFILE_MAX_MAPS);
    return symbolize_use(s->sym, maps, nmaps, s->offline, err, errlen);
}

uint32_t profile_resolve(struct profile_session *s, uint64_t addr)
{
    return symbolize_addr(s->sym, addr, NULL);
}

const struct profile_func *profile_func(const struct profile_session *s, uint32_t id)
{
    return symbolize_func(s->sym, id);
}

size_t profile_func_count(const struct profile_session *s)
{
    return symbolize_func_count(s->sym);
}

enum profile_measure profile_default_measure(enum profile_kind kind)
{
    switch (kind) {
    case PROFILE_HEAP:
        return PROFILE_INUSE_BYTES;
    case PROFILE_GOROUTINE:
        return PROFILE_GOROUTINES;
    case PROFILE_CONTENTION:
        return PROFILE_DELAY_NS;
    default:
        return PROFILE_CPU_NS;
    }
}

const char *profile_measure_name(enum profile_measure m)
{
    static const char *const names[PROFILE_NMEASURES] = {
        [PROFILE_SAMPLES] = "samples/count",
        [PROFILE_CPU_NS] = "cpu/nanoseconds",
        [PROFILE_INUSE_BYTES] = "inuse_space/bytes",
        [PROFILE_INUSE_OBJECTS] = "inuse_objects/count",
        [PROFILE_ALLOC_BYTES] = "alloc_space/bytes",
        [PROFILE_ALLOC_OBJECTS] = "alloc_objects/count",
        [PROFILE_GOROUTINES] = "goroutine/count",
        [PROFILE_CONTENTIONS] = "contentions/count",
        [PROFILE_DELAY_NS] = "delay/nanoseconds",
    };
    return (unsigned)m < PROFILE_NMEASURES ? names[m] : "?";
}

bool profile_is_allocator(const char *name)
{
    static const char *const names[] = {
        "malloc",
        "calloc",
        "realloc",
        "free",
        "cfree",
        "memalign",
        "posix_memalign",
        "aligned_alloc",
        "valloc",
        "pvalloc",
        "strdup",
        "strndup",
        "__libc_malloc",
        "__libc_calloc",
        "__libc_realloc",
        "operator new",
        "operator new[]",
        "operator delete",
        "_Znwm",
        "_Znam",
        "_ZdlPv",
        "_ZdaPv",
        "__builtin_new",
        "__builtin_delete",
        "DoSampledAllocation",
        "MallocHook_InvokeNewHookSlow",
        "NewHook",
        "RecordAlloc",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    /* Go: the runtime's allocation entry points above the allocating code */
    static const char *const go[] = {
        "runtime.mallocgc",     "runtime.newobject",     "runtime.newarray",
        "runtime.makeslice",    "runtime.makeslicecopy", "runtime.growslice",
        "runtime.makemap",      "runtime.makechan",      "runtime.rawstring",
        "runtime.rawbyteslice", "runtime.rawruneslice",  "runtime.makemap_small"};
    for (size_t i = 0; i < sizeof(go) / sizeof(go[0]); i++)
        if (strcmp(name, go[i]) == 0)
            return true;
    return strncmp(name, "tc_", 3) == 0 || strncmp(name, "tcmalloc::", 10) == 0 ||
           strstr(name, "do_malloc") != NULL || strstr(name, "MallocHook") != NULL ||
           strstr(name, "HeapProfile") != NULL;
}
