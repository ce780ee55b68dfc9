/*
 * profile_gperftools: the gperftools format backend (profile_format.h). The
 * raw parser (profile_gperftools_parse.c) reads the file as it is; here every
 * pc goes through the session's libdwfl symbolizer, via the maps trailer, and
 * the values become canonical measures (samples × period = CPU ns).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile_format.h"
#include "profile_gperftools.h"

#define WORD sizeof(uint64_t)

static uint64_t word_at(const unsigned char *d, size_t i)
{
    uint64_t w;
    memcpy(&w, d + i * WORD, WORD); /* unaligned-safe; native byte order */
    return w;
}

int gperf_read(const char *path, struct gperf_profile *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    char *data;
    size_t len;
    if (profile_read_file(path, &data, &len, err, errlen) != 0)
        return -1;
    int rc = gperf_parse(path, data, len, p, err, errlen);
    free(data);
    return rc;
}

static bool gperftools_recognizes(const unsigned char *d, size_t len)
{
    /* Heap: text. CPU: a first word of 0, which no gzip or protobuf file
     * starts with; the parser then says what else is wrong with it. */
    return (len >= 5 && memcmp(d, "heap ", 5) == 0) || (len >= WORD && word_at(d, 0) == 0);
}

static int gperftools_load(struct profile_session *s, const unsigned char *data, size_t len,
                           struct profile *p, char *err, size_t errlen)
{
    struct gperf_profile raw;
    if (gperf_parse(p->name, data, len, &raw, err, errlen) != 0)
        return -1;
    struct symbolize_map *maps = calloc(raw.nmaps ? raw.nmaps : 1, sizeof(*maps));
    uint32_t *ids = malloc(PROFILE_MAX_DEPTH * sizeof(*ids));
    int rc = maps && ids ? 0 : profile_fail(err, errlen, "%s: out of memory", p->name);
    for (size_t i = 0; rc == 0 && i < raw.nmaps; i++)
        maps[i] = (struct symbolize_map){raw.maps[i].start, raw.maps[i].end, raw.maps[i].offset,
                                         raw.maps[i].path};
    if (rc == 0)
        rc = profile_use_maps(s, maps, raw.nmaps, err, errlen);
    bool cpu = raw.kind == GPERF_CPU;
    p->kind = cpu ? PROFILE_CPU : PROFILE_HEAP;
    p->measures = cpu ? (1u << PROFILE_SAMPLES) | (1u << PROFILE_CPU_NS)
                      : (1u << PROFILE_INUSE_OBJECTS) | (1u << PROFILE_INUSE_BYTES) |
                            (1u << PROFILE_ALLOC_OBJECTS) | (1u << PROFILE_ALLOC_BYTES);
    p->period_ns = cpu ? (int64_t)raw.period_us * 1000 : 0;
    /* The raw values are unsigned 64-bit and a hostile file can make any of
     * them, their product with the period or their sum overflow int64: each
     * is refused, naming the sample (counted from 0 in file order). */
    static const enum profile_measure heap_measures[4] = {
        PROFILE_INUSE_OBJECTS, PROFILE_INUSE_BYTES, PROFILE_ALLOC_OBJECTS, PROFILE_ALLOC_BYTES};
    for (size_t k = 0; rc == 0 && k < raw.nsamples; k++) {
        const struct gperf_sample *smp = &raw.samples[k];
        int64_t v[PROFILE_NMEASURES] = {0};
        for (int i = 0; i < (cpu ? 1 : 4) && rc == 0; i++)
            if (smp->v[i] > INT64_MAX)
                rc = profile_fail(err, errlen, "%s: sample %zu: value %" PRIu64 " is too large",
                                  p->name, k, smp->v[i]);
        if (rc != 0)
            break;
        if (cpu) {
            v[PROFILE_SAMPLES] = (int64_t)smp->v[0];
            if (__builtin_mul_overflow(v[PROFILE_SAMPLES], p->period_ns, &v[PROFILE_CPU_NS])) {
                rc = profile_fail(err, errlen, "%s: sample %zu: %" PRIu64 " samples overflow in ns",
                                  p->name, k, smp->v[0]);
                break;
            }
        } else {
            for (int i = 0; i < 4; i++)
                v[heap_measures[i]] = (int64_t)smp->v[i];
        }
        for (uint32_t j = 0; rc == 0 && j < smp->depth; j++)
            if ((ids[j] = profile_resolve(s, raw.pcs[smp->pc_index + j])) == UINT32_MAX)
                rc = profile_fail(err, errlen, "%s: out of memory", p->name);
        enum profile_measure over;
        int added = rc == 0 ? profile_add_sample(p, v, ids, smp->depth, &over) : 0;
        if (added == -2)
            rc = profile_fail(err, errlen, "%s: sample %zu: the total of %s overflows", p->name, k,
                              profile_measure_name(over));
        else if (added != 0)
            rc = profile_fail(err, errlen, "%s: out of memory", p->name);
    }
    free(ids);
    free(maps);
    gperf_free(&raw);
    return rc;
}

const struct profile_format profile_format_gperftools = {
    .name = "gperftools",
    .recognizes = gperftools_recognizes,
    .load = gperftools_load,
};
