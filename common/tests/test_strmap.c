/* test_strmap: the string → index map's contract — every added key is found
 * at its index (also after the caller's array moved and the slots grew), an
 * absent key is not, keys that collide still resolve — and the hash is
 * FNV-1a (the published test vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* An element as callers have them: the key first, then the payload. */
struct row {
    char *name;
    int payload;
};

static void hash_is_fnv1a_64(void **state)
{
    static const struct {
        const char *in;
        uint64_t want;
        const char *why;
    } cases[] = {
        {"", 0xcbf29ce484222325ULL, "the empty string is the offset basis"},
        {"a", 0xaf63dc4c8601ec8cULL, "FNV-1a's published vector for \"a\""},
        {"foobar", 0x85944171f73967e8ULL, "FNV-1a's published vector for \"foobar\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (strmap_hash(cases[i].in) != cases[i].want)
            fail_msg("%s: got %#llx", cases[i].why, (unsigned long long)strmap_hash(cases[i].in));
}

static void empty_map_finds_nothing(void **state)
{
    struct strmap m = {0};
    struct row r = {"x", 0};
    assert_int_equal(strmap_find(&m, &r, sizeof(r), "x"), STRMAP_NONE);
    strmap_free(&m);
}

/* Keys that share prefixes or differ in one byte are distinct keys. */
static void similar_keys_are_distinct(void **state)
{
    static const char *const keys[] = {
        "",
        "a",
        "ab",
        "abc",
        "abd",
        "main;work_quad",
        "main;work_quad;read",
        "std::vector<int>::push_back",
        "caf\xc3\xa9",
        "cafe",
    };
    size_t n = sizeof(keys) / sizeof(keys[0]);
    struct row rows[sizeof(keys) / sizeof(keys[0])];
    struct strmap m = {0};
    for (size_t i = 0; i < n; i++) {
        rows[i] = (struct row){(char *)keys[i], (int)i};
        assert_int_equal(strmap_find(&m, rows, sizeof(rows[0]), keys[i]), STRMAP_NONE);
        assert_int_equal(strmap_add(&m, rows, sizeof(rows[0]), (uint32_t)i), 0);
    }
    assert_int_equal(m.len, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(strmap_find(&m, rows, sizeof(rows[0]), keys[i]), i);
    assert_int_equal(strmap_find(&m, rows, sizeof(rows[0]), "abcd"), STRMAP_NONE);
    assert_int_equal(strmap_find(&m, rows, sizeof(rows[0]), "main;work"), STRMAP_NONE);
    strmap_free(&m);
}

/* The way attribution uses it: rows appended to an array that is realloc'd as
 * it grows, the map growing past its first size many times; afterwards every
 * key is at its index and the load stays at most one half. */
static void finds_every_key_after_array_and_slots_grow(void **state)
{
    enum { N = 20000 };
    struct row *rows = NULL;
    size_t cap = 0;
    struct strmap m = {0};
    char name[32];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "func_%u", i);
        assert_int_equal(strmap_find(&m, rows, sizeof(*rows), name), STRMAP_NONE);
        if (i == cap) {
            cap = cap ? cap * 2 : 4;
            rows = realloc(rows, cap * sizeof(*rows)); /* moves: the map keeps indexes */
            assert_non_null(rows);
        }
        rows[i] = (struct row){strdup(name), (int)i};
        assert_int_equal(strmap_add(&m, rows, sizeof(*rows), i), 0);
        assert_true(2 * m.len < m.cap);
    }
    for (uint32_t i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "func_%u", i);
        uint32_t at = strmap_find(&m, rows, sizeof(*rows), name);
        assert_int_not_equal(at, STRMAP_NONE);
        assert_int_equal(rows[at].payload, i);
    }
    assert_int_equal(strmap_find(&m, rows, sizeof(*rows), "func_20000"), STRMAP_NONE);
    strmap_free(&m);
    for (uint32_t i = 0; i < N; i++)
        free(rows[i].name);
    free(rows);
}

/* Keys whose hashes land on the same first slot (of the 256 a new map has)
 * probe past each other: each is still found, and absent ones are not. */
static void colliding_keys_resolve(void **state)
{
    enum { K = 12 };
    static char names[K][32];
    struct row rows[K];
    size_t n = 0;
    uint64_t want = strmap_hash("k0") & 255;
    for (unsigned i = 0; n < K; i++) {
        snprintf(names[n], sizeof(names[n]), "k%u", i);
        if ((strmap_hash(names[n]) & 255) == want) {
            rows[n] = (struct row){names[n], (int)n};
            n++;
        }
    }
    struct strmap m = {0};
    for (uint32_t i = 0; i < K; i++)
        assert_int_equal(strmap_add(&m, rows, sizeof(rows[0]), i), 0);
    assert_int_equal(m.cap, 256); /* still the first size: they really share a slot */
    for (uint32_t i = 0; i < K; i++)
        assert_int_equal(strmap_find(&m, rows, sizeof(rows[0]), names[i]), i);
    assert_int_equal(strmap_find(&m, rows, sizeof(rows[0]), "k"), STRMAP_NONE); /* not k%u */
    strmap_free(&m);
}

/* An index that cannot be stored as index + 1 in 32 bits is refused and the
 * map is left as it was. */
static void index_past_32_bits_is_refused(void **state)
{
    struct row r = {"only", 0};
    struct strmap m = {0};
    assert_int_equal(strmap_add(&m, &r, sizeof(r), UINT32_MAX - 1), -1);
    assert_int_equal(m.len, 0);
    assert_int_equal(strmap_find(&m, &r, sizeof(r), "only"), STRMAP_NONE);
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_is_fnv1a_64),
        cmocka_unit_test(empty_map_finds_nothing),
        cmocka_unit_test(similar_keys_are_distinct),
        cmocka_unit_test(finds_every_key_after_array_and_slots_grow),
        cmocka_unit_test(colliding_keys_resolve),
        cmocka_unit_test(index_past_32_bits_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
