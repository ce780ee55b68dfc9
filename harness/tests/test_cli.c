/*
 * test_cli: the command line of every scaleprof command, table-driven. --help
 * and -h print the command's usage text on stdout and exit 0; a bad option, a
 * missing value, a value out of range or a missing argument exits 2 with one
 * line naming what was wrong and a pointer to --help on stderr (never the
 * whole usage text). The commands run in this process, one row after another,
 * which also proves each parse starts afresh (getopt's state is global); a
 * second table runs them through the scaleprof binary, proving the dispatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "gen.h"
#include "record.h"
#include "sweep.h"
#include "test_util.h"

static const char *scaleprof;

/* Output of fd (1 or 2) while a command runs, into a file read back after. */
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

/* The captured text (malloc'd). */
static char *capture_end(struct capture *c)
{
    fflush(c->fd == 1 ? stdout : stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    long n = ftell(c->file);
    char *t = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    rewind(c->file);
    size_t got = fread(t, 1, (size_t)(n > 0 ? n : 0), c->file);
    t[got] = '\0';
    fclose(c->file);
    return t;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"gen", cmd_gen}, {"sweep", cmd_sweep}, {"analyze", cmd_analyze}, {"gate", cmd_gate},
    {"top", cmd_top}, {"diff", cmd_diff},   {"record", cmd_record},
};

static int (*command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].fn;
    fail_msg("no command %s", name);
    return NULL;
}

/* Runs "CMD ARGS..." (split on spaces) in this process; *out and *err malloc'd. */
static int run(const char *line, char **out, char **err)
{
    char storage[512], *argv[32];
    snprintf(storage, sizeof storage, "%s", line);
    int argc = 0;
    for (char *save = NULL, *w = strtok_r(storage, " ", &save); w && argc < 31;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    int (*fn)(int, char **) = command(argv[0]);
    struct capture co, ce;
    capture_begin(&ce, 2);
    capture_begin(&co, 1);
    int rc = fn(argc, argv);
    *out = capture_end(&co);
    *err = capture_end(&ce);
    return rc;
}

static void test_help_prints_the_usage_on_stdout_and_exits_0(void **state)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *forms[] = {"--help", "-h"};
        for (size_t k = 0; k < 2; k++) {
            char line[64], want[64];
            snprintf(line, sizeof line, "%s %s", commands[i].name, forms[k]);
            snprintf(want, sizeof want, "usage: scaleprof %s ", commands[i].name);
            char *out, *err;
            int rc = run(line, &out, &err);
            print_message("%s\n", line);
            assert_int_equal(rc, 0);
            assert_int_equal(strncmp(out, want, strlen(want)), 0);
            assert_string_equal(err, "");
            /* --help stops at once: whatever follows is not parsed */
            free(out);
            free(err);
        }
    }
}

