/*
 * profile_pprof: the pprof protobuf backend (profile.proto, gzipped or not, as
 * Go's runtime/pprof and net/http/pprof, Caddy and pprof write it) behind
 * struct profile_format (profile_format.h).
 *
 * profile_pprof_decode.c turns the bytes into the decoded message; this file
 * checks every reference in it (string indices, mapping, location and
 * function ids), maps its sample types onto the canonical measures and turns
 * each sample into a stack of session function ids:
 *   - sample.location_id is leaf first; a location's Line list is innermost
 *     first (the last Line is the function the others were inlined into), so
 *     one frame per Line in that order keeps inlined calls as frames;
 *   - names, files and start lines come from the profile's Function table
 *     (without a start line, as Go before 1.20 writes them, the function's
 *     smallest line in the profile); a location without Lines is an
 *     address, symbolized through the session with the profile's Mapping
 *     table (profile_use_maps, once per profile, when first needed);
 *   - own code: Go profiles (a function named runtime.*, or in a .go file)
 *     by the Go rule; others by mapping (the main executable is the first
 *     mapping, and every mapping of the same file).
 * Everything from the file is hostile: each failure names the file and the
 * element ("sample 12: location id 99 is not in the location table").
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile_format.h"
#include "profile_pprof_decode.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__Location pb_location;

/* ---- id → table index, open addressing (ids are checked non-zero first, so
 * key 0 marks an empty slot). Profiles can hold 100k+ locations: lookups
 * must be O(1), not a scan. ---- */

struct id_index {
    uint64_t *keys;
    uint32_t *vals;
    size_t mask;
};

static size_t id_slot(const struct id_index *x, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing: spreads sequential ids */
    return (size_t)(h ^ (h >> 32)) & x->mask;
}

static int id_index_init(struct id_index *x, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    x->keys = calloc(cap, sizeof(*x->keys));
    x->vals = malloc(cap * sizeof(*x->vals));
    x->mask = cap - 1;
    return x->keys && x->vals ? 0 : -1;
}

static void id_index_free(struct id_index *x)
{
    free(x->keys);
    free(x->vals);
}

/* Index of key, UINT32_MAX when absent (always for 0: no id is 0). */
static uint32_t id_index_get(const struct id_index *x, uint64_t key)
{
    if (key == 0)
        return UINT32_MAX;
    for (size_t i = id_slot(x, key);; i = (i + 1) & x->mask) {
        if (x->keys[i] == key)
            return x->vals[i];
        if (x->keys[i] == 0)
            return UINT32_MAX;
    }
}

/* Adds key → val (the table is sized for every key at init). Returns
 * UINT32_MAX, or the index already stored under key. */
static uint32_t id_index_put(struct id_index *x, uint64_t key, uint32_t val)
{
    size_t i = id_slot(x, key);
    for (; x->keys[i] != 0; i = (i + 1) & x->mask)
        if (x->keys[i] == key)
            return x->vals[i];
    x->keys[i] = key;
    x->vals[i] = val;
    return UINT32_MAX;
}

/* ---- sample types → measures ---- */

enum unit_kind { UNIT_COUNT, UNIT_TIME, UNIT_BYTES };

static const struct measure_rule {
    const char *type;
    enum profile_measure m;
    enum unit_kind unit;
} measure_rules[] = {
    {"samples", PROFILE_SAMPLES, UNIT_COUNT},
    {"cpu", PROFILE_CPU_NS, UNIT_TIME},
    {"inuse_space", PROFILE_INUSE_BYTES, UNIT_BYTES},
    {"inuse_objects", PROFILE_INUSE_OBJECTS, UNIT_COUNT},
    {"alloc_space", PROFILE_ALLOC_BYTES, UNIT_BYTES},
    {"alloc_objects", PROFILE_ALLOC_OBJECTS, UNIT_COUNT},
    {"goroutine", PROFILE_GOROUTINES, UNIT_COUNT},
    {"contentions", PROFILE_CONTENTIONS, UNIT_COUNT},
    {"delay", PROFILE_DELAY_NS, UNIT_TIME},
};

