/*
 * pprof_write: the pprof protobuf builder and writer behind pprof_write.h.
 *
 * Three open-addressing hash tables (strings, locations, samples) keep adds
 * O(1) so a profiler can aggregate as it samples; the protobuf-c message tree
 * is only built at encode time, from flat arrays, so the builder's memory is
 * a few words per location and per distinct sample.
 */
#include "pprof_write.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "outfile.h"
#include "profile.pb-c.h"

struct mapping {
    uint64_t start, limit, offset;
    int64_t filename, build_id;
};

struct location {
    uint64_t mapping_id, address;
};

struct label {
    int64_t key, str, num;
};

struct sample {
    size_t loc_off, val_off, lab_off;
    uint32_t nlocs, nlabels;
    uint64_t hash;
};

/* A table of indexes + 1 (0 = empty slot), capacity a power of two. */
struct index_table {
    uint32_t *slots;
    size_t cap;
};

struct pprof_builder {
    struct pprof_limits lim;
    size_t nvalues;
    int64_t sample_type[PPROF_MAX_VALUES][2];
    int64_t period_type[2];
    bool has_period_type;
    int64_t period, time_nanos, duration_nanos;
    int64_t *comments;
    size_t ncomments;

    char **strs;
    size_t nstrs, strs_cap;
    struct index_table str_index;

    struct mapping *maps;
    size_t nmaps, maps_cap;
    struct index_table map_index;

    struct location *locs;
    size_t nlocs, locs_cap;
    struct index_table loc_index;

    struct sample *samples;
    size_t nsamples, samples_cap;
    struct index_table sample_index;
    uint64_t *locpool;
    size_t locpool_len, locpool_cap;
    int64_t *valpool;
    size_t valpool_len, valpool_cap;
    struct label *labpool;
    size_t labpool_len, labpool_cap;

    uint64_t dropped;
};

void pprof_limits_default(struct pprof_limits *l)
{
    l->max_strings = 1u << 20;
    l->max_mappings = 1u << 16;
    l->max_locations = 1u << 20;
    l->max_samples = 1u << 20;
    l->max_file_bytes = (size_t)256 << 20;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Grows *arr (of *cap elements of size each) to hold at least need. */
static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

/* The slot for an entry equal per eq(ctx, index), or the empty slot where it would go. */
static uint32_t *index_find(struct index_table *t, uint64_t h, bool (*eq)(void *, size_t, void *),
                            void *ctx, void *key)
{
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t *slot = &t->slots[i];
        if (!*slot || eq(ctx, *slot - 1, key))
            return slot;
    }
}

