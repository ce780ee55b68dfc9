/*
 * test_csrv_conf: csrv's config parser, table-driven. Accepted rows check the
 * values read back; rejected rows check that the message is "t.conf:LINE: "
 * with the line at fault and words that name the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SVC_A "[service a]\nport = 1000\n"

static const struct accept_row {
    const char *why;
    const char *text;
    size_t n;       /* services */
    long key_bytes; /* a header value read back */
    int last_port;  /* of the last service */
    const char *last_upstream;
} accepts[] = {
    {"defaults with one service", SVC_A, 1, 16384, 1000, ""},
    {"header keys, comments, blank lines and trailing comments",
     "# hello\n\nkey_bytes = 4096  # small\nrounds = 3\n\n[service a]\nport = 1\n"
     "upstream = http://127.0.0.1:9/x # recorded\n",
     1, 4096, 1, "http://127.0.0.1:9/x"},
    {"an empty upstream (a template with none to give)", "[service a]\nport = 7\nupstream =\n", 1,
     16384, 7, ""},
    {"spaces inside the section brackets and tabs around '='",
     "[ service  x.y-1_z ]\nport\t=\t65535\n[service b]\nport = 2\n", 2, 16384, 2, ""},
    {"no newline at the end", "[service a]\nport = 5", 1, 16384, 5, ""},
};

static const struct reject_row {
    const char *why;
    const char *text;
    int line;          /* the line the message names */
    const char *words; /* a substring of the message after "t.conf:LINE: " */
} rejects[] = {
    {"no service at all", "key_bytes = 4096\n", 1, "no [service NAME] section"},
    {"an empty file", "", 1, "no [service NAME] section"},
    {"a service without a port", SVC_A "[service b]\nupstream = x\n", 3, "service 'b' has no port"},
    {"a port that is not a number", "[service a]\nport = 80x\n", 2, "'80x' is not a whole number"},
    {"a negative port", "[service a]\nport = -1\n", 2, "'-1' is not a whole number"},
    {"port 0", "[service a]\nport = 0\n", 2, "0 is out of range 1..65535"},
    {"port above 65535", "[service a]\nport = 65536\n", 2, "out of range"},
    {"a header value out of range", "key_bytes = 8\n" SVC_A, 1, "key_bytes: 8 is out of range"},
    {"a duplicate header key", "rounds = 2\nrounds = 3\n" SVC_A, 2, "duplicate key 'rounds'"},
    {"a duplicate port key", "[service a]\nport = 1\nport = 2\n", 3, "duplicate key 'port'"},
    {"an unknown header key", "colour = blue\n" SVC_A, 1, "unknown key 'colour'"},
    {"an unknown service key", SVC_A "colour = blue\n", 3, "unknown key 'colour' in a service"},
    {"a header key inside a service", SVC_A "rounds = 2\n", 3, "'rounds' is a header key"},
    {"a service key in the header", "port = 1\n" SVC_A, 1, "belongs in a [service NAME]"},
    {"a line with no '='", SVC_A "port 1000\n", 3, "expected 'key = value'"},
    {"a missing key", SVC_A "= 3\n", 3, "the key before '=' is missing"},
    {"a missing value", "rounds =\n" SVC_A, 1, "rounds: the value is missing"},
    {"two words as a value", "[service a]\nport = 1 2\n", 2, "unexpected '2' after the value"},
    {"an unclosed section", "[service a\nport = 1\n", 1, "must end with ']'"},
    {"an unknown section", "[server a]\nport = 1\n", 1, "unknown section '[server a]'"},
    {"a section without a name", "[service]\nport = 1\n", 1, "the name is missing"},
    {"a name with a '#'", "[service a#b]\nport = 1\n", 1, "service name 'a#b'"},
    {"a duplicate service name", SVC_A "[service b]\nport = 2\n[service a]\nport = 3\n", 5,
     "duplicate service name 'a' (first on line 1)"},
    {"a duplicate port", SVC_A "[service b]\nport = 1000\n", 4,
     "port 1000 of service 'b' is already taken by 'a'"},
    {"a name longer than 63 bytes",
     "[service 0123456789012345678901234567890123456789012345678901234567890123]\nport = 1\n", 1,
     "longer than 63 bytes"},
};

static int parse_text(const char *text, struct conf *c, char *err, size_t errlen)
{
    /* fmemopen refuses size 0 */
    FILE *f = *text ? fmemopen((void *)text, strlen(text), "r") : fopen("/dev/null", "r");
    assert_non_null(f);
    int rc = conf_parse(f, "t.conf", c, err, errlen);
    fclose(f);
    return rc;
}

static void test_accepts_valid_configs_and_reads_their_values(void **state)
{
    for (size_t i = 0; i < sizeof accepts / sizeof accepts[0]; i++) {
        const struct accept_row *r = &accepts[i];
        struct conf c;
        char err[512] = "";
        if (parse_text(r->text, &c, err, sizeof err) != 0)
            fail_msg("row '%s': rejected: %s", r->why, err);
        assert_int_equal(c.n, r->n);
        assert_int_equal(c.key_bytes, r->key_bytes);
        assert_int_equal(c.svc[c.n - 1].port, r->last_port);
        assert_string_equal(c.svc[c.n - 1].upstream, r->last_upstream);
        conf_free(&c);
    }
}

static void test_rejects_bad_configs_naming_file_and_line(void **state)
{
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        const struct reject_row *r = &rejects[i];
        struct conf c;
        char err[512] = "", prefix[64];
        int rc = parse_text(r->text, &c, err, sizeof err);
        snprintf(prefix, sizeof prefix, "t.conf:%d: ", r->line);
        if (rc != -1 || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, r->words))
            fail_msg("row '%s': rc %d, message '%s'; wanted '%s...%s'", r->why, rc, err, prefix,
                     r->words);
        assert_null(c.svc);
    }
}

/* The line cap is a clear error at the long line, not a split into two lines. */
static void test_rejects_a_line_over_the_cap(void **state)
{
    char text[3 * CONF_LINE_MAX];
    int n = snprintf(text, sizeof text, "[service a]\nport = 1\nupstream = ");
    memset(text + n, 'u', 2 * CONF_LINE_MAX);
    strcpy(text + n + 2 * CONF_LINE_MAX, "\n");
    FILE *f = fmemopen(text, strlen(text), "r");
    struct conf c;
    char err[512];
    assert_int_equal(conf_parse(f, "t.conf", &c, err, sizeof err), -1);
    fclose(f);
    assert_non_null(strstr(err, "t.conf:3: line longer than"));
}

static void test_defaults_fill_every_header_key(void **state)
{
    FILE *f = fmemopen(SVC_A, strlen(SVC_A), "r");
    struct conf c;
    char err[512];
    assert_int_equal(conf_parse(f, "t.conf", &c, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(c.key_bytes, 16384);
    assert_int_equal(c.rounds, 24);
    assert_int_equal(c.digest_bytes, 131072);
    assert_int_equal(c.interval_ms, 100);
    assert_int_equal(c.linear_peers, 10);
    conf_free(&c);
}

static void test_missing_file_names_the_path(void **state)
{
    struct conf c;
    char err[512];
    assert_int_equal(conf_load("/nonexistent/csrv.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/csrv.conf: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_configs_and_reads_their_values),
        cmocka_unit_test(test_rejects_bad_configs_naming_file_and_line),
        cmocka_unit_test(test_rejects_a_line_over_the_cap),
        cmocka_unit_test(test_defaults_fill_every_header_key),
        cmocka_unit_test(test_missing_file_names_the_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