static const struct unit_factor {
    enum unit_kind kind;
    const char *name;
    int64_t factor; /* to the canonical unit: count, nanoseconds, bytes */
} unit_factors[] = {
    {UNIT_COUNT, "count", 1},
    {UNIT_TIME, "nanoseconds", 1},
    {UNIT_TIME, "nanosecond", 1},
    {UNIT_TIME, "ns", 1},
    {UNIT_TIME, "microseconds", 1000},
    {UNIT_TIME, "microsecond", 1000},
    {UNIT_TIME, "us", 1000},
    {UNIT_TIME, "milliseconds", 1000000},
    {UNIT_TIME, "millisecond", 1000000},
    {UNIT_TIME, "ms", 1000000},
    {UNIT_TIME, "seconds", 1000000000},
    {UNIT_TIME, "second", 1000000000},
    {UNIT_TIME, "s", 1000000000},
    {UNIT_BYTES, "bytes", 1},
    {UNIT_BYTES, "byte", 1},
    {UNIT_BYTES, "kilobytes", 1024},
    {UNIT_BYTES, "megabytes", 1024 * 1024},
    {UNIT_BYTES, "gigabytes", 1024 * 1024 * 1024},
};

/* Factor from unit to the canonical unit of kind; 0 when unit is not one. */
static int64_t unit_factor(enum unit_kind kind, const char *unit)
{
    for (size_t i = 0; i < sizeof(unit_factors) / sizeof(unit_factors[0]); i++)
        if (unit_factors[i].kind == kind && strcasecmp(unit_factors[i].name, unit) == 0)
            return unit_factors[i].factor;
    return 0;
}

/* ---- the conversion ---- */

struct conv {
    struct profile_session *s;
    struct profile *p;
    const pb_profile *m;
    char *err;
    size_t errlen;
    struct id_index maps, locs, funcs;
    int *measure;     /* per sample type: its measure, -1 when ignored */
    int64_t *factor;  /* per sample type: to the measure's unit */
    bool derive_cpu;  /* CPU_NS = SAMPLES × period_ns */
    bool go;          /* a Go profile: own code by the Go rule */
    bool *main_map;   /* per mapping: the main executable's file */
    bool maps_given;  /* profile_use_maps called */
    uint32_t *fid;    /* per function: session id, UINT32_MAX until interned */
    int *fline;       /* per function: its smallest Line.line in the profile, 0 none */
    uint32_t *lfirst; /* per location: first of its frames in lframes, UINT32_MAX until built */
    uint32_t *lcount; /* per location: its number of frames */
    uint32_t *lframes;
    size_t nlframes, lframes_cap;
};

static const char *str(const struct conv *c, int64_t i)
{
    return c->m->string_table[i];
}

static bool str_ok(const struct conv *c, int64_t i)
{
    return i >= 0 && (uint64_t)i < c->m->n_string_table;
}

