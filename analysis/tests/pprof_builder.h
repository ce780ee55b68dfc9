/*
 * pprof_builder: hand-built pprof profiles for the tests, with protobuf-c's
 * generated types (what profile_pprof.c decodes), packed to bytes and
 * optionally gzipped. Header-only (static functions): included by the tests.
 *
 * A builder holds one Perftools__Profiles__Profile whose arrays point into
 * pools sized at pb_init; tests then mutate fields directly to make the
 * broken cases. Strings are appended, never deduplicated (a string table may
 * repeat strings), so building 100k names stays linear. pb_example is the
 * profile most tests start from; pb_load packs and loads one as "hand.pb".
 */
#ifndef SCALEPROF_PPROF_BUILDER_H
#define SCALEPROF_PPROF_BUILDER_H

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile_t;
typedef Perftools__Profiles__ValueType pb_value_type_t;
typedef Perftools__Profiles__Sample pb_sample_t;
typedef Perftools__Profiles__Label pb_label_t;
typedef Perftools__Profiles__Mapping pb_mapping_t;
typedef Perftools__Profiles__Location pb_location_t;
typedef Perftools__Profiles__Line pb_line_t;
typedef Perftools__Profiles__Function pb_function_t;

struct pb {
    pb_profile_t m;
    pb_value_type_t vt[8], *vtp[8], period_type;
    pb_label_t label[8], *labelp[8];
    pb_mapping_t *map, **mapp;
    pb_function_t *fn, **fnp;
    pb_location_t *loc, **locp;
    pb_line_t *line, **linep;
    pb_sample_t *smp, **smpp;
    uint64_t *ids;
    int64_t *vals;
    char **str;
    size_t cap, nline, nids, nvals, nlabel;
    size_t nstr; /* strings allocated (tests may shrink m.n_string_table) */
};

/* A builder for up to cap elements of each table (lines, ids and values: 4
 * per element), with string 0 = "". */
static inline void pb_init(struct pb *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    pb_profile_t init = PERFTOOLS__PROFILES__PROFILE__INIT;
    b->m = init;
    b->cap = cap;
    b->map = calloc(cap, sizeof(*b->map));
    b->mapp = calloc(cap, sizeof(*b->mapp));
    b->fn = calloc(cap, sizeof(*b->fn));
    b->fnp = calloc(cap, sizeof(*b->fnp));
    b->loc = calloc(cap, sizeof(*b->loc));
    b->locp = calloc(cap, sizeof(*b->locp));
    b->line = calloc(4 * cap, sizeof(*b->line));
    b->linep = calloc(4 * cap, sizeof(*b->linep));
    b->smp = calloc(cap, sizeof(*b->smp));
    b->smpp = calloc(cap, sizeof(*b->smpp));
    b->ids = calloc(4 * cap, sizeof(*b->ids));
    b->vals = calloc(4 * cap, sizeof(*b->vals));
    b->str = calloc(4 * cap + 64, sizeof(*b->str));
    assert(b->map && b->fn && b->loc && b->line && b->smp && b->ids && b->vals && b->str);
    b->m.sample_type = b->vtp;
    b->m.mapping = b->mapp;
    b->m.function = b->fnp;
    b->m.location = b->locp;
    b->m.sample = b->smpp;
    b->m.string_table = b->str;
    b->str[b->m.n_string_table++] = strdup("");
    b->nstr = 1;
}

static inline void pb_release(struct pb *b)
{
    for (size_t i = 0; i < b->nstr; i++)
        free(b->str[i]);
    free(b->map), free(b->mapp), free(b->fn), free(b->fnp), free(b->loc), free(b->locp);
    free(b->line), free(b->linep), free(b->smp), free(b->smpp), free(b->ids), free(b->vals);
    free(b->str);
}

/* Appends s to the string table; returns its index ("" is 0). */
static inline int64_t pb_str(struct pb *b, const char *s)
{
    if (!s[0])
        return 0;
    assert(b->m.n_string_table == b->nstr && b->nstr < 4 * b->cap + 64);
    b->str[b->nstr++] = strdup(s);
    return (int64_t)b->m.n_string_table++;
}

