/* test_opts: the shared option parser, table-driven: what each command line
 * parses to (in order), the one message shape of every kind of mistake, that
 * a parse after another (stopped mid-way) starts afresh, and the value
 * parsers' ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"

static const char usage[] = "usage: scaleprof t [--configs DIR] [--duration S] [--force]\n";
static const struct option table[] = {
    {"configs", required_argument, NULL, 'c'},
    {"contaminated-share", required_argument, NULL, 256},
    {"duration", required_argument, NULL, 'd'},
    {"force", no_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

/* Output of fd (1 or 2) while a parse runs, into a file read back after. */
struct capture {
    int fd, saved;
    FILE *file;
};

static void capture_begin(struct capture *c, int fd)
{
    fflush(fd == 1 ? stdout : stderr);
    c->fd = fd;
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved = dup(fd);
    dup2(fileno(c->file), fd);
}

/* The captured text (static; valid until the next call). */
static const char *capture_end(struct capture *c)
{
    static char text[2][4096];
    fflush(c->fd == 1 ? stdout : stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    char *t = text[c->fd - 1];
    rewind(c->file);
    size_t n = fread(t, 1, sizeof text[0] - 1, c->file);
    t[n] = '\0';
    fclose(c->file);
    return t;
}

/* Splits a command line on spaces into argv (argv[0] = "t"); returns argc. */
static int split(const char *line, char *storage, size_t size, char **argv, int max)
{
    snprintf(storage, size, "%s", line);
    int argc = 0;
    argv[argc++] = "t";
    for (char *save = NULL, *w = strtok_r(storage, " ", &save); w && argc < max - 1;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    return argc;
}

/* Every event of one parse as text: "--duration=5 arg:A --force end", or "stop2". */
static void trace(const char *line, char *out, size_t size, const char **err, const char **std)
{
    char storage[256], *argv[32];
    int argc = split(line, storage, sizeof storage, argv, 32);
    struct opts o;
    struct capture ce, co;
    capture_begin(&ce, 2);
    capture_begin(&co, 1);
    opts_init(&o, "t", usage, table, "n:v", argc, argv);
    size_t len = 0;
    out[0] = '\0';
    for (int guard = 0; guard < 40; guard++) {
        int c = opts_next(&o);
        int w;
        if (c == OPTS_END)
            w = snprintf(out + len, size - len, "end");
        else if (c == OPTS_STOP)
            w = snprintf(out + len, size - len, "stop%d", o.exit);
        else if (c == OPTS_ARG)
            w = snprintf(out + len, size - len, "arg:%s ", o.arg);
        else if (o.arg)
            w = snprintf(out + len, size - len, "%s=%s ", o.name, o.arg);
        else
            w = snprintf(out + len, size - len, "%s ", o.name);
        len += (size_t)w;
        if (c == OPTS_END || c == OPTS_STOP)
            break;
    }
    *std = capture_end(&co);
    *err = capture_end(&ce);
}

static void test_command_lines_parse_in_order_and_mistakes_name_the_option(void **state)
{
    static const struct {
        const char *line, *events, *stderr_has, *stderr_lacks, *why;
    } rows[] = {
        {"--duration 5 --force", "--duration=5 --force end", "", NULL, "value as next argument"},
        {"--duration=5", "--duration=5 end", "", NULL, "value after ="},
        {"A --duration 5 B", "arg:A --duration=5 arg:B end", "", NULL,
         "positionals come back in order, between options"},
        {"-n 3 -n4 -v", "-n=3 -n=4 -v end", "", NULL, "short options, value apart or joined"},
        {"--duration --force", "--duration=--force end", "", NULL,
         "a value is taken as it is, even one that looks like an option"},
        {"-- --force A", "arg:--force arg:A end", "", NULL, "after -- everything is positional"},
        {"- --force", "arg:- --force end", "", NULL, "a lone - is positional"},
        {"--", "end", "", NULL, "a lone -- ends the options"},
        {"--dur 5", "stop2", "scaleprof t: unknown option '--dur' (did you mean --duration?)\n",
         NULL, "no abbreviations: adding an option never changes a command line's meaning"},
        {"--con x", "stop2", "unknown option '--con'", NULL, "an ambiguous prefix is unknown too"},
        {"--durration 5", "stop2", "(did you mean --duration?)", NULL, "a typo gets a suggestion"},
        {"--bogus", "stop2", "unknown option '--bogus'\n", "did you mean",
         "nothing close: no suggestion"},
        {"--duration", "stop2", "scaleprof t: --duration: expects a value\n", NULL,
         "missing value of a long option"},
        {"-n", "stop2", "scaleprof t: -n: expects a value\n", NULL, "missing value of -n"},
        {"--force=yes", "stop2", "scaleprof t: --force: takes no value, got 'yes'\n", NULL,
         "a flag given a value"},
        {"-vx", "-v stop2", "scaleprof t: unknown option '-x'\n", NULL,
         "unknown short option inside a cluster"},
        {"--force", "--force end", "", NULL,
         "after a parse stopped inside a cluster, the next one starts afresh"},
        {"--help --bogus", "stop0", "", NULL, "--help stops at once, exit 0"},
        {"A -h", "arg:A stop0", "", NULL, "-h is --help"},
        {"--help=x", "stop2", "--help: takes no value", NULL, "--help is a flag"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char events[512];
        const char *err, *out;
        trace(rows[i].line, events, sizeof events, &err, &out);
        print_message("%s: %s\n", rows[i].line, rows[i].why);
        assert_string_equal(events, rows[i].events);
        if (*rows[i].stderr_has)
            assert_non_null(strstr(err, rows[i].stderr_has));
        if (rows[i].stderr_lacks)
            assert_null(strstr(err, rows[i].stderr_lacks));
        if (strstr(rows[i].events, "stop2")) /* every mistake points to --help, once */
            assert_non_null(strstr(err, "\nsee 'scaleprof t --help'\n"));
        else
            assert_string_equal(err, "");
        if (strstr(rows[i].events, "stop0"))
            assert_string_equal(out, usage);
        else
            assert_string_equal(out, "");
    }
}

enum kind { NUMBER, SECONDS, WHOLE, ULONG, CHOICE };

static void test_values_are_checked_against_their_range(void **state)
{
    static const char *const orders[] = {"interleaved", "shuffled", NULL};
    static const char *const three[] = {"a", "b", "c", NULL};
    static const struct {
        enum kind kind;
        const char *arg;
        double lo, hi;
        unsigned flags;
        int ok;
        double value;        /* when ok */
        const char *message; /* when not ok: what stderr says after "--x: " */
    } rows[] = {
        {NUMBER, "0.5", 0, INFINITY, OPTS_OPEN_LO, 1, 0.5, NULL},
        {NUMBER, "1e-3", 0, INFINITY, OPTS_OPEN_LO, 1, 0.001, NULL},
        {NUMBER, "0", 0, INFINITY, OPTS_OPEN_LO, 0, 0, "expected a number > 0, got '0'"},
        {NUMBER, "0", 0, INFINITY, 0, 1, 0, NULL},
        {NUMBER, "-1", 0, INFINITY, 0, 0, 0, "expected a number >= 0, got '-1'"},
        {NUMBER, "nan", 0, INFINITY, 0, 0, 0, "got 'nan'"},
        {NUMBER, "inf", 0, INFINITY, 0, 0, 0, "got 'inf'"},
        {NUMBER, "2x", 0, INFINITY, 0, 0, 0, "got '2x'"},
        {NUMBER, "", 0, INFINITY, 0, 0, 0, "got ''"},
        {NUMBER, "0.5", 0.5, 1, OPTS_OPEN_HI, 1, 0.5, NULL},
        {NUMBER, "1", 0.5, 1, OPTS_OPEN_HI, 0, 0, "expected a number in [0.5, 1), got '1'"},
        {SECONDS, "0.1", 0.1, 0, 0, 1, 0.1, NULL},
        {SECONDS, "0.05", 0.1, 0, 0, 0, 0, "expected seconds in [0.1, 86400], got '0.05'"},
        {SECONDS, "86401", 0, 0, 0, 0, 0, "expected seconds in [0, 86400], got '86401'"},
        {WHOLE, "30", 1, 86400, 0, 1, 30, NULL},
        {WHOLE, "30.0", 1, 86400, 0, 1, 30, NULL},
        {WHOLE, "2.5", 1, 86400, 0, 0, 0, "expected a count in 1..86400, got '2.5'"},
        {WHOLE, "0", 1, LONG_MAX, 0, 0, 0, "expected a count >= 1, got '0'"},
        {WHOLE, "1e30", 1, LONG_MAX, 0, 0, 0, "got '1e30'"},
        {ULONG, "42", 0, 0, 0, 1, 42, NULL},
        {ULONG, "-1", 0, 0, 0, 0, 0, "expected a whole number in 0..18446744073709551615"},
        {ULONG, "99999999999999999999", 0, 0, 0, 0, 0, "got '99999999999999999999'"},
        {ULONG, "", 0, 0, 0, 0, 0, "got ''"},
        {CHOICE, "shuffled", 0, 0, 0, 1, 1, NULL},
        {CHOICE, "random", 0, 0, 0, 0, 0, "expected interleaved or shuffled, got 'random'"},
        {CHOICE, "d", 1, 0, 0, 0, 0, "expected a, b or c, got 'd'"},
    };
    char *argv[] = {"t", NULL};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct opts o;
        opts_init(&o, "t", usage, table, NULL, 1, argv);
        o.name = "--x";
        o.arg = rows[i].arg;
        double d = -7;
        long l = -7;
        unsigned long u = 7;
        int index = -7, rc = -2;
        struct capture ce;
        capture_begin(&ce, 2);
        switch (rows[i].kind) {
        case NUMBER:
            rc = opts_number(&o, "a number", rows[i].lo, rows[i].hi, rows[i].flags, &d);
            break;
        case SECONDS:
            rc = opts_seconds(&o, rows[i].lo, &d);
            break;
        case WHOLE:
            rc = opts_whole(&o, "a count", (long)rows[i].lo, rows[i].hi >= 1e18 ? LONG_MAX : 86400,
                            &l);
            d = (double)l;
            break;
        case ULONG:
            rc = opts_ulong(&o, &u);
            d = (double)u;
            break;
        case CHOICE:
            rc = opts_choice(&o, rows[i].lo ? three : orders, &index);
            d = index;
            break;
        }
        const char *err = capture_end(&ce);
        print_message("row %zu: '%s'\n", i, rows[i].arg);
        if (rows[i].ok) {
            assert_int_equal(rc, 0);
            assert_true(d == rows[i].value);
            assert_string_equal(err, "");
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "scaleprof t: --x: "));
            assert_non_null(strstr(err, rows[i].message));
            assert_non_null(strstr(err, "see 'scaleprof t --help'"));
            /* a rejected value leaves the destination alone */
            assert_true(d == -7 || (rows[i].kind == ULONG && u == 7) ||
                        (rows[i].kind == WHOLE && l == -7));
        }
    }
}

static void test_errors_outside_one_option_point_to_help(void **state)
{
    char *argv[] = {"t", NULL};
    struct opts o;
    opts_init(&o, "t", usage, table, NULL, 1, argv);
    struct capture ce;
    capture_begin(&ce, 2);
    int rc = opts_error(&o, "--configs DIR is required");
    const char *err = capture_end(&ce);
    assert_int_equal(rc, OPTS_USAGE);
    assert_string_equal(err, "scaleprof t: --configs DIR is required\nsee 'scaleprof t --help'\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_lines_parse_in_order_and_mistakes_name_the_option),
        cmocka_unit_test(test_values_are_checked_against_their_range),
        cmocka_unit_test(test_errors_outside_one_option_point_to_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
