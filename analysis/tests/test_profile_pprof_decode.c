/*
 * test_profile_pprof_decode: the bytes side of the pprof backend
 * (profile_pprof_decode.c): which files it claims, malformed protobuf with
 * the offset and field of the first bad byte, gzip errors, the inflate cap
 * and the stored-size limit, concatenated gzip members, and every cut of a
 * profile (never a crash, always a message naming the file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_builder.h"
#include "profile.h"
#include "profile_format.h"
#include "profile_pprof_decode.h"

#define NAME "t.pb"
#define BYTES(s) (const unsigned char *)(s), sizeof(s) - 1

/* A small valid profile, as protobuf bytes (malloc'd). */
static unsigned char *small_profile(size_t *len)
{
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "samples", "count");
    pb_sample_type(&b, "cpu", "nanoseconds");
    pb_period(&b, "cpu", "nanoseconds", 10000000);
    pb_mapping(&b, 1, 0x400000, 0x500000, 0, "/usr/bin/prog");
    pb_function(&b, 1, "main", "", "prog.c", 3);
    pb_function(&b, 2, "work", "", "prog.c", 9);
    pb_location(&b, 1, 1, 0x401000, (uint64_t[]){2, 1}, 2);
    pb_location(&b, 2, 1, 0x402000, (uint64_t[]){1}, 1);
    pb_sample(&b, (int64_t[]){2, 20000000}, 2, (uint64_t[]){1, 2}, 2);
    pb_sample(&b, (int64_t[]){1, 10000000}, 2, (uint64_t[]){2}, 1);
    unsigned char *data = pb_pack(&b, len);
    pb_release(&b);
    return data;
}

static const struct recognize_case {
    const char *why;
    const unsigned char *data;
    size_t len;
    bool pprof;
} recognize_cases[] = {
    {"gzip magic", BYTES("\x1f\x8b\x08\x00"), true},
    {"a sample_type first, as Go writes", BYTES("\x0a\x04\x08\x01\x10\x02\x0a\x04"), true},
    {"a string table alone", BYTES("\x32\x00"), true},
    {"the first field cut short", BYTES("\x0a\x09\x08\x01"), true},
    {"gperftools CPU header (0 words)", BYTES("\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00"), false},
    {"gperftools heap text", BYTES("heap profile:    1:  4096 [     1:  4096] @ heapprofile"),
     false},
    {"pprof's symbol text", BYTES("--- symbol\nbinary=/bin/x\n"), false},
    {"plain text", BYTES("hello"), false},
    {"a field profile.proto does not have", BYTES("\x7a\x00"), false},
    {"a message field as a varint", BYTES("\x08\x01\x32\x00"), false},
    {"a tag and nothing else", BYTES("\x0a"), false},
    {"empty", (const unsigned char *)"", 0, false},
};

static void test_recognizes_pprof_but_not_gperftools_or_text(void **state)
{
    for (size_t i = 0; i < sizeof(recognize_cases) / sizeof(recognize_cases[0]); i++) {
        const struct recognize_case *c = &recognize_cases[i];
        if (profile_format_pprof.recognizes(c->data, c->len) != c->pprof)
            fail_msg("%s: recognized %d, want %d", c->why, !c->pprof, c->pprof);
    }
    size_t len;
    unsigned char *data = small_profile(&len);
    assert_true(profile_format_pprof.recognizes(data, len));
    assert_string_equal(profile_format_of(data, len), "pprof");
    free(data);
}

