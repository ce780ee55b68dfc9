/* test_buf: the byte buffer's contract, above all that consuming from the
 * front neither moves bytes nor loses them when the buffer grows again; and
 * the HTML/XML quoting kept beside it, one row per kind of input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void append_then_consume_keeps_order(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "hello, world"), 0);
    buf_consume(&b, 7);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "world"); /* still NUL-terminated */
    assert_int_equal(buf_puts(&b, "!"), 0);
    assert_string_equal(b.data, "world!");
    buf_free(&b);
}

/* A large buffer sent in many partial writes: each consume is O(1), so the
 * unsent bytes stay where they are (data only moves forward). */
static void consume_does_not_move_bytes(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    size_t total = 1 << 20;
    char *src = malloc(total);
    assert_non_null(src);
    for (size_t i = 0; i < total; i++)
        src[i] = (char)(i * 7 + 3);
    assert_int_equal(buf_append(&b, src, total), 0);
    char *end = b.data + b.len;
    size_t sent = 0;
    while (b.len > 1000) {
        buf_consume(&b, 1000);
        sent += 1000;
        assert_ptr_equal(b.data + b.len, end);
        assert_memory_equal(b.data, src + sent, 16);
        assert_int_equal(b.data[b.len], '\0');
    }
    free(src);
    buf_free(&b);
}

/* When an append needs the room a consume left in front, the bytes move back
 * to the start once, and the allocation does not grow. */
static void reserve_reclaims_consumed_room(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    char block[4000];
    memset(block, 'a', sizeof block);
    assert_int_equal(buf_append(&b, block, sizeof block), 0);
    size_t cap_before = b.cap;
    char *base = b.data;
    buf_consume(&b, 3990); /* 10 'a's left at the far end */
    assert_int_equal(b.len, 10);
    assert_int_equal(b.cap, cap_before - 3990); /* the room from data onwards */
    memset(block, 'b', sizeof block);
    assert_int_equal(buf_append(&b, block, 3000), 0);
    assert_ptr_equal(b.data, base); /* compacted in place, not reallocated */
    assert_int_equal(b.cap, cap_before);
    assert_int_equal(b.len, 3010);
    assert_memory_equal(b.data, "aaaaaaaaaab", 11);
    assert_int_equal(b.data[3009], 'b');
    assert_int_equal(b.data[3010], '\0');
    buf_free(&b);
}

/* Growing past the allocation after a consume keeps every byte. */
static void grow_after_consume_keeps_bytes(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "0123456789"), 0);
    buf_consume(&b, 4);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "<%d>", i), 0);
    assert_memory_equal(b.data, "456789<0><1>", 12);
    assert_non_null(strstr(b.data, "<999>"));
    assert_int_equal(strlen(b.data), b.len);
    buf_free(&b);
}

/* The caller frees what buf_detach returns: it must be the allocation's start
 * (a sanitizer build turns a wrong pointer into a failure here). */
static void detach_after_consume_is_freeable(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "header: value\r\nbody"), 0);
    buf_consume(&b, 15);
    size_t len = 0;
    char *s = buf_detach(&b, &len);
    assert_int_equal(len, 4);
    assert_string_equal(s, "body");
    free(s);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* max bounds the live bytes, not what was ever appended: consumed bytes do not
 * count against it. */
static void max_counts_live_bytes(void **state)
{
    struct buf b;
    buf_init(&b, 100);
    char block[100];
    memset(block, 'x', sizeof block);
    assert_int_equal(buf_append(&b, block, 90), 0);
    assert_int_equal(buf_append(&b, block, 20), -1); /* 110 > 100 */
    assert_int_equal(b.len, 90);                     /* unchanged */
    buf_consume(&b, 50);
    assert_int_equal(buf_append(&b, block, 20), 0); /* 60 <= 100 */
    assert_int_equal(b.len, 60);
    buf_free(&b);
}

/* reset and consuming everything both return to the allocation's start. */
static void reset_returns_to_start(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "abcdef"), 0);
    char *base = b.data;
    size_t cap = b.cap;
    buf_consume(&b, 2);
    buf_reset(&b);
    assert_ptr_equal(b.data, base);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_puts(&b, "xy"), 0);
    buf_consume(&b, 2);
    assert_ptr_equal(b.data, base);
    assert_int_equal(b.cap, cap);
    buf_free(&b);
}

/* One row per kind of input: what buf_add_xml_escaped and buf_fput_xml_escaped
 * must both produce, and why. */
