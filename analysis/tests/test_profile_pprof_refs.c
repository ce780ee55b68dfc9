/*
 * test_profile_pprof_refs: the pprof backend refuses every bad reference in a
 * profile with a message naming the file and the element (string indices,
 * ids, mapping, location and function references, value counts, overflow),
 * holds its limits (stack depth, mappings) exactly, and keeps its id maps
 * right on a profile of 100k locations with sparse 64-bit ids. Hand-built
 * with protobuf-c (pprof_builder.h); the rest of the backend:
 * test_profile_pprof.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_builder.h"
#include "profile.h"

#define NAME "hand.pb"

static struct profile_session *sess; /* offline: no file is opened */

static int setup(void **state)
{
    struct profile_options o = {.offline = true};
    char err[256];
    return profile_session_open(&sess, &o, err, sizeof(err));
}

static int teardown(void **state)
{
    profile_session_close(sess);
    sess = NULL;
    return 0;
}

static int load(const struct pb *b, struct profile *p, char *err, size_t errlen)
{
    return pb_load(sess, b, false, p, err, errlen);
}

static const struct profile_func *frame(const struct profile *p, size_t k, uint32_t j)
{
    assert_true(k < p->nsamples && j < p->samples[k].depth);
    return profile_func(sess, p->frames[p->samples[k].frame_index + j]);
}

/* ---- every bad reference, with the message that names it ---- */

static void bad_string0(struct pb *b)
{
    free(b->str[0]);
    b->str[0] = strdup("x");
}
static void no_strings(struct pb *b)
{
    b->m.n_string_table = 0;
}
static void bad_type(struct pb *b)
{
    b->vt[1].type = 999;
}
static void bad_unit(struct pb *b)
{
    b->vt[0].unit = -1;
}
static void bad_period_type(struct pb *b)
{
    b->period_type.unit = 999;
}
static void bad_drop_frames(struct pb *b)
{
    b->m.drop_frames = 999;
}
static void bad_keep_frames(struct pb *b)
{
    b->m.keep_frames = -7;
}
static void bad_default_type(struct pb *b)
{
    b->m.default_sample_type = 999;
}
static void bad_comment(struct pb *b)
{
    static int64_t comments[] = {1, 999};
    b->m.comment = comments, b->m.n_comment = 2;
}
static void bad_map_file(struct pb *b)
{
    b->map[2].filename = 999;
}
static void bad_build_id(struct pb *b)
{
    b->map[0].build_id = 999;
}
static void bad_fn_name(struct pb *b)
{
    b->fn[3].name = -1;
}
static void bad_fn_system_name(struct pb *b)
{
    b->fn[0].system_name = 999;
}
static void bad_fn_file(struct pb *b)
{
    b->fn[1].filename = 999;
}
static void bad_label_key(struct pb *b)
{
    b->label[0].key = 999;
}
static void bad_label_str(struct pb *b)
{
    b->label[0].str = 999;
}
static void bad_label_unit(struct pb *b)
{
    b->label[0].num_unit = 999;
}
static void map_id_0(struct pb *b)
{
    b->map[0].id = 0;
}
static void map_id_twice(struct pb *b)
{
    b->map[2].id = 1;
}
static void fn_id_0(struct pb *b)
{
    b->fn[4].id = 0;
}
static void fn_id_twice(struct pb *b)
{
    b->fn[5].id = 2;
}
static void loc_id_0(struct pb *b)
{
    b->loc[6].id = 0;
}
static void loc_id_twice(struct pb *b)
{
    b->loc[3].id = 1;
}
static void loc_bad_map(struct pb *b)
{
    b->loc[2].mapping_id = 77;
}
static void line_bad_fn(struct pb *b)
{
    b->line[1].function_id = 88;
}
static void line_fn_0(struct pb *b)
{
    b->line[0].function_id = 0;
}
static void sample_bad_loc(struct pb *b)
{
    b->smp[1].location_id[1] = 99;
}
static void sample_loc_0(struct pb *b)
{
    b->smp[2].location_id[0] = 0;
}
static void sample_few_values(struct pb *b)
{
    b->smp[0].n_value = 1;
}
static void negative_duration(struct pb *b)
{
    b->m.duration_nanos = -1;
}
static void value_overflows(struct pb *b)
{
    b->vt[1].unit = pb_str(b, "seconds");
    b->smp[2].value[1] = 10000000000LL; /* 1e10 s = 1e19 ns > INT64_MAX */
}
static void period_overflows(struct pb *b)
{
    b->period_type.unit = pb_str(b, "seconds");
    b->m.period = INT64_MAX / 10;
}
static void total_overflows(struct pb *b)
{
    b->smp[0].value[1] = INT64_MAX / 2 + 1;
    b->smp[1].value[1] = INT64_MAX / 2 + 1;
}
static void derived_cpu_overflows(struct pb *b)
{
    b->m.n_sample_type = 1; /* samples/count only: CPU from the 10 ms period */
    b->smp[0].n_value = b->smp[1].n_value = b->smp[2].n_value = 1;
    b->smp[1].value[0] = 1000000000000LL;
}

