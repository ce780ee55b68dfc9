/*
 * test_gen_template: the template language of `scaleprof gen --template`
 * (harness/gen_template.h). Table-driven: good templates expanded for two
 * services and compared byte for byte; bad ones fail with FILE:LINE:COLUMN
 * and the reason. Then the template target through the scaleprof binary:
 * {admin} without --admin is a usage error at its line and column, the
 * config takes the template's extension, and nothing is written when the
 * template is bad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen_template.h"
#include "outfile.h"
#include "test_util.h"

static const char *scaleprof;

/* The facts every good case is expanded with: 2 services from base port 18000. */
static struct gen_point point(const char *admin)
{
    struct gen_point pt = {.n = 2,
                           .host = "127.0.0.1",
                           .base_port = 18000,
                           .admin = admin,
                           .upstream = "http://127.0.0.9:18000",
                           .upstream_host = "127.0.0.9",
                           .upstream_port = 18000,
                           .dir = "/scratch/2_services.d"};
    return pt;
}

static void test_good_templates_expand_as_expected(void **state)
{
    static const struct {
        const char *why, *text, *admin, *want;
    } cases[] = {
        {"the block repeats once per service with its own values",
         "head\n{{#services}}\n[{name}] {index} {port} {listen}\n{{/services}}\ntail\n", NULL,
         "head\n[svc1] 1 18001 127.0.0.1:18001\n[svc2] 2 18002 127.0.0.1:18002\ntail\n"},
        {"the point's own values work anywhere",
         "n={services} u={upstream} h={upstream_host} p={upstream_port} a={upstream_addr} "
         "l={listen_host} b={base_port}\n",
         NULL,
         "n=2 u=http://127.0.0.9:18000 h=127.0.0.9 p=18000 a=127.0.0.9:18000 l=127.0.0.1 "
         "b=18000\n"},
        {"the admin address and its parts", "{admin} {admin_host} {admin_port}\n", "127.0.0.1:9099",
         "127.0.0.1:9099 127.0.0.1 9099\n"},
        {"the scratch folder", "pid {dir}/x.pid;\n", NULL, "pid /scratch/2_services.d/x.pid;\n"},
        {"{{ writes a literal brace, even before a placeholder", "{{remote_host} {{{services}}\n",
         NULL, "{remote_host} {2}\n"},
        {"braces of the server's language are copied as they are",
         "events { worker_connections 10; }\nre ~ \\d{3,5} {} { x } {$ENV} {1}\n", NULL,
         "events { worker_connections 10; }\nre ~ \\d{3,5} {} { x } {$ENV} {1}\n"},
        {"tag lines may be indented and end in CRLF; other lines keep their CR",
         "  {{#services}}  \r\nx{index}\r\n\t{{/services}}\r\n", NULL, "x1\r\nx2\r\n"},
        {"several blocks",
         "{{#services}}\na{index}\n{{/services}}\n-\n{{#services}}\nb{index}\n{{/services}}\n",
         NULL, "a1\na2\n-\nb1\nb2\n"},
        {"a last line without a newline stays so", "{{#services}}\n{name}\n{{/services}}\nend",
         NULL, "svc1\nsvc2\nend"},
        {"an empty block writes nothing", "{{#services}}\n{{/services}}\n", NULL, ""},
        {"a template without a block (a server taking a count)", "count = {services}\n", NULL,
         "count = 2\n"},
        {"an empty template", "", NULL, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gen_template *t = NULL;
        char *err = gen_template_parse("t.tmpl", cases[i].text, strlen(cases[i].text), &t);
        if (err)
            fail_msg("%s: %s", cases[i].why, err);
        struct gen_point pt = point(cases[i].admin);
        struct buf b;
        buf_init(&b, 0);
        assert_null(gen_template_render(t, &pt, &b));
        if (strcmp(b.data ? b.data : "", cases[i].want))
            fail_msg("%s: got\n%s\nwanted\n%s", cases[i].why, b.data ? b.data : "", cases[i].want);
        buf_free(&b);
        gen_template_free(t);
    }
}

static void test_bad_templates_fail_at_their_line_and_column(void **state)
{
    static const struct {
        const char *why, *text;
        size_t len; /* 0: strlen */
        const char *at, *says;
    } cases[] = {
        {"a typo is unknown, with the closest name", "ok\n  {prot}\n", 0,
         "t.tmpl:2:3: ", "unknown placeholder {prot}; did you mean {port}?"},
        {"the server's own placeholder needs the escape",
         "{{#services}}\nheader_up X {remote_host}\n{{/services}}\n", 0,
         "t.tmpl:2:13: ", "write {{remote_host}"},
        {"nginx's ${var} is placeholder-shaped", "set $x ${host};\n", 0,
         "t.tmpl:1:9: ", "unknown placeholder {host}"},
        {"a dotted name is placeholder-shaped", "{http.request.host}\n", 0,
         "t.tmpl:1:1: ", "unknown placeholder {http.request.host}"},
        {"a per-service value outside a block", "x {port}\n", 0,
         "t.tmpl:1:3: ", "{port} is per service"},
        {"a block never closed names where it opened", "a\n{{#services}}\nb\n", 0,
         "t.tmpl:2:1: ", "never closed"},
        {"a close without an open", "a\n\n{{/services}}\n", 0,
         "t.tmpl:3:1: ", "{{/services}} without {{#services}}"},
        {"blocks do not nest", "{{#services}}\n  {{#services}}\n{{/services}}\n", 0,
         "t.tmpl:2:3: ", "the block opened on line 1"},
        {"an unknown section", "{{#peers}}\n{{/peers}}\n", 0,
         "t.tmpl:1:1: ", "unknown section {{#peers}}"},
        {"a tag shares its line", "x {{#services}}\n{{/services}}\n", 0,
         "t.tmpl:1:3: ", "must stand alone on its line"},
        {"a NUL byte", "ab\0c\n", 5, "t.tmpl:1:3: ", "NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gen_template *t = (struct gen_template *)1;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        char *err = gen_template_parse("t.tmpl", cases[i].text, len, &t);
        if (!err)
            fail_msg("%s: accepted", cases[i].why);
        assert_null(t);
        if (strncmp(err, cases[i].at, strlen(cases[i].at)) || !strstr(err, cases[i].says))
            fail_msg("%s: got '%s', wanted '%s...%s'", cases[i].why, err, cases[i].at,
                     cases[i].says);
        free(err);
    }
}

static void test_uses_reports_the_first_place_of_a_placeholder(void **state)
{
    const char *text = "# {services}\n{{#services}}\nx {admin} {admin}\n{{/services}}\n";
    struct gen_template *t;
    assert_null(gen_template_parse("t", text, strlen(text), &t));
    int line = 0, col = 0;
    assert_true(gen_template_uses(t, "admin", &line, &col));
    assert_int_equal(line, 3);
    assert_int_equal(col, 3);
    assert_false(gen_template_uses(t, "dir", &line, &col));
    gen_template_free(t);
}

/* Runs scaleprof gen --template path --out dir with extra args; returns the
 * exit status, and its output in *log (malloc'd). */
static int gen_template(const char *dir, const char *tmpl, const char *extra, char **log)
{
    char out[1024], logpath[1024];
    snprintf(out, sizeof out, "%s/cfg", dir);
    snprintf(logpath, sizeof logpath, "%s/gen.log", dir);
    char *argv[] = {(char *)scaleprof, "gen", "--template",  (char *)tmpl, "--counts", "2",
                    "--out",           out,   (char *)extra, NULL};
    int rc = tu_run(argv, logpath, 30);
    *log = tu_read(logpath);
    return rc;
}

static void test_template_target_checks_admin_and_takes_the_extension(void **state)
{
    char *dir = tu_tmpdir("gen_template");
    char tmpl[1024], path[1100], *log;
    snprintf(tmpl, sizeof tmpl, "%s/srv.ini.tmpl", dir);
    const char *text = "# admin at {admin}\n{{#services}}\nport={port}\n{{/services}}\n";
    assert_int_equal(outfile_write_str(dir, "srv.ini.tmpl", text), 0);

    /* {admin} with no admin address: a usage error at its place; nothing written */
    assert_int_equal(gen_template(dir, tmpl, NULL, &log), 2);
    char want[1200];
    snprintf(want, sizeof want, "%s:1:12: {admin}: ", tmpl);
    if (!strstr(log, want) || !strstr(log, "--admin HOST:PORT"))
        fail_msg("log: %s", log);
    snprintf(path, sizeof path, "%s/cfg/2_services.ini", dir);
    assert_false(outfile_exists(path));
    free(log);

    /* with --admin: written as <N>_services.ini, {admin} filled in */
    assert_int_equal(gen_template(dir, tmpl, "--admin=127.0.0.1:9555", &log), 0);
    free(log);
    char *cfg = tu_read(path);
    assert_non_null(cfg);
    assert_string_equal(cfg, "# admin at 127.0.0.1:9555\nport=18001\nport=18002\n");
    free(cfg);

    /* a bad template fails before anything is written, exit 2, with FILE:LINE:COLUMN */
    assert_int_equal(outfile_write_str(dir, "bad.tmpl", "ok\n{{#services}}\n{nmae}\n"), 0);
    snprintf(tmpl, sizeof tmpl, "%s/bad.tmpl", dir);
    assert_int_equal(gen_template(dir, tmpl, "--force", &log), 2);
    snprintf(want, sizeof want, "%s:3:1: unknown placeholder {nmae}; did you mean {name}?", tmpl);
    if (!strstr(log, want))
        fail_msg("log: %s", log);
    free(log);
    snprintf(path, sizeof path, "%s/cfg/2_services.conf", dir);
    assert_false(outfile_exists(path));

    tu_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_gen_template SCALEPROF\n");
        return 2;
    }
    scaleprof = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_templates_expand_as_expected),
        cmocka_unit_test(test_bad_templates_fail_at_their_line_and_column),
        cmocka_unit_test(test_uses_reports_the_first_place_of_a_placeholder),
        cmocka_unit_test(test_template_target_checks_admin_and_takes_the_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