static const struct {
    const char *in, *want, *why;
} xml_cases[] = {
    {"plain text 123", "plain text 123", "nothing to escape is copied unchanged"},
    {"", "", "the empty string appends nothing"},
    {"&", "&amp;", "ampersand starts an entity"},
    {"<", "&lt;", "less-than opens a tag"},
    {">", "&gt;", "greater-than closes one (']]>' in XML)"},
    {"\"", "&quot;", "double quote ends a \"...\" attribute"},
    {"'", "&#39;", "single quote ends a '...' attribute; &apos; is not HTML 4"},
    {"std::vector<int>::push_back", "std::vector&lt;int&gt;::push_back", "a C++ frame name"},
    {"a<b>&\"c'd", "a&lt;b&gt;&amp;&quot;c&#39;d", "every special character, between text"},
    {"<<&&>>", "&lt;&lt;&amp;&amp;&gt;&gt;", "specials back to back"},
    {"&amp;", "&amp;amp;", "already escaped text is escaped again: one call, one level"},
    {"caf\xc3\xa9 \xe2\x86\x92 \xc3\xbc", "caf\xc3\xa9 \xe2\x86\x92 \xc3\xbc",
     "UTF-8 bytes (>= 0x80) are not markup"},
    {"tab\there\nline", "tab\there\nline", "whitespace is kept"},
    {"x'", "x&#39;", "a special as the last byte"},
};

static void xml_escape_table(void **state)
{
    for (size_t i = 0; i < sizeof(xml_cases) / sizeof(xml_cases[0]); i++) {
        struct buf b;
        buf_init(&b, 0);
        assert_int_equal(buf_puts(&b, "[") | buf_add_xml_escaped(&b, xml_cases[i].in), 0);
        if (strcmp(b.data + 1, xml_cases[i].want) != 0 || b.len != 1 + strlen(xml_cases[i].want))
            fail_msg("buf: %s: got \"%s\"", xml_cases[i].why, b.data + 1);
        buf_free(&b);

        char *mem = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&mem, &len);
        assert_non_null(f);
        assert_int_equal(buf_fput_xml_escaped(f, xml_cases[i].in, strlen(xml_cases[i].in)), 0);
        assert_int_equal(fclose(f), 0);
        if (strcmp(mem, xml_cases[i].want) != 0)
            fail_msg("FILE: %s: got \"%s\"", xml_cases[i].why, mem);
        free(mem);
    }
}

/* NULL appends nothing (callers pass optional fields such as a point's reason). */
static void xml_escape_null_is_empty(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "x"), 0);
    assert_int_equal(buf_add_xml_escaped(&b, NULL), 0);
    assert_string_equal(b.data, "x");
    buf_free(&b);
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    assert_non_null(f);
    assert_int_equal(buf_fput_xml_escaped(f, NULL, 5), 0);
    fclose(f);
    assert_int_equal(len, 0);
    free(mem);
}

/* The FILE writer takes the first n bytes (a name cut to fit a flame graph
 * frame) and stops at a NUL before them. */
static void xml_escape_file_stops_at_n_or_nul(void **state)
{
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    assert_non_null(f);
    assert_int_equal(buf_fput_xml_escaped(f, "a<b>c", 2), 0);     /* "a<" */
    assert_int_equal(buf_fput_xml_escaped(f, "|&\0>", 99), 0);    /* "|&", then NUL */
    assert_int_equal(buf_fput_xml_escaped(f, "\"never\"", 0), 0); /* nothing */
    assert_int_equal(fclose(f), 0);
    assert_string_equal(mem, "a&lt;|&amp;");
    free(mem);
}

/* Quoting grows the text: when the escaped form passes max the append is
 * refused whole, like every other append (no half-escaped tail). */
static void xml_escape_over_max_leaves_contents(void **state)
{
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "ab"), 0);
    /* "x" and the first "&lt;" fit (7 bytes), the second would make 11 */
    assert_int_equal(buf_add_xml_escaped(&b, "x<<"), -1);
    assert_string_equal(b.data, "ab");
    assert_int_equal(b.len, 2);
    assert_int_equal(buf_add_xml_escaped(&b, "<>"), 0); /* exactly 10 */
    assert_string_equal(b.data, "ab&lt;&gt;");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_then_consume_keeps_order),
        cmocka_unit_test(consume_does_not_move_bytes),
        cmocka_unit_test(reserve_reclaims_consumed_room),
        cmocka_unit_test(grow_after_consume_keeps_bytes),
        cmocka_unit_test(detach_after_consume_is_freeable),
        cmocka_unit_test(max_counts_live_bytes),
        cmocka_unit_test(reset_returns_to_start),
        cmocka_unit_test(xml_escape_table),
        cmocka_unit_test(xml_escape_null_is_empty),
        cmocka_unit_test(xml_escape_file_stops_at_n_or_nul),
        cmocka_unit_test(xml_escape_over_max_leaves_contents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