static const struct bad_case {
    const char *why;
    void (*mutate)(struct pb *b);
    const char *want; /* the message starts with it */
} bad_cases[] = {
    {"string 0 not empty", bad_string0, NAME ": string_table[0] must be \"\" (it is not)"},
    {"no string table", no_strings, NAME ": string_table[0] must be \"\" (the table is empty)"},
    {"sample type name", bad_type,
     NAME ": sample_type 1: type: string index 999 is not in the string table ("},
    {"sample type unit", bad_unit, NAME ": sample_type 0: unit: string index -1 is not in"},
    {"period type", bad_period_type, NAME ": period_type: unit: string index 999 is not in"},
    {"drop_frames", bad_drop_frames, NAME ": drop_frames: string index 999 is not in"},
    {"keep_frames", bad_keep_frames, NAME ": keep_frames: string index -7 is not in"},
    {"default_sample_type", bad_default_type,
     NAME ": default_sample_type: string index 999 is not in"},
    {"comment", bad_comment, NAME ": comment 1: string index 999 is not in"},
    {"mapping filename", bad_map_file, NAME ": mapping 2: filename: string index 999 is not in"},
    {"mapping build_id", bad_build_id, NAME ": mapping 0: build_id: string index 999 is not in"},
    {"function name", bad_fn_name, NAME ": function 3: name: string index -1 is not in"},
    {"function system_name", bad_fn_system_name,
     NAME ": function 0: system_name: string index 999 is not in"},
    {"function filename", bad_fn_file, NAME ": function 1: filename: string index 999 is not in"},
    {"label key", bad_label_key, NAME ": sample 1: label 0: key: string index 999 is not in"},
    {"label str", bad_label_str, NAME ": sample 1: label 0: str: string index 999 is not in"},
    {"label unit", bad_label_unit,
     NAME ": sample 1: label 0: num_unit: string index 999 is not in"},
    {"mapping id 0", map_id_0, NAME ": mapping 0: id 0 (ids must be non-zero)"},
    {"mapping id twice", map_id_twice, NAME ": mapping 2: id 1 repeats mapping 0's"},
    {"function id 0", fn_id_0, NAME ": function 4: id 0 (ids must be non-zero)"},
    {"function id twice", fn_id_twice, NAME ": function 5: id 2 repeats function 1's"},
    {"location id 0", loc_id_0, NAME ": location 6: id 0 (ids must be non-zero)"},
    {"location id twice", loc_id_twice, NAME ": location 3: id 1 repeats location 0's"},
    {"location mapping", loc_bad_map,
     NAME ": location 2: mapping id 77 is not in the mapping table"},
    {"line function", line_bad_fn,
     NAME ": location 0: line 1: function id 88 is not in the function table"},
    {"line function 0", line_fn_0,
     NAME ": location 0: line 0: function id 0 is not in the function table"},
    {"sample location", sample_bad_loc,
     NAME ": sample 1: location id 99 is not in the location table"},
    {"sample location 0", sample_loc_0,
     NAME ": sample 2: location id 0 is not in the location table"},
    {"value count", sample_few_values, NAME ": sample 0: 1 values for 2 sample types"},
    {"negative duration", negative_duration, NAME ": duration_nanos -1 is negative"},
    {"value overflows", value_overflows,
     NAME ": sample 2: value 10000000000 of cpu overflows in cpu"},
    {"period overflows", period_overflows,
     NAME ": period 922337203685477580 seconds overflows in ns"},
    {"total overflows", total_overflows, NAME ": sample 1: the total of cpu"},
    {"samples x period overflows", derived_cpu_overflows,
     NAME ": sample 1: 1000000000000 samples overflow in ns"},
};

static void test_rejects_each_bad_reference_naming_it(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct pb b;
        pb_example(&b);
        c->mutate(&b);
        struct profile p;
        char err[512] = "";
        if (load(&b, &p, err, sizeof(err)) == 0)
            fail_msg("%s: loaded", c->why);
        if (strncmp(err, c->want, strlen(c->want)) != 0)
            fail_msg("%s: message\n  \"%s\"\nwant it to start with\n  \"%s\"", c->why, err,
                     c->want);
        static const struct profile zero;
        assert_memory_equal(&p, &zero, sizeof(p)); /* zeroed on error */
        pb_release(&b);
    }
}