static inline void pb_sample_type(struct pb *b, const char *type, const char *unit)
{
    size_t i = b->m.n_sample_type++;
    assert(i < 8);
    pb_value_type_t init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    b->vt[i] = init;
    b->vt[i].type = pb_str(b, type);
    b->vt[i].unit = pb_str(b, unit);
    b->vtp[i] = &b->vt[i];
}

static inline void pb_period(struct pb *b, const char *type, const char *unit, int64_t period)
{
    pb_value_type_t init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    b->period_type = init;
    b->period_type.type = pb_str(b, type);
    b->period_type.unit = pb_str(b, unit);
    b->m.period_type = &b->period_type;
    b->m.period = period;
}

static inline pb_mapping_t *pb_mapping(struct pb *b, uint64_t id, uint64_t start, uint64_t limit,
                                       uint64_t offset, const char *file)
{
    size_t i = b->m.n_mapping++;
    assert(i < b->cap);
    pb_mapping_t init = PERFTOOLS__PROFILES__MAPPING__INIT;
    b->map[i] = init;
    b->map[i].id = id;
    b->map[i].memory_start = start;
    b->map[i].memory_limit = limit;
    b->map[i].file_offset = offset;
    b->map[i].filename = pb_str(b, file);
    b->mapp[i] = &b->map[i];
    return &b->map[i];
}

static inline pb_function_t *pb_function(struct pb *b, uint64_t id, const char *name,
                                         const char *system_name, const char *file,
                                         int64_t start_line)
{
    size_t i = b->m.n_function++;
    assert(i < b->cap);
    pb_function_t init = PERFTOOLS__PROFILES__FUNCTION__INIT;
    b->fn[i] = init;
    b->fn[i].id = id;
    b->fn[i].name = pb_str(b, name);
    b->fn[i].system_name = pb_str(b, system_name);
    b->fn[i].filename = pb_str(b, file);
    b->fn[i].start_line = start_line;
    b->fnp[i] = &b->fn[i];
    return &b->fn[i];
}

/* A location with n lines calling funcs[0..n) (innermost first). */
static inline pb_location_t *pb_location(struct pb *b, uint64_t id, uint64_t mapping_id,
                                         uint64_t address, const uint64_t *funcs, size_t n)
{
    size_t i = b->m.n_location++;
    assert(i < b->cap && b->nline + n <= 4 * b->cap);
    pb_location_t init = PERFTOOLS__PROFILES__LOCATION__INIT;
    b->loc[i] = init;
    b->loc[i].id = id;
    b->loc[i].mapping_id = mapping_id;
    b->loc[i].address = address;
    b->loc[i].line = b->linep + b->nline;
    b->loc[i].n_line = n;
    for (size_t j = 0; j < n; j++) {
        pb_line_t linit = PERFTOOLS__PROFILES__LINE__INIT;
        b->line[b->nline] = linit;
        b->line[b->nline].function_id = funcs[j];
        b->line[b->nline].line = 10 + (int64_t)j;
        b->linep[b->nline] = &b->line[b->nline];
        b->nline++;
    }
    b->locp[i] = &b->loc[i];
    return &b->loc[i];
}

/* A sample of values v[0..nv) at locations locs[0..nl) (leaf first). */
static inline pb_sample_t *pb_sample(struct pb *b, const int64_t *v, size_t nv,
                                     const uint64_t *locs, size_t nl)
{
    size_t i = b->m.n_sample++;
    assert(i < b->cap && b->nvals + nv <= 4 * b->cap && b->nids + nl <= 4 * b->cap);
    pb_sample_t init = PERFTOOLS__PROFILES__SAMPLE__INIT;
    b->smp[i] = init;
    b->smp[i].value = b->vals + b->nvals;
    b->smp[i].n_value = nv;
    if (nv)
        memcpy(b->vals + b->nvals, v, nv * sizeof(*v));
    b->nvals += nv;
    b->smp[i].location_id = b->ids + b->nids;
    b->smp[i].n_location_id = nl;
    if (nl)
        memcpy(b->ids + b->nids, locs, nl * sizeof(*locs));
    b->nids += nl;
    b->smpp[i] = &b->smp[i];
    return &b->smp[i];
}

