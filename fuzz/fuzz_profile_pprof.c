/*
 * fuzz_profile_pprof.c: libFuzzer target for the pprof backend
 * (analysis/profile_pprof.c, profile_pprof_decode.c) through profile_load_mem,
 * in an offline session (no file is opened to symbolize).
 *
 * Loading must never crash on any input, gzipped or not. On success the
 * invariants of profile.h hold: every stack lies within frames, depths within
 * PROFILE_MAX_DEPTH, every frame is a function of the session with a name,
 * values outside `measures` are 0, totals are the sums of the samples, the
 * kind follows from the measures; loading twice gives the same profile (the
 * same function ids: interning is stable). On failure the message names the
 * input and the profile is zeroed. A fresh session per input keeps memory
 * bounded over a long run and lets LeakSanitizer check it is freed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define NAME "fuzz.pb"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static enum profile_kind kind_of(uint32_t m)
{
    if (m & (1u << PROFILE_CPU_NS | 1u << PROFILE_SAMPLES))
        return PROFILE_CPU;
    if (m & (1u << PROFILE_INUSE_BYTES | 1u << PROFILE_INUSE_OBJECTS | 1u << PROFILE_ALLOC_BYTES |
             1u << PROFILE_ALLOC_OBJECTS))
        return PROFILE_HEAP;
    if (m & 1u << PROFILE_GOROUTINES)
        return PROFILE_GOROUTINE;
    if (m & (1u << PROFILE_CONTENTIONS | 1u << PROFILE_DELAY_NS))
        return PROFILE_CONTENTION;
    return PROFILE_OTHER;
}

static void check_valid(const struct profile_session *s, const struct profile *p)
{
    CHECK(p->name && strcmp(p->name, NAME) == 0 && p->format);
    CHECK(p->measures >> PROFILE_NMEASURES == 0);
    if (strcmp(p->format, "pprof") == 0)
        CHECK(p->kind == kind_of(p->measures));
    CHECK(p->period_ns >= 0 && p->duration_ns >= 0);
    int64_t sum[PROFILE_NMEASURES] = {0};
    size_t nfuncs = profile_func_count(s);
    for (size_t k = 0; k < p->nsamples; k++) {
        const struct profile_sample *smp = &p->samples[k];
        CHECK(smp->depth <= PROFILE_MAX_DEPTH);
        CHECK(smp->frame_index <= p->nframes && smp->depth <= p->nframes - smp->frame_index);
        for (uint32_t j = 0; j < smp->depth; j++) {
            uint32_t id = p->frames[smp->frame_index + j];
            CHECK(id < nfuncs);
            const struct profile_func *f = profile_func(s, id);
            CHECK(f && f->name && f->name[0]);
        }
        for (int m = 0; m < PROFILE_NMEASURES; m++) {
            if (!PROFILE_HAS(p, m))
                CHECK(smp->v[m] == 0);
            CHECK(!__builtin_add_overflow(sum[m], smp->v[m], &sum[m]));
        }
    }
    CHECK(memcmp(sum, p->total, sizeof(sum)) == 0);
}

static bool same(const struct profile *a, const struct profile *b)
{
    if (a->kind != b->kind || a->measures != b->measures || a->nsamples != b->nsamples ||
        a->nframes != b->nframes || a->period_ns != b->period_ns ||
        a->duration_ns != b->duration_ns || memcmp(a->total, b->total, sizeof(a->total)) != 0)
        return false;
    if (a->nframes && memcmp(a->frames, b->frames, a->nframes * sizeof(*a->frames)) != 0)
        return false;
    for (size_t k = 0; k < a->nsamples; k++)
        if (memcmp(&a->samples[k], &b->samples[k], sizeof(a->samples[k])) != 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct profile_options o = {.offline = true};
    struct profile_session *s;
    char err[512], err2[512];
    CHECK(profile_session_open(&s, &o, err, sizeof(err)) == 0);
    struct profile p, q;
    err[0] = err2[0] = 'x';
    int rc = profile_load_mem(s, NAME, data, size, &p, err, sizeof(err));
    int rc2 = profile_load_mem(s, NAME, data, size, &q, err2, sizeof(err2));
    CHECK(rc == rc2);
    static const struct profile zero;
    if (rc == 0) {
        check_valid(s, &p);
        CHECK(same(&p, &q));
    } else {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', sizeof(err)) != NULL && strstr(err, NAME) != NULL);
        CHECK(strcmp(err, err2) == 0);
        CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
    }
    profile_free(&p);
    profile_free(&q);
    CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
    profile_session_close(s);
    return 0;
}