/* Rehashes when an insert would pass half full; hash_of gives an entry's hash. */
static int index_reserve(struct index_table *t, size_t count, uint64_t (*hash_of)(void *, size_t),
                         void *ctx)
{
    if ((count + 1) * 2 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        uint32_t v = t->slots[i];
        if (!v)
            continue;
        size_t j = hash_of(ctx, v - 1) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = v;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static bool str_eq(void *ctx, size_t i, void *key)
{
    return !strcmp(((struct pprof_builder *)ctx)->strs[i], key);
}

static uint64_t str_hash_of(void *ctx, size_t i)
{
    return hash_str(((struct pprof_builder *)ctx)->strs[i]);
}

/* The string table index of s (interned), or -1 when full / out of memory. */
static int64_t intern(struct pprof_builder *b, const char *s)
{
    if (!s)
        s = "";
    if (index_reserve(&b->str_index, b->nstrs, str_hash_of, b) < 0)
        return -1;
    uint32_t *slot = index_find(&b->str_index, hash_str(s), str_eq, b, (void *)s);
    if (*slot)
        return *slot - 1;
    if (b->nstrs >= b->lim.max_strings || b->nstrs >= UINT32_MAX - 1 ||
        grow((void **)&b->strs, &b->strs_cap, b->nstrs + 1, sizeof *b->strs) < 0)
        return -1;
    char *copy = strdup(s);
    if (!copy)
        return -1;
    b->strs[b->nstrs] = copy;
    *slot = (uint32_t)++b->nstrs;
    return (int64_t)b->nstrs - 1;
}

struct pprof_builder *pprof_new(const struct pprof_value_type *sample_types, size_t nvalues,
                                const struct pprof_value_type *period_type, int64_t period,
                                const struct pprof_limits *lim)
{
    if (nvalues == 0 || nvalues > PPROF_MAX_VALUES)
        return NULL;
    struct pprof_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (lim)
        b->lim = *lim;
    else
        pprof_limits_default(&b->lim);
    if (b->lim.max_strings < 2) /* "" and at least one name */
        b->lim.max_strings = 2;
    b->nvalues = nvalues;
    b->period = period;
    bool ok = intern(b, "") == 0;
    for (size_t i = 0; ok && i < nvalues; i++) {
        b->sample_type[i][0] = intern(b, sample_types[i].type);
        b->sample_type[i][1] = intern(b, sample_types[i].unit);
        ok = b->sample_type[i][0] >= 0 && b->sample_type[i][1] >= 0;
    }
    if (ok && period_type) {
        b->has_period_type = true;
        b->period_type[0] = intern(b, period_type->type);
        b->period_type[1] = intern(b, period_type->unit);
        ok = b->period_type[0] >= 0 && b->period_type[1] >= 0;
    }
    if (!ok) {
        pprof_free(b);
        return NULL;
    }
    return b;
}

void pprof_free(struct pprof_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nstrs; i++)
        free(b->strs[i]);
    free(b->strs);
    free(b->str_index.slots);
    free(b->maps);
    free(b->map_index.slots);
    free(b->locs);
    free(b->loc_index.slots);
    free(b->samples);
    free(b->sample_index.slots);
    free(b->locpool);
    free(b->valpool);
    free(b->labpool);
    free(b->comments);
    free(b);
}

void pprof_set_time(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
    b->time_nanos = time_nanos;
    b->duration_nanos = duration_nanos;
}

int pprof_add_comment(struct pprof_builder *b, const char *text)
{
    int64_t s = intern(b, text);
    int64_t *c = s < 0 ? NULL : realloc(b->comments, (b->ncomments + 1) * sizeof *c);
    if (!c) {
        b->dropped++;
        return -1;
    }
    b->comments = c;
    b->comments[b->ncomments++] = s;
    return 0;
}

static uint64_t map_hash(const struct mapping *m)
{
    return mix(mix(mix(mix(mix(0, m->start), m->limit), m->offset), (uint64_t)m->filename),
               (uint64_t)m->build_id);
}

static bool map_eq(void *ctx, size_t i, void *key)
{
    return !memcmp(&((struct pprof_builder *)ctx)->maps[i], key, sizeof(struct mapping));
}

static uint64_t map_hash_of(void *ctx, size_t i)
{
    return map_hash(&((struct pprof_builder *)ctx)->maps[i]);
}

uint64_t pprof_add_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit, uint64_t offset,
                           const char *filename, const char *build_id)
{
    int64_t f = intern(b, filename), id = intern(b, build_id);
    if (f < 0 || id < 0 || index_reserve(&b->map_index, b->nmaps, map_hash_of, b) < 0) {
        b->dropped++;
        return 0;
    }
    struct mapping key;
    memset(&key, 0, sizeof key); /* compared with memcmp */
    key = (struct mapping){start, limit, offset, f, id};
    uint32_t *slot = index_find(&b->map_index, map_hash(&key), map_eq, b, &key);
    if (*slot)
        return *slot;
    if (b->nmaps >= b->lim.max_mappings || b->nmaps >= UINT32_MAX - 1 ||
        grow((void **)&b->maps, &b->maps_cap, b->nmaps + 1, sizeof *b->maps) < 0) {
        b->dropped++;
        return 0;
    }
    b->maps[b->nmaps] = key;
    *slot = (uint32_t)++b->nmaps;
    return b->nmaps;
}

static uint64_t loc_hash(uint64_t mapping_id, uint64_t address)
{
    return mix(mix(0, mapping_id), address);
}

static bool loc_eq(void *ctx, size_t i, void *key)
{
    const struct location *a = &((struct pprof_builder *)ctx)->locs[i], *k = key;
    return a->mapping_id == k->mapping_id && a->address == k->address;
}