static const struct wire_case {
    const char *why;
    const unsigned char *data;
    size_t len;
    const char *want; /* after "t.pb: offset " */
} wire_cases[] = {
    {"a location longer than the file", BYTES("\x32\x00\x22\x9f\x8d\x06\x00"),
     "2: field 4 (location) length 99999 runs past the end"},
    {"a line longer than its location", BYTES("\x32\x00\x22\x04\x22\x05\x08\x01"),
     "4: location 0: field 4 (line) length 5 runs past the end"},
    {"the second location's line", BYTES("\x32\x00\x22\x02\x08\x01\x22\x04\x22\x05\x08\x01"),
     "8: location 1: field 4 (line) length 5 runs past the end"},
    {"a message field as a varint", BYTES("\x32\x00\x20\x01"),
     "2: field 4 (location) has wire type varint, expected length-delimited"},
    {"a scalar as length-delimited", BYTES("\x32\x00\x62\x01\x00"),
     "2: field 12 (period) has wire type length-delimited, expected varint"},
    {"a scalar as 64-bit", BYTES("\x32\x00\x61\x01\x02\x03\x04\x05\x06\x07\x08"),
     "2: field 12 (period) has wire type 64-bit, expected varint"},
    {"a group", BYTES("\x32\x00\x7b"),
     "2: field 15 (unknown) has wire type start-group (groups are not supported)"},
    {"wire type 6", BYTES("\x32\x00\x7e"), "2: field 15 (unknown) has wire type 6 (invalid)"},
    {"a varint of 11 bytes", BYTES("\x32\x00\x60\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
     "2: field 12 (period) varint longer than 10 bytes"},
    {"a varint cut short", BYTES("\x32\x00\x60\xff"),
     "2: field 12 (period) varint runs past the end"},
    {"a tag cut short", BYTES("\x32\x00\xff"), "2: field tag runs past the end"},
    {"a tag of 6 bytes", BYTES("\x32\x00\xff\xff\xff\xff\xff\x01"),
     "2: field tag longer than 5 bytes"},
    {"field number 0", BYTES("\x32\x00\x00\x00"), "2: field number 0 is not valid"},
    {"a length of 6 bytes", BYTES("\x32\x00\x22\x80\x80\x80\x80\x80\x00"),
     "2: field 4 (location) length longer than 5 bytes"},
    {"packed location ids ending mid-varint", BYTES("\x32\x00\x12\x03\x0a\x01\xff"),
     "6: sample 0: field 1 (location_id) packed values end mid-varint"},
    {"an unknown 64-bit field cut short", BYTES("\x32\x00\x79\x01\x02"),
     "2: field 15 (unknown) 8-byte value runs past the end"},
    {"a label's key cut short", BYTES("\x32\x00\x12\x04\x1a\x02\x08\xff"),
     "6: sample 0: label 0: field 1 (key) varint runs past the end"},
    {"period_type's type cut short", BYTES("\x32\x00\x5a\x02\x08\xff"),
     "4: period_type: field 1 (type) varint runs past the end"},
};

static void test_malformed_protobuf_names_the_offset_and_field(void **state)
{
    for (size_t i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++) {
        const struct wire_case *c = &wire_cases[i];
        for (int gz = 0; gz < 2; gz++) {
            const unsigned char *data = c->data;
            size_t len = c->len;
            unsigned char *z = NULL;
            if (gz)
                data = z = pb_gzip(c->data, c->len, &len);
            char err[512] = "", want[512];
            snprintf(want, sizeof(want), NAME ": offset %.*s%s%s", (int)strcspn(c->want, ":"),
                     c->want, gz ? " (inflated)" : "", c->want + strcspn(c->want, ":"));
            Perftools__Profiles__Profile *m = pprof_decode(NAME, data, len, err, sizeof(err));
            if (m)
                fail_msg("%s: decoded", c->why);
            if (strcmp(err, want) != 0)
                fail_msg("%s:\n  got  \"%s\"\n  want \"%s\"", c->why, err, want);
            free(z);
        }
    }
}

/* A whole profile followed by a location field cut short: the message names
 * the field where it starts, through the public loader, gzipped or not. */
static void test_a_cut_profile_names_the_offset_of_the_cut_field(void **state)
{
    size_t len, zlen;
    unsigned char *whole = small_profile(&len);
    unsigned char *data = malloc(len + 12);
    memcpy(data, whole, len);
    memcpy(data + len, "\x22\x32\x08\x07\x10\x01\x18\x80\x80\x01", 10); /* 50 bytes claimed */
    for (int gz = 0; gz < 2; gz++) {
        unsigned char *in = gz ? pb_gzip(data, len + 10, &zlen) : data;
        struct profile_session *s;
        struct profile_options o = {.offline = true};
        char err[512] = "", want[256];
        assert_int_equal(profile_session_open(&s, &o, err, sizeof(err)), 0);
        struct profile p;
        assert_int_equal(profile_load_mem(s, NAME, in, gz ? zlen : len + 10, &p, err, sizeof(err)),
                         -1);
        snprintf(want, sizeof(want),
                 NAME ": offset %zu%s: field 4 (location) length 50 runs past the end", len,
                 gz ? " (inflated)" : "");
        assert_string_equal(err, want);
        profile_session_close(s);
        if (gz)
            free(in);
    }
    free(data);
    free(whole);
}

/* Every prefix of a valid profile, raw and gzipped: a load succeeds (a cut
 * at a field boundary is a shorter valid protobuf) or fails with a message
 * naming the file; it never crashes (the sanitizer builds check memory). */
static void test_every_cut_of_a_profile_loads_or_names_the_file(void **state)
{
    size_t len, zlen;
    unsigned char *data = small_profile(&len);
    unsigned char *z = pb_gzip(data, len, &zlen);
    struct profile_session *s;
    struct profile_options o = {.offline = true};
    char err[512];
    assert_int_equal(profile_session_open(&s, &o, err, sizeof(err)), 0);
    for (int gz = 0; gz < 2; gz++) {
        size_t n = gz ? zlen : len;
        size_t failed = 0;
        for (size_t cut = 1; cut < n; cut++) {
            struct profile p;
            err[0] = 0;
            if (profile_load_mem(s, NAME, gz ? z : data, cut, &p, err, sizeof(err)) == 0) {
                profile_free(&p);
                continue;
            }
            failed++;
            if (strncmp(err, NAME ": ", strlen(NAME) + 2) != 0)
                fail_msg("cut at %zu%s: \"%s\" does not name the file", cut, gz ? " (gz)" : "",
                         err);
        }
        if (gz) /* a cut gzip stream never inflates */
            assert_int_equal(failed, n - 1);
        else
            assert_true(failed > 0);
    }
    profile_session_close(s);
    free(z);
    free(data);
}

static void test_gzip_errors_name_the_offset(void **state)
{
    size_t len, zlen;
    unsigned char *data = small_profile(&len);
    unsigned char *z = pb_gzip(data, len, &zlen);
    char err[512], want[256];

    assert_null(pprof_decode(NAME, z, zlen / 2, err, sizeof(err)));
    snprintf(want, sizeof(want), NAME ": offset %zu: gzip stream ends before its end (truncated)",
             zlen / 2);
    assert_string_equal(err, want);

    unsigned char *bad = malloc(zlen);
    memcpy(bad, z, zlen);
    bad[10] = 0xff; /* the first block: final, type 3 (reserved) */
    assert_null(pprof_decode(NAME, bad, zlen, err, sizeof(err)));
    assert_string_equal(err, NAME ": offset 11: gzip: invalid block type");

    memcpy(bad, z, zlen);
    bad[zlen - 8] ^= 1; /* the CRC-32 of the trailer */
    assert_null(pprof_decode(NAME, bad, zlen, err, sizeof(err)));
    snprintf(want, sizeof(want), NAME ": offset %zu: gzip: incorrect data check", zlen - 4);
    assert_string_equal(err, want);

    memcpy(bad, z, zlen);
    bad[zlen - 1] ^= 1; /* ISIZE */
    assert_null(pprof_decode(NAME, bad, zlen, err, sizeof(err)));
    snprintf(want, sizeof(want), NAME ": offset %zu: gzip: incorrect length check", zlen);
    assert_string_equal(err, want);

    /* gzip then garbage: the garbage is read as a second member */
    unsigned char *two = malloc(zlen + 4);
    memcpy(two, z, zlen);
    memcpy(two + zlen, "junk", 4);
    assert_null(pprof_decode(NAME, two, zlen + 4, err, sizeof(err)));
    assert_non_null(strstr(err, "gzip: incorrect header check"));
    free(two);
    free(bad);
    free(z);
    free(data);
}

/* Inflating stops at the cap: exactly the cap inflates, one byte more is an
 * error, and a small bomb (1 MiB of zeros in ~1 KiB) stops at a small cap. */
static void test_inflating_stops_at_the_cap(void **state)
{
    size_t len, zlen;
    unsigned char *data = small_profile(&len);
    unsigned char *z = pb_gzip(data, len, &zlen);
    char err[512], want[256];
    Perftools__Profiles__Profile *m = pprof_decode_capped(NAME, z, zlen, len, err, sizeof(err));
    assert_non_null(m);
    perftools__profiles__profile__free_unpacked(m, NULL);
    assert_null(pprof_decode_capped(NAME, z, zlen, len - 1, err, sizeof(err)));
    snprintf(want, sizeof(want),
             NAME ": inflates to more than %zu bytes (the limit); stopped there", len - 1);
    assert_string_equal(err, want);

    unsigned char *zeros = calloc(1, 1 << 20);
    unsigned char *bomb = pb_gzip(zeros, 1 << 20, &zlen);
    assert_true(zlen < 4096);
    assert_null(pprof_decode_capped(NAME, bomb, zlen, 65536, err, sizeof(err)));
    assert_string_equal(err, NAME ": inflates to more than 65536 bytes (the limit); stopped there");
    free(bomb);
    free(zeros);
    free(z);
    free(data);
}

/* The stored-size limit is checked before a byte is read. */
static void test_refuses_a_file_over_the_stored_size_limit(void **state)
{
    static const unsigned char tiny[2] = {0x32, 0x00};
    char err[256], want[256];
    assert_null(pprof_decode(NAME, tiny, (size_t)PROFILE_MAX_BYTES + 1, err, sizeof(err)));
    snprintf(want, sizeof(want), NAME ": %zu bytes, more than the %zu accepted",
             (size_t)PROFILE_MAX_BYTES + 1, (size_t)PROFILE_MAX_BYTES);
    assert_string_equal(err, want);
}

/* gzip(1) of two files concatenated is two members; protobuf concatenation
 * merges messages: the samples of both halves are read. */
static void test_concatenated_gzip_members_are_inflated_in_turn(void **state)
{
    size_t len, zlen, z2len;
    unsigned char *data = small_profile(&len);
    unsigned char *z = pb_gzip(data, len, &zlen);
    unsigned char *z2 = pb_gzip(data, len, &z2len);
    unsigned char *both = malloc(zlen + z2len);
    memcpy(both, z, zlen);
    memcpy(both + zlen, z2, z2len);
    char err[512];
    Perftools__Profiles__Profile *m = pprof_decode(NAME, both, zlen + z2len, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->n_sample, 4);
    perftools__profiles__profile__free_unpacked(m, NULL);
    free(both);
    free(z2);
    free(z);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recognizes_pprof_but_not_gperftools_or_text),
        cmocka_unit_test(test_malformed_protobuf_names_the_offset_and_field),
        cmocka_unit_test(test_a_cut_profile_names_the_offset_of_the_cut_field),
        cmocka_unit_test(test_every_cut_of_a_profile_loads_or_names_the_file),
        cmocka_unit_test(test_gzip_errors_name_the_offset),
        cmocka_unit_test(test_inflating_stops_at_the_cap),
        cmocka_unit_test(test_refuses_a_file_over_the_stored_size_limit),
        cmocka_unit_test(test_concatenated_gzip_members_are_inflated_in_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
