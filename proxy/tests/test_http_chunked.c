/*
 * test_http_chunked.c: table-driven tests of the incremental chunked framing
 * decoder. Each row is its own cmocka test; every accepted row is also fed
 * split at every byte boundary and one byte at a time, and must give the same
 * payload and the same end of message; every rejected row must be rejected
 * however it is split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

#define RAW(s) s, sizeof(s) - 1
#define P(s) s, sizeof(s) - 1

struct chunk_row {
    const char *name;
    const char *raw;
    size_t raw_len;
    bool ok;
    const char *payload; /* decoded data when ok */
    size_t payload_len;
    size_t next_len; /* trailing bytes of raw that are the next message, when ok */
};

#define NEXT "GET / HTTP/1.1\r\n"

static const struct chunk_row rows[] = {
    {"chunked_accepts_last_chunk_only", RAW("0\r\n\r\n"), true, P(""), 0},
    {"chunked_accepts_one_chunk", RAW("5\r\nhello\r\n0\r\n\r\n"), true, P("hello"), 0},
    {"chunked_accepts_several_chunks", RAW("3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n"), true,
     P("abcdef"), 0},
    {"chunked_accepts_upper_and_lower_hex", RAW("A\r\n0123456789\r\nb\r\n0123456789a\r\n0\r\n\r\n"),
     true, P("01234567890123456789a"), 0},
    {"chunked_accepts_leading_zeros", RAW("0005\r\nhello\r\n000\r\n\r\n"), true, P("hello"), 0},
    {"chunked_accepts_16_hex_digits", RAW("0000000000000003\r\nabc\r\n0\r\n\r\n"), true, P("abc"),
     0},
    {"chunked_accepts_extensions", RAW("5;name=value\r\nhello\r\n0;last;q=\"a b\"\r\n\r\n"), true,
     P("hello"), 0},
    {"chunked_accepts_bws_before_extension", RAW("5 ;a=b\r\nhello\r\n0\t;x\r\n\r\n"), true,
     P("hello"), 0},
    {"chunked_accepts_trailers", RAW("2\r\nhi\r\n0\r\nX-Checksum: abc\r\nY:\r\n\r\n"), true,
     P("hi"), 0},
    {"chunked_stops_at_end_of_message", RAW("2\r\nhi\r\n0\r\n\r\n" NEXT), true, P("hi"),
     sizeof(NEXT) - 1},
    {"chunked_data_may_hold_crlf_and_nul", RAW("4\r\n\r\n\0\n\r\n0\r\n\r\n"), true, P("\r\n\0\n"),
     0},
    {"chunked_rejects_bad_hex", RAW("g\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_empty_size", RAW("\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_negative_size", RAW("-1\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_0x_prefix", RAW("0x5\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_17_hex_digits", RAW("00000000000000001\r\na\r\n0\r\n\r\n"), false, NULL, 0,
     0},
    {"chunked_rejects_size_2_pow_63", RAW("8000000000000000\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_size_2_pow_64_minus_1", RAW("ffffffffffffffff\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_size_overflowing_64_bits", RAW("10000000000000000\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_whitespace_after_size", RAW("5 \r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_lf_after_size", RAW("5\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_lf_after_extension", RAW("5;a\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_cr_after_size", RAW("5\rhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_lf_after_data", RAW("5\r\nhello\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_data_longer_than_size", RAW("3\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_missing_crlf_after_data", RAW("5\r\nhello0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_lf_last_chunk", RAW("0\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_lf_final_line", RAW("0\r\n\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_cr_final_line", RAW("0\r\n\rX"), false, NULL, 0, 0},
    {"chunked_rejects_ctl_in_extension", RAW("5;a\x01\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_nul_in_extension", RAW("5;a\0\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_garbage_after_size", RAW("5x\r\nhello\r\n0\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_lf_in_trailer", RAW("0\r\nX: y\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_bare_cr_in_trailer", RAW("0\r\nX: y\rz\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_obs_fold_in_trailer", RAW("0\r\nX: a\r\n b\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_trailer_without_colon", RAW("0\r\nX\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_trailer_space_before_colon", RAW("0\r\nX : y\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_trailer_empty_name", RAW("0\r\n: y\r\n\r\n"), false, NULL, 0, 0},
    {"chunked_rejects_nul_in_trailer", RAW("0\r\nX: \0\r\n\r\n"), false, NULL, 0, 0},
};

struct sink {
    char data[256];
    size_t len;
};

static void sink_add(void *arg, const char *data, size_t len)
{
    struct sink *s = arg;
    assert_true(len > 0);
    assert_true(s->len + len <= sizeof(s->data));
    memcpy(s->data + s->len, data, len);
    s->len += len;
}

/* Feeds raw in pieces cut at the given offsets (each piece in its own
 * allocation so ASan sees a read past it). Returns total body bytes, or -1. */
static ssize_t feed_split(const char *raw, size_t len, const size_t *cuts, size_t ncuts,
                          struct sink *out, struct http_chunked *c)
{
    size_t start = 0, total = 0;
    http_chunked_init(c);
    out->len = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        char *piece = malloc(end - start + 1);
        ssize_t r;
        assert_non_null(piece);
        memcpy(piece, raw + start, end - start);
        r = http_chunked_feed(c, piece, end - start, sink_add, out);
        free(piece);
        if (r < 0) {
            assert_non_null(c->error_reason);
            return -1;
        }
        assert_true((size_t)r <= end - start);
        total += (size_t)r;
        if ((size_t)r < end - start) {
            assert_true(c->done); /* stops early only at the end of the message */
            return (ssize_t)total;
        }
        start = end;
    }
    return (ssize_t)total;
}

static void check_result(const struct chunk_row *row, ssize_t r, const struct sink *out,
                         const struct http_chunked *c)
{
    if (!row->ok) {
        assert_int_equal(r, -1);
        return;
    }
    assert_int_equal(r, (ssize_t)(row->raw_len - row->next_len));
    assert_true(c->done);
    assert_int_equal(out->len, row->payload_len);
    assert_memory_equal(out->data, row->payload, out->len);
}

static void test_row(void **state)
{
    const struct chunk_row *row = *state;
    struct http_chunked c;
    struct sink out;
    size_t cuts[256];
    ssize_t r;

    r = feed_split(row->raw, row->raw_len, NULL, 0, &out, &c);
    check_result(row, r, &out, &c);
    /* Split in two at every byte boundary. */
    for (size_t k = 1; k < row->raw_len; k++) {
        r = feed_split(row->raw, row->raw_len, &k, 1, &out, &c);
        check_result(row, r, &out, &c);
    }
    /* One byte at a time. */
    assert_true(row->raw_len <= 256);
    for (size_t k = 1; k < row->raw_len; k++)
        cuts[k - 1] = k;
    r = feed_split(row->raw, row->raw_len, cuts, row->raw_len - 1, &out, &c);
    check_result(row, r, &out, &c);
    /* A rejecting decoder stays rejecting. */
    if (!row->ok)
        assert_int_equal(http_chunked_feed(&c, "0\r\n\r\n", 5, NULL, NULL), -1);
}

/* The largest allowed size (2^63 - 1) is accepted as a size line. */
static void test_chunked_accepts_size_2_pow_63_minus_1(void **state)
{
    struct http_chunked c;
    http_chunked_init(&c);
    assert_int_equal(http_chunked_feed(&c, RAW("7fffffffffffffff\r\nab"), NULL, NULL), 20);
    assert_false(c.done);
    assert_true(c.remaining == UINT64_C(0x7fffffffffffffff) - 2);
}

static void test_chunked_bounds_extension_line(void **state)
{
    size_t n = 4096 + 16;
    char *s = malloc(n);
    struct http_chunked c;
    assert_non_null(s);
    /* "5;" + 'a'... : the size line reaches 4096 bytes, then one more. */
    memcpy(s, "5;", 2);
    memset(s + 2, 'a', n - 2);
    http_chunked_init(&c);
    assert_int_equal(http_chunked_feed(&c, s, 4096, NULL, NULL), 4096);
    assert_int_equal(http_chunked_feed(&c, s + 4096, 1, NULL, NULL), -1);
    assert_non_null(c.error_reason);
    /* 4094 bytes of extension plus CRLF fits. */
    http_chunked_init(&c);
    memcpy(s + 4096 - 2, "\r\n", 2);
    assert_int_equal(http_chunked_feed(&c, s, 4096, NULL, NULL), 4096);
    free(s);
}

static void test_chunked_bounds_trailer_section(void **state)
{
    char line[64];
    struct http_chunked c;
    size_t total = 0;
    ssize_t r = 0;
    http_chunked_init(&c);
    assert_int_equal(http_chunked_feed(&c, RAW("0\r\n"), NULL, NULL), 3);
    /* 32-byte trailer lines until the 8 KiB bound trips. */
    snprintf(line, sizeof(line), "X-Pad: %023d\r\n", 0);
    assert_int_equal(strlen(line), 32);
    for (int i = 0; i < 1000 && r >= 0; i++) {
        r = http_chunked_feed(&c, line, 32, NULL, NULL);
        if (r >= 0)
            total += 32;
    }
    assert_int_equal(r, -1);
    assert_true(total >= 8000 && total <= 8192);
    /* Under the bound it completes. */
    http_chunked_init(&c);
    assert_int_equal(http_chunked_feed(&c, RAW("0\r\n"), NULL, NULL), 3);
    for (int i = 0; i < 200; i++)
        assert_int_equal(http_chunked_feed(&c, line, 32, NULL, NULL), 32);
    assert_int_equal(http_chunked_feed(&c, RAW("\r\n"), NULL, NULL), 2);
    assert_true(c.done);
}

/* A chunk larger than any one read: remaining counts down across feeds. */
static void test_chunked_large_chunk_across_feeds(void **state)
{
    static char data[4096];
    struct http_chunked c;
    uint64_t seen = 0;
    http_chunked_init(&c);
    assert_int_equal(http_chunked_feed(&c, RAW("100000\r\n"), NULL, NULL), 8);
    for (int i = 0; i < 256; i++) {
        assert_int_equal(http_chunked_feed(&c, data, sizeof(data), NULL, NULL), 4096);
        seen += sizeof(data);
        assert_true(c.remaining == 0x100000 - seen);
    }
    assert_int_equal(http_chunked_feed(&c, RAW("\r\n0\r\n\r\nX"), NULL, NULL), 7);
    assert_true(c.done);
    assert_int_equal(http_chunked_feed(&c, "X", 1, NULL, NULL), 0);
}

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_chunked_accepts_size_2_pow_63_minus_1),
        cmocka_unit_test(test_chunked_bounds_extension_line),
        cmocka_unit_test(test_chunked_bounds_trailer_section),
        cmocka_unit_test(test_chunked_large_chunk_across_feeds),
    };
    size_t n = NROWS(fixed) + NROWS(rows), k = 0;
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    int rc;
    if (tests == NULL)
        return 1;
    for (size_t i = 0; i < NROWS(fixed); i++)
        tests[k++] = fixed[i];
    /* One named test per row (the cast drops const: cmocka's state is void *). */
    for (size_t i = 0; i < NROWS(rows); i++)
        tests[k++] = (struct CMUnitTest){rows[i].name, test_row, NULL, NULL, (void *)&rows[i]};
    rc = _cmocka_run_group_tests("http_chunked", tests, n, NULL, NULL);
    free(tests);
    return rc;
}
