/*
 * fuzz_profile_cpu.c: libFuzzer target for analysis/profile_gperftools_parse.c, the
 * gperftools CPU profile reader (binary: header, records, trailer, maps text).
 *
 * gperf_parse must never crash on any input; on success the invariants of
 * profile_gperftools.h hold (every stack lies within pcs, depths within the limit, the
 * totals are the sums of the samples, maps are well-formed), the result does
 * not depend on the run (parsed twice, equal), and gperf_free leaves a
 * zeroed struct. On failure the message is non-empty and names the input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile_gperftools.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_valid(const struct gperf_profile *p)
{
    uint64_t sum[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct gperf_sample *s = &p->samples[i];
        CHECK(s->depth <= PROFILE_MAX_DEPTH);
        CHECK(s->pc_index <= p->npcs && s->depth <= p->npcs - s->pc_index);
        for (int k = 0; k < 4; k++)
            sum[k] += s->v[k];
        for (uint32_t j = 0; j < s->depth; j++)
            (void)gperf_find_map(p, p->pcs[s->pc_index + j]); /* must not crash */
    }
    for (int k = 0; k < 4; k++)
        CHECK(sum[k] == p->total[k]);
    CHECK(p->nmaps <= PROFILE_MAX_MAPS);
    for (size_t i = 0; i < p->nmaps; i++) {
        CHECK(p->maps[i].path != NULL);
        CHECK(memchr(p->maps[i].perms, 0, sizeof(p->maps[i].perms)) != NULL);
    }
    if (p->kind == GPERF_HEAP)
        CHECK(p->period_us == 0);
}

static bool same(const struct gperf_profile *a, const struct gperf_profile *b)
{
    if (a->kind != b->kind || a->nsamples != b->nsamples || a->npcs != b->npcs ||
        a->nmaps != b->nmaps || a->period_us != b->period_us ||
        memcmp(a->total, b->total, sizeof(a->total)) != 0)
        return false;
    return (a->npcs == 0 || memcmp(a->pcs, b->pcs, a->npcs * sizeof(*a->pcs)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gperf_profile p, q;
    char err[512], err2[512];
    err[0] = err2[0] = 'x';
    int rc = gperf_parse("fuzz.prof", data, size, &p, err, sizeof(err));
    int rc2 = gperf_parse("fuzz.prof", data, size, &q, err2, sizeof(err2));
    CHECK(rc == rc2);
    if (rc == 0) {
        check_valid(&p);
        CHECK(same(&p, &q));
    } else {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', sizeof(err)) != NULL && strstr(err, "fuzz.prof") != NULL);
        CHECK(strcmp(err, err2) == 0);
    }
    gperf_free(&p);
    gperf_free(&q);
    static const struct gperf_profile zero;
    CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
    return 0;
}