static uint64_t loc_hash_of(void *ctx, size_t i)
{
    const struct location *a = &((struct pprof_builder *)ctx)->locs[i];
    return loc_hash(a->mapping_id, a->address);
}

uint64_t pprof_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address)
{
    struct location key = {mapping_id, address};
    if (mapping_id > b->nmaps || index_reserve(&b->loc_index, b->nlocs, loc_hash_of, b) < 0) {
        b->dropped++;
        return 0;
    }
    uint32_t *slot = index_find(&b->loc_index, loc_hash(mapping_id, address), loc_eq, b, &key);
    if (*slot)
        return *slot;
    if (b->nlocs >= b->lim.max_locations || b->nlocs >= UINT32_MAX - 1 ||
        grow((void **)&b->locs, &b->locs_cap, b->nlocs + 1, sizeof *b->locs) < 0) {
        b->dropped++;
        return 0;
    }
    b->locs[b->nlocs] = key;
    *slot = (uint32_t)++b->nlocs;
    return b->nlocs;
}

/* A sample being added, for comparing against stored ones. */
struct sample_key {
    const uint64_t *locs;
    size_t nlocs;
    const struct label *labels;
    size_t nlabels;
    uint64_t hash;
};

static bool sample_eq(void *ctx, size_t i, void *key)
{
    const struct pprof_builder *b = ctx;
    const struct sample *s = &b->samples[i];
    const struct sample_key *k = key;
    /* memcmp/memcpy with a NULL pointer is undefined even for 0 bytes: a
     * stack may be empty (NULL locs) */
    return s->hash == k->hash && s->nlocs == k->nlocs && s->nlabels == k->nlabels &&
           (!k->nlocs || !memcmp(&b->locpool[s->loc_off], k->locs, k->nlocs * sizeof *k->locs)) &&
           (!k->nlabels ||
            !memcmp(&b->labpool[s->lab_off], k->labels, k->nlabels * sizeof *k->labels));
}

static uint64_t sample_hash_of(void *ctx, size_t i)
{
    return ((struct pprof_builder *)ctx)->samples[i].hash;
}

int pprof_add_sample(struct pprof_builder *b, const uint64_t *locs, size_t n, const int64_t *values,
                     const struct pprof_label *labels, size_t nlabels)
{
    if (n > PPROF_MAX_DEPTH || nlabels > PPROF_MAX_LABELS)
        goto drop;
    struct label lab[PPROF_MAX_LABELS];
    uint64_t h = mix(n, nlabels);
    for (size_t i = 0; i < n; i++) {
        if (locs[i] == 0 || locs[i] > b->nlocs)
            goto drop;
        h = mix(h, locs[i]);
    }
    for (size_t i = 0; i < nlabels; i++) {
        memset(&lab[i], 0, sizeof lab[i]); /* compared with memcmp */
        lab[i].key = intern(b, labels[i].key);
        lab[i].str = labels[i].str ? intern(b, labels[i].str) : 0;
        lab[i].num = labels[i].str ? 0 : labels[i].num;
        if (lab[i].key < 0 || lab[i].str < 0)
            goto drop;
        h = mix(mix(mix(h, (uint64_t)lab[i].key), (uint64_t)lab[i].str), (uint64_t)lab[i].num);
    }
    struct sample_key key = {locs, n, lab, nlabels, h};
    if (index_reserve(&b->sample_index, b->nsamples, sample_hash_of, b) < 0)
        goto drop;
    uint32_t *slot = index_find(&b->sample_index, h, sample_eq, b, &key);
    if (*slot) {
        int64_t *v = &b->valpool[b->samples[*slot - 1].val_off];
        for (size_t i = 0; i < b->nvalues; i++)
            v[i] += values[i];
        return 0;
    }
    if (b->nsamples >= b->lim.max_samples || b->nsamples >= UINT32_MAX - 1 ||
        grow((void **)&b->samples, &b->samples_cap, b->nsamples + 1, sizeof *b->samples) < 0 ||
        grow((void **)&b->locpool, &b->locpool_cap, b->locpool_len + n, sizeof *b->locpool) < 0 ||
        grow((void **)&b->valpool, &b->valpool_cap, b->valpool_len + b->nvalues,
             sizeof *b->valpool) < 0 ||
        grow((void **)&b->labpool, &b->labpool_cap, b->labpool_len + nlabels, sizeof *b->labpool) <
            0)
        goto drop;
    struct sample *s = &b->samples[b->nsamples];
    *s = (struct sample){b->locpool_len, b->valpool_len,    b->labpool_len,
                         (uint32_t)n,    (uint32_t)nlabels, h};
    if (n)
        memcpy(&b->locpool[b->locpool_len], locs, n * sizeof *locs);
    memcpy(&b->valpool[b->valpool_len], values, b->nvalues * sizeof *values);
    if (nlabels)
        memcpy(&b->labpool[b->labpool_len], lab, nlabels * sizeof *lab);
    b->locpool_len += n;
    b->valpool_len += b->nvalues;
    b->labpool_len += nlabels;
    *slot = (uint32_t)++b->nsamples;
    return 0;
drop:
    b->dropped++;
    return -1;
}