/* The limits: PROFILE_MAX_DEPTH frames per stack (counting inlined Lines),
 * PROFILE_MAX_MAPS mappings; at the limit is fine, past it an error. */
static void test_depth_and_mapping_limits(void **state)
{
    for (int extra = 0; extra < 2; extra++) {
        struct pb b;
        pb_init(&b, PROFILE_MAX_DEPTH / 4 + 1);
        pb_sample_type(&b, "samples", "count");
        pb_function(&b, 1, "f", "", "", 0);
        pb_location(&b, 1, 0, 0x10, (uint64_t[]){1, 1, 1, 1}, 4); /* 4 frames */
        pb_location(&b, 2, 0, 0x20, (uint64_t[]){1}, 1);
        uint64_t *locs = calloc(PROFILE_MAX_DEPTH / 4 + 1, sizeof(*locs));
        for (size_t i = 0; i < PROFILE_MAX_DEPTH / 4; i++)
            locs[i] = 1;
        locs[PROFILE_MAX_DEPTH / 4] = 2;
        pb_sample(&b, (int64_t[]){1}, 1, locs, PROFILE_MAX_DEPTH / 4 + (size_t)extra);
        struct profile p;
        char err[256] = "";
        int rc = load(&b, &p, err, sizeof(err));
        if (extra) {
            assert_int_equal(rc, -1);
            assert_string_equal(err, NAME ": sample 0: 4097 frames, more than the 4096 accepted");
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(p.samples[0].depth, PROFILE_MAX_DEPTH);
            profile_free(&p);
        }
        free(locs);
        pb_release(&b);
    }
    for (int extra = 0; extra < 2; extra++) {
        struct pb b;
        pb_init(&b, PROFILE_MAX_MAPS + 1);
        for (uint64_t i = 0; i < PROFILE_MAX_MAPS + (uint64_t)extra; i++)
            pb_mapping(&b, i + 1, i << 12, (i + 1) << 12, 0, "");
        struct profile p;
        char err[256] = "";
        int rc = load(&b, &p, err, sizeof(err));
        if (extra) {
            assert_int_equal(rc, -1);
            assert_string_equal(err, NAME ": 65537 mappings, more than the 65536 accepted");
        } else {
            assert_int_equal(rc, 0);
            profile_free(&p);
        }
        pb_release(&b);
    }
}

/* Sparse 64-bit ids in a profile of 100k functions, locations and samples:
 * every sample's frames are the ones it names (the id → index maps). */
static void test_a_profile_of_100k_locations_with_sparse_ids(void **state)
{
    enum { N = 100000 };
    struct pb b;
    pb_init(&b, N);
    pb_sample_type(&b, "samples", "count");
    uint64_t *id = malloc(N * sizeof(*id));
    for (uint64_t i = 0; i < N; i++) {
        uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull; /* distinct, spread, non-zero */
        id[i] = z ^ (z >> 31);
        char name[32];
        snprintf(name, sizeof(name), "f%" PRIu64, i);
        pb_function(&b, id[i], name, "", "", 0);
        pb_location(&b, id[i] ^ 1, 0, 0x1000 + i, (uint64_t[]){id[i]}, 1);
    }
    for (uint64_t i = 0; i < N; i++)
        pb_sample(&b, (int64_t[]){1}, 1,
                  (uint64_t[]){id[i] ^ 1, id[(i * 7 + 1) % N] ^ 1, id[(i * 13 + 5) % N] ^ 1}, 3);
    struct profile p;
    char err[256] = "";
    assert_int_equal(load(&b, &p, err, sizeof(err)), 0);
    assert_int_equal(p.nsamples, N);
    assert_int_equal(p.total[PROFILE_SAMPLES], N);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t want[3] = {i, (i * 7 + 1) % N, (i * 13 + 5) % N};
        for (uint32_t j = 0; j < 3; j++) {
            char name[32];
            snprintf(name, sizeof(name), "f%" PRIu64, want[j]);
            if (strcmp(frame(&p, i, j)->name, name) != 0)
                fail_msg("sample %" PRIu64 " frame %u: %s, want %s", i, j, frame(&p, i, j)->name,
                         name);
        }
    }
    profile_free(&p);
    free(id);
    pb_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rejects_each_bad_reference_naming_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_and_mapping_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_profile_of_100k_locations_with_sparse_ids, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