static int bad_str(const struct conv *c, int64_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "NAME: <where>: string index I is not in the string table (N strings)". */
static int bad_str(const struct conv *c, int64_t i, const char *fmt, ...)
{
    char where[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof(where), fmt, ap);
    va_end(ap);
    return profile_fail(c->err, c->errlen,
                        "%s: %s: string index %" PRId64 " is not in the string table (%zu strings)",
                        c->p->name, where, i, c->m->n_string_table);
}

#define CHECK_STR(c, i, ...)                                                                       \
    do {                                                                                           \
        if (!str_ok(c, i))                                                                         \
            return bad_str(c, i, __VA_ARGS__);                                                     \
    } while (0)

static int check_header(struct conv *c)
{
    const pb_profile *m = c->m;
    if (m->n_string_table == 0 || m->string_table[0][0] != '\0')
        return profile_fail(c->err, c->errlen, "%s: string_table[0] must be \"\" (%s)", c->p->name,
                            m->n_string_table ? "it is not" : "the table is empty");
    if (m->period_type) {
        CHECK_STR(c, m->period_type->type, "period_type: type");
        CHECK_STR(c, m->period_type->unit, "period_type: unit");
    }
    CHECK_STR(c, m->drop_frames, "drop_frames");
    CHECK_STR(c, m->keep_frames, "keep_frames");
    CHECK_STR(c, m->default_sample_type, "default_sample_type");
    for (size_t i = 0; i < m->n_comment; i++)
        CHECK_STR(c, m->comment[i], "comment %zu", i);
    for (size_t i = 0; i < m->n_sample_type; i++) {
        CHECK_STR(c, m->sample_type[i]->type, "sample_type %zu: type", i);
        CHECK_STR(c, m->sample_type[i]->unit, "sample_type %zu: unit", i);
    }
    if (m->duration_nanos < 0)
        return profile_fail(c->err, c->errlen, "%s: duration_nanos %" PRId64 " is negative",
                            c->p->name, m->duration_nanos);
    if (m->n_mapping > PROFILE_MAX_MAPS)
        return profile_fail(c->err, c->errlen, "%s: %zu mappings, more than the %d accepted",
                            c->p->name, m->n_mapping, PROFILE_MAX_MAPS);
    return 0;
}

/* A Go profile names a runtime.* function somewhere, or Go source files: a
 * mutex profile of Go code can hold no runtime frame at all (sync.(*Mutex)
 * .Unlock inlined into the caller), but its files still end in ".go". */
static bool is_go_function(const char *name, const char *file)
{
    size_t n = strlen(file);
    return strncmp(name, "runtime.", 8) == 0 || (n > 3 && strcmp(file + n - 3, ".go") == 0);
}

/* Checks an element's id (non-zero, not seen before in its table) and adds it. */
static int add_id(struct conv *c, struct id_index *x, const char *table, size_t i, uint64_t id)
{
    if (id == 0)
        return profile_fail(c->err, c->errlen, "%s: %s %zu: id 0 (ids must be non-zero)",
                            c->p->name, table, i);
    uint32_t prev = id_index_put(x, id, (uint32_t)i);
    if (prev != UINT32_MAX)
        return profile_fail(c->err, c->errlen, "%s: %s %zu: id %" PRIu64 " repeats %s %u's",
                            c->p->name, table, i, id, table, prev);
    return 0;
}

static int check_tables(struct conv *c)
{
    const pb_profile *m = c->m;
    if (id_index_init(&c->maps, m->n_mapping) || id_index_init(&c->funcs, m->n_function) ||
        id_index_init(&c->locs, m->n_location))
        return profile_fail(c->err, c->errlen, "%s: out of memory", c->p->name);
    for (size_t i = 0; i < m->n_mapping; i++) {
        const Perftools__Profiles__Mapping *mp = m->mapping[i];
        if (add_id(c, &c->maps, "mapping", i, mp->id))
            return -1;
        CHECK_STR(c, mp->filename, "mapping %zu: filename", i);
        CHECK_STR(c, mp->build_id, "mapping %zu: build_id", i);
    }
    for (size_t i = 0; i < m->n_function; i++) {
        const Perftools__Profiles__Function *f = m->function[i];
        if (add_id(c, &c->funcs, "function", i, f->id))
            return -1;
        CHECK_STR(c, f->name, "function %zu: name", i);
        CHECK_STR(c, f->system_name, "function %zu: system_name", i);
        CHECK_STR(c, f->filename, "function %zu: filename", i);
        if (is_go_function(str(c, f->name), str(c, f->filename)))
            c->go = true;
    }
    for (size_t i = 0; i < m->n_location; i++) {
        const pb_location *l = m->location[i];
        if (add_id(c, &c->locs, "location", i, l->id))
            return -1;
        if (l->mapping_id != 0 && id_index_get(&c->maps, l->mapping_id) == UINT32_MAX)
            return profile_fail(c->err, c->errlen,
                                "%s: location %zu: mapping id %" PRIu64
                                " is not in the mapping table",
                                c->p->name, i, l->mapping_id);
        for (size_t j = 0; j < l->n_line; j++)
            if (id_index_get(&c->funcs, l->line[j]->function_id) == UINT32_MAX)
                return profile_fail(c->err, c->errlen,
                                    "%s: location %zu: line %zu: function id %" PRIu64
                                    " is not in the function table",
                                    c->p->name, i, j, l->line[j]->function_id);
    }
    return 0;
}

static int check_samples(struct conv *c)
{
    const pb_profile *m = c->m;
    for (size_t k = 0; k < m->n_sample; k++) {
        const Perftools__Profiles__Sample *s = m->sample[k];
        if (s->n_value != m->n_sample_type)
            return profile_fail(c->err, c->errlen,
                                "%s: sample %zu: %zu values for %zu sample types", c->p->name, k,
                                s->n_value, m->n_sample_type);
        size_t depth = 0;
        for (size_t j = 0; j < s->n_location_id; j++) {
            uint32_t li = id_index_get(&c->locs, s->location_id[j]);
            if (li == UINT32_MAX)
                return profile_fail(c->err, c->errlen,
                                    "%s: sample %zu: location id %" PRIu64
                                    " is not in the location table",
                                    c->p->name, k, s->location_id[j]);
            size_t n = m->location[li]->n_line;
            depth += n ? n : 1;
        }
        if (depth > PROFILE_MAX_DEPTH)
            return profile_fail(c->err, c->errlen,
                                "%s: sample %zu: %zu frames, more than the %d accepted", c->p->name,
                                k, depth, PROFILE_MAX_DEPTH);
        for (size_t j = 0; j < s->n_label; j++) {
            CHECK_STR(c, s->label[j]->key, "sample %zu: label %zu: key", k, j);
            CHECK_STR(c, s->label[j]->str, "sample %zu: label %zu: str", k, j);
            CHECK_STR(c, s->label[j]->num_unit, "sample %zu: label %zu: num_unit", k, j);
        }
    }
    return 0;
}

/* Sample types → measures, the kind, the period (profile.h). Types or units
 * this reader does not know are ignored; the first type of a measure wins. */
static int map_measures(struct conv *c)
{
    const pb_profile *m = c->m;
    struct profile *p = c->p;
    size_t n = m->n_sample_type;
    c->measure = malloc((n ? n : 1) * sizeof(*c->measure));
    c->factor = malloc((n ? n : 1) * sizeof(*c->factor));
    if (!c->measure || !c->factor)
        return profile_fail(c->err, c->errlen, "%s: out of memory", p->name);
    for (size_t i = 0; i < n; i++) {
        c->measure[i] = -1;
        const char *type = str(c, m->sample_type[i]->type);
        const char *unit = str(c, m->sample_type[i]->unit);
        for (size_t r = 0; r < sizeof(measure_rules) / sizeof(measure_rules[0]); r++) {
            const struct measure_rule *rule = &measure_rules[r];
            int64_t f = unit_factor(rule->unit, unit);
            if (strcmp(rule->type, type) != 0 || f == 0 || PROFILE_HAS(p, rule->m))
                continue;
            c->measure[i] = (int)rule->m;
            c->factor[i] = f;
            p->measures |= 1u << rule->m;
        }
    }
    if (m->period_type && m->period > 0) {
        int64_t f = unit_factor(UNIT_TIME, str(c, m->period_type->unit));
        if (f && __builtin_mul_overflow(m->period, f, &p->period_ns))
            return profile_fail(c->err, c->errlen, "%s: period %" PRId64 " %s overflows in ns",
                                p->name, m->period, str(c, m->period_type->unit));
    }
    /* A CPU profile that counts samples only (gperftools converted by pprof,
     * some other profilers) still says how long a sample stands for. */
    if (!PROFILE_HAS(p, PROFILE_CPU_NS) && PROFILE_HAS(p, PROFILE_SAMPLES) && p->period_ns > 0 &&
        strcmp(str(c, m->period_type->type), "cpu") == 0) {
        c->derive_cpu = true;
        p->measures |= 1u << PROFILE_CPU_NS;
    }
    p->duration_ns = m->duration_nanos;
    if (PROFILE_HAS(p, PROFILE_CPU_NS) || PROFILE_HAS(p, PROFILE_SAMPLES))
        p->kind = PROFILE_CPU;
    else if (p->measures & (1u << PROFILE_INUSE_BYTES | 1u << PROFILE_INUSE_OBJECTS |
                            1u << PROFILE_ALLOC_BYTES | 1u << PROFILE_ALLOC_OBJECTS))
        p->kind = PROFILE_HEAP;
    else if (PROFILE_HAS(p, PROFILE_GOROUTINES))
        p->kind = PROFILE_GOROUTINE;
    else if (PROFILE_HAS(p, PROFILE_CONTENTIONS) || PROFILE_HAS(p, PROFILE_DELAY_NS))
        p->kind = PROFILE_CONTENTION;
    else
        p->kind = PROFILE_OTHER;
    if (p->kind != PROFILE_CPU)
        p->period_ns = 0;
    return 0;
}

/* Which mappings are the main executable: the first one, and any other
 * mapping of the same file (its other segments). */
static int find_main_maps(struct conv *c)
{
    const pb_profile *m = c->m;
    c->main_map = calloc(m->n_mapping ? m->n_mapping : 1, sizeof(*c->main_map));
    if (!c->main_map)
        return profile_fail(c->err, c->errlen, "%s: out of memory", c->p->name);
    if (m->n_mapping == 0)
        return 0;
    const char *main_file = str(c, m->mapping[0]->filename);
    c->main_map[0] = true;
    for (size_t i = 1; i < m->n_mapping; i++)
        c->main_map[i] = main_file[0] && strcmp(str(c, m->mapping[i]->filename), main_file) == 0;
    return 0;
}

/* Session id of addr, symbolized with the profile's mappings (handed to the
 * session once, the first time an address needs them). */
static uint32_t resolve(struct conv *c, uint64_t addr)
{
    const pb_profile *m = c->m;
    if (!c->maps_given) {
        struct symbolize_map *maps = calloc(m->n_mapping ? m->n_mapping : 1, sizeof(*maps));
        if (!maps) {
            profile_fail(c->err, c->errlen, "%s: out of memory", c->p->name);
            return UINT32_MAX;
        }
        for (size_t i = 0; i < m->n_mapping; i++) {
            const Perftools__Profiles__Mapping *mp = m->mapping[i];
            maps[i] = (struct symbolize_map){.start = mp->memory_start,
                                             .end = mp->memory_limit,
                                             .offset = mp->file_offset,
                                             .path = str(c, mp->filename)};
        }
        char why[256];
        int rc = profile_use_maps(c->s, maps, m->n_mapping, why, sizeof(why));
        free(maps);
        if (rc != 0) {
            profile_fail(c->err, c->errlen, "%s: %s", c->p->name, why);
            return UINT32_MAX;
        }
        c->maps_given = true;
    }
    uint32_t id = profile_resolve(c->s, addr);
    if (id == UINT32_MAX)
        profile_fail(c->err, c->errlen, "%s: out of memory", c->p->name);
    return id;
}

/* Session id of the function of line j of location l (index li). */
static uint32_t line_func(struct conv *c, const pb_location *l, size_t j)
{
    uint32_t fi = id_index_get(&c->funcs, l->line[j]->function_id);
    if (c->fid[fi] != UINT32_MAX)
        return c->fid[fi];
    const Perftools__Profiles__Function *f = c->m->function[fi];
    const char *name = str(c, f->name)[0] ? str(c, f->name) : str(c, f->system_name);
    if (!name[0]) /* a nameless function: as good as an address */
        return resolve(c, l->address);
    const char *file = str(c, f->filename);
    int line = f->start_line > 0 && f->start_line <= INT32_MAX ? (int)f->start_line : c->fline[fi];
    bool own = false;
    if (l->mapping_id != 0)
        own = c->main_map[id_index_get(&c->maps, l->mapping_id)];
    uint32_t id = profile_intern(c->s, name, file[0] ? file : NULL, line,
                                 c->go ? PROFILE_OWN_GO : PROFILE_OWN_NATIVE, own);
    if (id == UINT32_MAX)
        profile_fail(c->err, c->errlen, "%s: out of memory", c->p->name);
    c->fid[fi] = id;
    return id;
}

/* Builds location li's frames (once): one per Line, innermost first, or its
 * address when it has no Lines. */
static int build_location(struct conv *c, uint32_t li)
{
    if (c->lfirst[li] != UINT32_MAX)
        return 0;
    const pb_location *l = c->m->location[li];
    size_t n = l->n_line ? l->n_line : 1;
    if (c->nlframes + n > c->lframes_cap) {
        size_t cap = c->lframes_cap ? c->lframes_cap : 1024;
        while (cap < c->nlframes + n)
            cap *= 2;
        uint32_t *grown = realloc(c->lframes, cap * sizeof(*grown));
        if (!grown)
            return profile_fail(c->err, c->errlen, "%s: out of memory", c->p->name);
        c->lframes = grown;
        c->lframes_cap = cap;
    }
    for (size_t j = 0; j < n; j++) {
        uint32_t id = l->n_line ? line_func(c, l, j) : resolve(c, l->address);
        if (id == UINT32_MAX)
            return -1;
        c->lframes[c->nlframes + j] = id;
    }
    c->lfirst[li] = (uint32_t)c->nlframes;
    c->lcount[li] = (uint32_t)n;
    c->nlframes += n;
    return 0;
}

static int add_samples(struct conv *c)
{
    const pb_profile *m = c->m;
    struct profile *p = c->p;
    c->fid = malloc((m->n_function ? m->n_function : 1) * sizeof(*c->fid));
    c->fline = calloc(m->n_function ? m->n_function : 1, sizeof(*c->fline));
    c->lfirst = malloc((m->n_location ? m->n_location : 1) * sizeof(*c->lfirst));
    c->lcount = malloc((m->n_location ? m->n_location : 1) * sizeof(*c->lcount));
    uint32_t *stack = malloc(PROFILE_MAX_DEPTH * sizeof(*stack));
    int rc = -1;
    if (!c->fid || !c->fline || !c->lfirst || !c->lcount || !stack) {
        profile_fail(c->err, c->errlen, "%s: out of memory", p->name);
        goto out;
    }
    memset(c->fid, 0xff, (m->n_function ? m->n_function : 1) * sizeof(*c->fid));
    /* Profiles without start_line (Go before 1.20 writes 0) still say which
     * lines of a function ran: the smallest is the nearest known to where the
     * function starts, and better than no line in a report. */
    for (size_t i = 0; i < m->n_location; i++)
        for (size_t j = 0; j < m->location[i]->n_line; j++) {
            const Perftools__Profiles__Line *ln = m->location[i]->line[j];
            uint32_t fi = id_index_get(&c->funcs, ln->function_id);
            if (ln->line > 0 && ln->line <= INT32_MAX &&
                (c->fline[fi] == 0 || ln->line < c->fline[fi]))
                c->fline[fi] = (int)ln->line;
        }
    memset(c->lfirst, 0xff, (m->n_location ? m->n_location : 1) * sizeof(*c->lfirst));
    for (size_t k = 0; k < m->n_sample; k++) {
        const Perftools__Profiles__Sample *s = m->sample[k];
        int64_t v[PROFILE_NMEASURES] = {0};
        for (size_t i = 0; i < s->n_value; i++) {
            if (c->measure[i] < 0)
                continue;
            if (__builtin_mul_overflow(s->value[i], c->factor[i], &v[c->measure[i]])) {
                profile_fail(c->err, c->errlen,
                             "%s: sample %zu: value %" PRId64 " of %s overflows in %s", p->name, k,
                             s->value[i], str(c, m->sample_type[i]->type),
                             profile_measure_name((enum profile_measure)c->measure[i]));
                goto out;
            }
        }
        if (c->derive_cpu &&
            __builtin_mul_overflow(v[PROFILE_SAMPLES], p->period_ns, &v[PROFILE_CPU_NS])) {
            profile_fail(c->err, c->errlen, "%s: sample %zu: %" PRId64 " samples overflow in ns",
                         p->name, k, v[PROFILE_SAMPLES]);
            goto out;
        }
        uint32_t depth = 0; /* ≤ PROFILE_MAX_DEPTH: check_samples */
        for (size_t j = 0; j < s->n_location_id; j++) {
            uint32_t li = id_index_get(&c->locs, s->location_id[j]);
            if (build_location(c, li) != 0)
                goto out;
            memcpy(stack + depth, c->lframes + c->lfirst[li], c->lcount[li] * sizeof(*stack));
            depth += c->lcount[li];
        }
        enum profile_measure over;
        int added = profile_add_sample(p, v, stack, depth, &over);
        if (added != 0) {
            if (added == -2)
                profile_fail(c->err, c->errlen, "%s: sample %zu: the total of %s overflows",
                             p->name, k, profile_measure_name(over));
            else
                profile_fail(c->err, c->errlen, "%s: out of memory", p->name);
            goto out;
        }
    }
    rc = 0;
out:
    free(stack);
    return rc;
}

static int pprof_load(struct profile_session *s, const unsigned char *data, size_t len,
                      struct profile *p, char *err, size_t errlen)
{
    p->format = profile_format_pprof.name;
    pb_profile *m = pprof_decode(p->name, data, len, err, errlen);
    if (!m)
        return -1;
    struct conv c = {.s = s, .p = p, .m = m, .err = err, .errlen = errlen};
    int rc = -1;
    if (check_header(&c) == 0 && check_tables(&c) == 0 && check_samples(&c) == 0 &&
        map_measures(&c) == 0 && find_main_maps(&c) == 0 && add_samples(&c) == 0)
        rc = 0;
    id_index_free(&c.maps);
    id_index_free(&c.locs);
    id_index_free(&c.funcs);
    free(c.measure);
    free(c.factor);
    free(c.main_map);
    free(c.fid);
    free(c.fline);
    free(c.lfirst);
    free(c.lcount);
    free(c.lframes);
    perftools__profiles__profile__free_unpacked(m, NULL);
    return rc;
}

static bool pprof_recognizes(const unsigned char *data, size_t len)
{
    return pprof_decode_recognizes(data, len);
}

const struct profile_format profile_format_pprof = {
    .name = "pprof",
    .recognizes = pprof_recognizes,
    .load = pprof_load,
};