size_t pprof_sample_count(const struct pprof_builder *b)
{
    return b->nsamples;
}

size_t pprof_location_count(const struct pprof_builder *b)
{
    return b->nlocs;
}

size_t pprof_mapping_count(const struct pprof_builder *b)
{
    return b->nmaps;
}

uint64_t pprof_dropped(const struct pprof_builder *b)
{
    return b->dropped;
}

/* The message tree of one encode: every allocation in one place to free. */
struct tree {
    Perftools__Profiles__Profile prof;
    Perftools__Profiles__ValueType vt[PPROF_MAX_VALUES], period_type;
    Perftools__Profiles__ValueType *vtp[PPROF_MAX_VALUES];
    Perftools__Profiles__Mapping *maps, **mapp;
    Perftools__Profiles__Location *locs, **locp;
    Perftools__Profiles__Sample *samples, **samplep;
    Perftools__Profiles__Label *labels, **labelp;
};

static void tree_free(struct tree *t)
{
    free(t->maps);
    free(t->mapp);
    free(t->locs);
    free(t->locp);
    free(t->samples);
    free(t->samplep);
    free(t->labels);
    free(t->labelp);
}

static int tree_build(struct pprof_builder *b, struct tree *t)
{
    memset(t, 0, sizeof *t);
    perftools__profiles__profile__init(&t->prof);
    Perftools__Profiles__Profile *p = &t->prof;
    for (size_t i = 0; i < b->nvalues; i++) {
        perftools__profiles__value_type__init(&t->vt[i]);
        t->vt[i].type = b->sample_type[i][0];
        t->vt[i].unit = b->sample_type[i][1];
        t->vtp[i] = &t->vt[i];
    }
    p->n_sample_type = b->nvalues;
    p->sample_type = t->vtp;
    if (b->has_period_type) {
        perftools__profiles__value_type__init(&t->period_type);
        t->period_type.type = b->period_type[0];
        t->period_type.unit = b->period_type[1];
        p->period_type = &t->period_type;
    }
    p->period = b->period;
    p->time_nanos = b->time_nanos;
    p->duration_nanos = b->duration_nanos;
    p->n_comment = b->ncomments;
    p->comment = b->comments;
    p->n_string_table = b->nstrs;
    p->string_table = b->strs;

    /* calloc(0) may return NULL: allocate at least one of each */
    t->maps = calloc(b->nmaps + 1, sizeof *t->maps);
    t->mapp = calloc(b->nmaps + 1, sizeof *t->mapp);
    t->locs = calloc(b->nlocs + 1, sizeof *t->locs);
    t->locp = calloc(b->nlocs + 1, sizeof *t->locp);
    t->samples = calloc(b->nsamples + 1, sizeof *t->samples);
    t->samplep = calloc(b->nsamples + 1, sizeof *t->samplep);
    t->labels = calloc(b->labpool_len + 1, sizeof *t->labels);
    t->labelp = calloc(b->labpool_len + 1, sizeof *t->labelp);
    if (!t->maps || !t->mapp || !t->locs || !t->locp || !t->samples || !t->samplep || !t->labels ||
        !t->labelp)
        return -1;
    for (size_t i = 0; i < b->nmaps; i++) {
        Perftools__Profiles__Mapping *m = &t->maps[i];
        perftools__profiles__mapping__init(m);
        m->id = i + 1;
        m->memory_start = b->maps[i].start;
        m->memory_limit = b->maps[i].limit;
        m->file_offset = b->maps[i].offset;
        m->filename = b->maps[i].filename;
        m->build_id = b->maps[i].build_id;
        t->mapp[i] = m;
    }
    for (size_t i = 0; i < b->nlocs; i++) {
        Perftools__Profiles__Location *l = &t->locs[i];
        perftools__profiles__location__init(l);
        l->id = i + 1;
        l->mapping_id = b->locs[i].mapping_id;
        l->address = b->locs[i].address;
        t->locp[i] = l;
    }
    for (size_t i = 0; i < b->labpool_len; i++) {
        Perftools__Profiles__Label *l = &t->labels[i];
        perftools__profiles__label__init(l);
        l->key = b->labpool[i].key;
        l->str = b->labpool[i].str;
        l->num = b->labpool[i].num;
        t->labelp[i] = l;
    }
    for (size_t i = 0; i < b->nsamples; i++) {
        Perftools__Profiles__Sample *s = &t->samples[i];
        perftools__profiles__sample__init(s);
        s->n_location_id = b->samples[i].nlocs;
        s->location_id = &b->locpool[b->samples[i].loc_off];
        s->n_value = b->nvalues;
        s->value = &b->valpool[b->samples[i].val_off];
        s->n_label = b->samples[i].nlabels;
        s->label = &t->labelp[b->samples[i].lab_off];
        t->samplep[i] = s;
    }
    p->n_mapping = b->nmaps;
    p->mapping = t->mapp;
    p->n_location = b->nlocs;
    p->location = t->locp;
    p->n_sample = b->nsamples;
    p->sample = t->samplep;
    return 0;
}