static void test_bad_command_lines_exit_2_naming_the_option_and_pointing_to_help(void **state)
{
    static const struct {
        const char *line, *message, *why;
    } rows[] = {
        {"gen --bogus", "unknown option '--bogus'", "unknown flag"},
        {"gen --base-port 80 --out /nonexistent/x",
         "--base-port: expected a port in 1024..65000, got '80'", "value out of range"},
        {"gen --target apache --out /nonexistent/x",
         "--target: expected refproxy, tsnsrv, nginx, haproxy, caddy or template, got 'apache'",
         "not one of the choices"},
        {"gen --template t.tmpl --target nginx --out /nonexistent/x",
         "--template FILE is a target of its own: leave out --target nginx", "two targets"},
        {"gen --host localhost --out /nonexistent/x",
         "--host: expected an IPv4 address, got 'localhost'", "a host name is not an address"},
        {"gen --admin 9099 --out /nonexistent/x", "--admin: expected HOST:PORT or none, got '9099'",
         "a port alone"},
        {"gen --admin 127.0.0.1:0 --out /nonexistent/x",
         "--admin: expected HOST:PORT or none, got '127.0.0.1:0'", "port out of range"},
        {"gen --set noequals --out /nonexistent/x", "--set: expected key=value, got 'noequals'",
         "malformed setting"},
        {"gen --counts 0 --out /nonexistent/x",
         "--counts: expected comma-separated counts in 1..100000, got '0'", "bad counts"},
        {"gen --geometric 10..5 --out /nonexistent/x", "--geometric: expected LO..HI[:POINTS]",
         "bad series"},
        {"gen --counts 5", "--out DIR is required", "required option missing"},
        {"gen --out", "--out: expects a value", "missing value"},
        {"gen --list-keys extra", "unexpected argument 'extra'", "gen takes no positionals"},
        {"sweep --configs c --out o --duration x",
         "--duration: expected whole seconds in 1..86400, got 'x'", "not a number"},
        {"sweep --configs c --out o --duration=1.5",
         "--duration: expected whole seconds in 1..86400, got '1.5'", "--opt=value form"},
        {"sweep --configs c --out o --warmup -1", "--warmup: expected seconds in [0, 86400]",
         "negative seconds"},
        {"sweep --configs c --out o --repeat 0", "--repeat: expected a count in 1..1000, got '0'",
         "repeat out of range"},
        {"sweep --configs c --out o --order random",
         "--order: expected interleaved or shuffled, got 'random'", "not one of the choices"},
        {"sweep --configs c --out o --seed -1", "--seed: expected a whole number in 0..",
         "a seed is digits"},
        {"sweep --configs c --out o --load 200000",
         "--load: expected requests per second in [0, 100000], got '200000'", "rate too high"},
        {"sweep --configs c --out o --ready-timeout 0", "--ready-timeout: expected seconds in [0.1",
         "timeout too short"},
        {"sweep --configs c --out o --contaminated-share x",
         "--contaminated-share: expected a share >= 0, got 'x'", "not a number"},
        {"sweep --configs c --out o --force=yes", "--force: takes no value, got 'yes'",
         "a flag given a value"},
        {"sweep --configs c --out o --dur 5", "unknown option '--dur' (did you mean --duration?)",
         "no abbreviations"},
        {"sweep --configs", "--configs: expects a value", "missing value"},
        {"sweep --configs c", "--configs DIR and --out DIR are required", "required missing"},
        {"sweep --configs c --out o extra", "unexpected argument 'extra'", "no positionals"},
        {"sweep --configs c --out o --budget 60", "--budget applies only with --until-decided",
         "a flag of the sequential design without it"},
        {"sweep --configs c --out o --until-decided --repeat 5 --max-rounds 3",
         "--max-rounds 3 with --repeat 5: the last look must come at or after the first pass",
         "last look before the first"},
        {"sweep --configs c --out o --until-decided --max-rounds 200", "at most 100 looks in all",
         "more looks than the boundary is computed for"},
        {"sweep --configs c --out o --until-decided --confidence 1",
         "--confidence: expected a level in [0.5, 1), got '1'", "level out of range"},
        {"sweep --configs c --out o --until-decided --budget 0.5",
         "--budget: expected seconds in [1, 86400], got '0.5'", "budget below a second"},
        {"analyze", "RESULTS (a results folder) is required", "positional missing"},
        {"analyze r --floor 0", "--floor: expected a number > 0, got '0'", "floor must be > 0"},
        {"analyze r --confidence 1", "--confidence: expected a level in [0.5, 1), got '1'",
         "level out of range"},
        {"analyze r s", "unexpected argument 's' (RESULTS is 'r')", "one results folder"},
        {"analyze r --bogus", "unknown option '--bogus'", "unknown flag"},
        {"gate", "RESULTS (a results folder) is required", "positional missing"},
        {"gate r --max-ratio -1", "--max-ratio: expected a number >= 0, got '-1'", "negative"},
        {"gate r --min-change x", "--min-change: expected a number >= 0, got 'x'", "not a number"},
        {"gate r --confidence 0.4", "--confidence: expected a level in [0.5, 1), got '0.4'",
         "level out of range"},
        {"gate r --junit", "--junit: expects a value", "missing value"},
        {"gate r s", "unexpected argument 's' (RESULTS is 'r')", "one results folder"},
        {"top", "PROFILE (a CPU, heap, goroutine, mutex or block profile) is required",
         "positional missing"},
        {"top p -n 0", "-n: expected a row count >= 1, got '0'", "no rows"},
        {"top p -n", "-n: expects a value", "missing value of a short option"},
        {"top p -x", "unknown option '-x'", "unknown short option"},
        {"top p --cum=yes", "--cum: takes no value, got 'yes'", "a flag given a value"},
        {"top p q", "unexpected argument 'q' (PROFILE is 'p')", "one profile"},
        {"diff a", "two results folders, A and B, are required", "one folder only"},
        {"diff a b c", "unexpected argument 'c' (A and B are given)", "three folders"},
        {"diff a b --at 0", "--at: expected a service count > 0, got '0'", "N must be > 0"},
        {"diff a b --binary", "--binary: expects a value", "missing value"},
        {"diff a b --own", "--own: expects a value", "missing value"},
        {"analyze r --share-floor 2", "--share-floor: expected a share in (0, 1], got '2'",
         "a share above 1"},
        {"analyze r --cpu-floor 0", "--cpu-floor: expected % of one core > 0, got '0'",
         "floor must be > 0"},
        {"record --out x.pb.gz", "--pid PID and --out FILE are required", "no pid"},
        {"record --pid 0 --out x", "--pid: expected a pid in 1..", "pid 0"},
        {"record --pid 1 --out x --hz 5000", "--hz: expected samples per second in 1..1000",
         "rate too high"},
        {"record --pid 1 --out x extra", "unexpected argument 'extra'", "no positionals"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *out, *err;
        int rc = run(rows[i].line, &out, &err);
        print_message("%s: %s\n", rows[i].line, rows[i].why);
        char cmd[16], first[128], see[64];
        sscanf(rows[i].line, "%15s", cmd);
        snprintf(first, sizeof first, "scaleprof %s: ", cmd);
        snprintf(see, sizeof see, "\nsee 'scaleprof %s --help'\n", cmd);
        if (rc != 2 || !strstr(err, rows[i].message))
            fprintf(stderr, "stderr was: %s\n", err);
        assert_int_equal(rc, 2);
        assert_int_equal(strncmp(err, first, strlen(first)), 0);
        assert_non_null(strstr(err, rows[i].message));
        /* two lines: what was wrong, and where the usage is (not the usage itself) */
        assert_non_null(strstr(err, see));
        assert_string_equal(strstr(err, see) + strlen(see), "");
        assert_null(strstr(err, "usage:"));
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
}

/* Forms that parse: the command gets past its options to its first real
 * check, whose message is not an option error. */
static void test_both_value_forms_and_any_argument_order_parse(void **state)
{
    static const struct {
        const char *line, *message;
    } rows[] = {
        {"sweep --configs=/nonexistent-configs --out=/nonexistent-out --duration=5 --repeat 2",
         "/nonexistent-configs: no <N>_services.yaml configs"},
        {"sweep --duration 30.0 --configs /nonexistent-configs --out /nonexistent-out",
         "/nonexistent-configs: no <N>_services.yaml configs"},
        {"sweep --until-decided --budget=600 --max-rounds 4 --confidence 0.99 "
         "--configs /nonexistent-configs --out /nonexistent-out",
         "/nonexistent-configs: no <N>_services.yaml configs"},
        {"analyze --floor=0.3 /nonexistent-results", "/nonexistent-results"},
        {"gate --confidence 0.95 /nonexistent-results --floor 0", "/nonexistent-results"},
        {"top -n5 /nonexistent.prof --cum", "/nonexistent.prof"},
        {"diff --at=100 /nonexistent-a /nonexistent-b", "/nonexistent-a"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *out, *err;
        int rc = run(rows[i].line, &out, &err);
        print_message("%s\n", rows[i].line);
        assert_int_equal(rc, 2); /* the inputs do not exist */
        /* gate reports unusable input on stdout, the others on stderr */
        assert_true(strstr(err, rows[i].message) || strstr(out, rows[i].message));
        assert_null(strstr(err, "--help'"));
        free(out);
        free(err);
    }
}

/* An empty --configs folder is said to be empty, whatever errno an earlier call
 * left behind; a missing one says why it could not be read. */
static void test_sweep_says_an_empty_configs_folder_is_empty_and_a_missing_one_why(void **state)
{
    char *dir = tu_tmpdir("cli_empty"), out_dir[600];
    snprintf(out_dir, sizeof out_dir, "%s/results", dir);
    const struct {
        const char *configs, *says;
    } rows[] = {
        {dir, "no <N>_services.yaml configs or point files (none there)"},
        {"/nonexistent-configs", "(No such file or directory)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *argv[] = {"sweep", "--configs", (char *)rows[i].configs, "--out", out_dir, NULL};
        struct capture co, ce;
        capture_begin(&ce, 2);
        capture_begin(&co, 1);
        errno = EACCES; /* stale: not the scan's */
        int rc = cmd_sweep(5, argv);
        free(capture_end(&co));
        char *err = capture_end(&ce);
        if (rc != 2 || !strstr(err, rows[i].says))
            fail_msg("%s: exit %d, stderr '%s', wanted '%s'", rows[i].configs, rc, err,
                     rows[i].says);
        free(err);
    }
    tu_rmtree(dir);
    free(dir);
}

static void test_the_binary_dispatches_help_and_errors(void **state)
{
    char *dir = tu_tmpdir("cli");
    char log[600];
    snprintf(log, sizeof log, "%s/log", dir);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *help[] = {(char *)scaleprof, (char *)commands[i].name, "--help", NULL};
        unlink(log);
        assert_int_equal(tu_run(help, log, 30), 0);
        char *text = tu_read(log), want[64];
        snprintf(want, sizeof want, "usage: scaleprof %s ", commands[i].name);
        assert_non_null(text);
        assert_int_equal(strncmp(text, want, strlen(want)), 0);
        free(text);
        char *bad[] = {(char *)scaleprof, (char *)commands[i].name, "--bogus", NULL};
        unlink(log);
        assert_int_equal(tu_run(bad, log, 30), 2);
        text = tu_read(log);
        snprintf(want, sizeof want, "see 'scaleprof %s --help'", commands[i].name);
        assert_non_null(strstr(text, want));
        free(text);
    }
    tu_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_cli SCALEPROF\n");
        return 2;
    }
    scaleprof = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_prints_the_usage_on_stdout_and_exits_0),
        cmocka_unit_test(test_bad_command_lines_exit_2_naming_the_option_and_pointing_to_help),
        cmocka_unit_test(test_both_value_forms_and_any_argument_order_parse),
        cmocka_unit_test(test_sweep_says_an_empty_configs_folder_is_empty_and_a_missing_one_why),
        cmocka_unit_test(test_the_binary_dispatches_help_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