static inline void pb_label(struct pb *b, pb_sample_t *s, const char *key, int64_t num,
                            const char *unit)
{
    assert(b->nlabel < 8 && s->n_label == 0);
    pb_label_t init = PERFTOOLS__PROFILES__LABEL__INIT;
    pb_label_t *l = &b->label[b->nlabel];
    *l = init;
    l->key = pb_str(b, key);
    l->num = num;
    l->num_unit = pb_str(b, unit);
    b->labelp[b->nlabel] = l;
    s->label = &b->labelp[b->nlabel++];
    s->n_label = 1;
}

/* The profile as protobuf bytes (malloc'd). */
static inline unsigned char *pb_pack(const struct pb *b, size_t *len)
{
    *len = perftools__profiles__profile__get_packed_size(&b->m);
    unsigned char *out = malloc(*len ? *len : 1);
    assert(out);
    size_t n = perftools__profiles__profile__pack(&b->m, out);
    assert(n == *len);
    (void)n;
    return out;
}

/* data gzipped (malloc'd), as Go writes profiles. */
static inline unsigned char *pb_gzip(const unsigned char *data, size_t len, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    int rc = deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    assert(rc == Z_OK);
    (void)rc;
    size_t cap = deflateBound(&z, len) + 32;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)data;
    z.avail_in = (unsigned)len;
    z.next_out = out;
    z.avail_out = (unsigned)cap;
    rc = deflate(&z, Z_FINISH);
    assert(rc == Z_STREAM_END);
    (void)rc;
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* ---- loading through a session ---- */

#define PB_MS 1000000LL /* a millisecond in ns */

/* Packs b (gzipped when gz) and loads it in s as "hand.pb". */
static inline int pb_load(struct profile_session *s, const struct pb *b, bool gz, struct profile *p,
                          char *err, size_t errlen)
{
    size_t len, zlen;
    unsigned char *data = pb_pack(b, &len);
    if (gz) {
        unsigned char *z = pb_gzip(data, len, &zlen);
        free(data);
        data = z;
        len = zlen;
    }
    int rc = profile_load_mem(s, "hand.pb", data, len, p, err, errlen);
    free(data);
    return rc;
}

/* The example the tests mutate: a native CPU profile with inlining, a second segment of
 * the executable, a shared library, a function known by its system name only,
 * a nameless one, and address-only locations. */
static inline void pb_example(struct pb *b)
{
    pb_init(b, 16);
    pb_sample_type(b, "samples", "count");
    pb_sample_type(b, "cpu", "nanoseconds");
    pb_period(b, "cpu", "nanoseconds", 10 * PB_MS);
    b->m.duration_nanos = 3000 * PB_MS;
    pb_mapping(b, 1, 0x400000, 0x500000, 0, "/usr/bin/prog");
    pb_mapping(b, 2, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/libc.so.6");
    pb_mapping(b, 3, 0x500000, 0x600000, 0x100000, "/usr/bin/prog");
    pb_function(b, 1, "main", "", "prog.c", 5);
    pb_function(b, 2, "work", "", "prog.c", 20);
    pb_function(b, 3, "helper", "", "prog.c", 40);
    pb_function(b, 4, "memcpy", "", "", 0);
    pb_function(b, 5, "", "cold_path", "prog.c", 60);
    pb_function(b, 6, "", "", "", 0);
    pb_location(b, 1, 1, 0x401000, (uint64_t[]){3, 2}, 2); /* helper inlined into work */
    pb_location(b, 2, 1, 0x402000, (uint64_t[]){1}, 1);
    pb_location(b, 3, 2, 0x7f0000001000, (uint64_t[]){4}, 1);
    pb_location(b, 4, 3, 0x500100, (uint64_t[]){5}, 1);
    pb_location(b, 5, 1, 0x403000, (uint64_t[]){6}, 1);
    pb_location(b, 6, 0, 0x1234, NULL, 0);
    pb_location(b, 7, 0, 0, NULL, 0);
    pb_sample(b, (int64_t[]){2, 20 * PB_MS}, 2, (uint64_t[]){3, 1, 2}, 3);
    pb_sample_t *s = pb_sample(b, (int64_t[]){5, 50 * PB_MS}, 2, (uint64_t[]){4, 2}, 2);
    pb_label(b, s, "bytes", 4096, "bytes");
    pb_sample(b, (int64_t[]){1, 10 * PB_MS}, 2, (uint64_t[]){5, 6, 7, 2}, 4);
}

#endif