static int gzip_bytes(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 16: a gzip header and trailer, as Go's pprof writes */
    if (len > UINT_MAX ||
        deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *o = malloc(cap);
    if (!o) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(o);
        return -1;
    }
    *out = o;
    return 0;
}

int pprof_encode(struct pprof_builder *b, unsigned char **out, size_t *len, struct buf *err)
{
    struct tree t;
    unsigned char *raw = NULL;
    *out = NULL;
    *len = 0;
    if (tree_build(b, &t) < 0) {
        buf_printf(err, "pprof: out of memory building the profile");
        tree_free(&t);
        return -1;
    }
    size_t n = perftools__profiles__profile__get_packed_size(&t.prof);
    if (!(raw = malloc(n ? n : 1))) {
        buf_printf(err, "pprof: out of memory for %zu bytes", n);
        tree_free(&t);
        return -1;
    }
    perftools__profiles__profile__pack(&t.prof, raw);
    tree_free(&t);
    int rc = gzip_bytes(raw, n, out, len);
    free(raw);
    if (rc < 0) {
        buf_printf(err, "pprof: gzip of %zu bytes failed", n);
        return -1;
    }
    if (*len > b->lim.max_file_bytes) {
        buf_printf(err, "pprof: the profile is %zu bytes compressed, over the %zu-byte limit", *len,
                   b->lim.max_file_bytes);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int pprof_write(struct pprof_builder *b, const char *path, struct buf *err)
{
    unsigned char *data;
    size_t len;
    if (pprof_encode(b, &data, &len, err) < 0)
        return -1;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    if (dlen >= sizeof dir || !*name) {
        buf_printf(err, "%s: not a file path", path);
        free(data);
        return -1;
    }
    if (slash)
        memcpy(dir, path, dlen);
    else
        dir[0] = '.';
    if (slash && dlen == 0) /* "/name" */
        dir[dlen++] = '/';
    dir[dlen] = '\0';
    int rc = outfile_write(dir, name, data, len);
    if (rc < 0)
        buf_printf(err, "%s: %s", path, strerror(errno));
    free(data);
    return rc;
}
