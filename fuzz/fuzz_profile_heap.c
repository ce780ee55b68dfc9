/*
 * fuzz_profile_heap.c: libFuzzer target for analysis/profile.c, the
 * gperftools heap profile reader (text: header line, stack lines, MAPPED_LIBRARIES and maps).
 *
 * profile_parse must never crash on any input; on success the invariants of
 * profile.h hold (every stack lies within pcs, depths within the limit, the
 * totals are the sums of the samples, maps are well-formed), the result does
 * not depend on the run (parsed twice, equal), and profile_free leaves a
 * zeroed struct. On failure the message is non-empty and names the input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_valid(const struct profile *p)
{
    uint64_t sum[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct profile_sample *s = &p->samples[i];
        CHECK(s->depth <= PROFILE_MAX_DEPTH);
        CHECK(s->pc_index <= p->npcs && s->depth <= p->npcs - s->pc_index);
        for (int k = 0; k < 4; k++)
            sum[k] += s->v[k];
        for (uint32_t j = 0; j < s->depth; j++)
            (void)profile_find_map(p, p->pcs[s->pc_index + j]); /* must not crash */
    }
    for (int k = 0; k < 4; k++)
        CHECK(sum[k] == p->total[k]);
    CHECK(p->nmaps <= PROFILE_MAX_MAPS);
    for (size_t i = 0; i < p->nmaps; i++) {
        CHECK(p->maps[i].path != NULL);
        CHECK(memchr(p->maps[i].perms, 0, sizeof(p->maps[i].perms)) != NULL);
    }
    if (p->kind == PROFILE_HEAP)
        CHECK(p->period_us == 0);
}

static bool same(const struct profile *a, const struct profile *b)
{
    if (a->kind != b->kind || a->nsamples != b->nsamples || a->npcs != b->npcs ||
        a->nmaps != b->nmaps || a->period_us != b->period_us ||
        memcmp(a->total, b->total, sizeof(a->total)) != 0)
        return false;
    return (a->npcs == 0 || memcmp(a->pcs, b->pcs, a->npcs * sizeof(*a->pcs)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct profile p, q;
    char err[512], err2[512];
    err[0] = err2[0] = 'x';
    int rc = profile_parse("fuzz.prof", data, size, &p, err, sizeof(err));
    int rc2 = profile_parse("fuzz.prof", data, size, &q, err2, sizeof(err2));
    CHECK(rc == rc2);
    if (rc == 0) {
        check_valid(&p);
        CHECK(same(&p, &q));
    } else {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', sizeof(err)) != NULL && strstr(err, "fuzz.prof") != NULL);
        CHECK(strcmp(err, err2) == 0);
    }
    profile_free(&p);
    profile_free(&q);
    static const struct profile zero;
    CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
    return 0;
}
