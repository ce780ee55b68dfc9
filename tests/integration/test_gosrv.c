/*
 * test_gosrv: the Go test target end to end, quickly. `scaleprof gen --target
 * tsnsrv` writes a 3-service config with a free admin port; gosrv runs it and
 * must answer /healthz, serve pprof (the goroutine profile naming each node's
 * goroutines, gzip protobuf profiles, mutex profiling on), answer on every
 * service port, export its planted truth in /metrics, and exit 0 on SIGTERM.
 * Then -linear -no-lockprof must show in /metrics and the mutex profile, and a
 * malformed config must exit 2 with "FILE:LINE: message".
 * Usage: test_gosrv GOSRV SCALEPROF
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "itest.h"

#define SERVICES 3
#define WORKERS 8 /* gosrv's default -workers */

static const char *gosrv_bin, *scaleprof_bin;
static char dir[64];
static int admin_port;
static pid_t gosrv_pid;

/* Runs argv with output to log; its exit status, or -1 after timeout_ms. */
static int run(char *const argv[], const char *log, int timeout_ms)
{
    pid_t pid = itest_spawn(argv, log);
    if (pid < 0)
        return -1;
    return itest_signal_wait(pid, 0, timeout_ms);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* A 3-service tsnsrv config from scaleprof gen with its admin on port; the path. */
static void gen_config(int port, const char *sub, char *path, size_t cap)
{
    char out[128], set[64], log[128];
    snprintf(out, sizeof out, "%s/%s", dir, sub);
    snprintf(set, sizeof set, "prometheusAddr=127.0.0.1:%d", port);
    snprintf(log, sizeof log, "%s/gen-%s.log", dir, sub);
    char *argv[] = {(char *)scaleprof_bin,
                    "gen",
                    "--target",
                    "tsnsrv",
                    "--counts",
                    "3",
                    "--set",
                    set,
                    "--out",
                    out,
                    NULL};
    assert_int_equal(run(argv, log, 10000), 0);
    snprintf(path, cap, "%s/%d_services.yaml", out, SERVICES);
}

/* Starts gosrv on config with extra flags; waits for /healthz. */
static pid_t start_gosrv(const char *config, int port, const char *log, char *flag1, char *flag2)
{
    char *argv[] = {(char *)gosrv_bin, "-config", (char *)config, flag1, flag2, NULL};
    pid_t pid = itest_spawn(argv, log);
    if (pid < 0 || !itest_wait_port(port, pid, 10000))
        return -1;
    for (int i = 0; i < 100; i++) {
        struct itest_resp r = {0};
        int st = itest_get(port, "/healthz", &r);
        itest_resp_free(&r);
        if (st == 200)
            return pid;
        usleep(20000);
    }
    return -1;
}

/* The value of an unlabelled metric in a /metrics body; -1 when absent. */
static double metric(const char *body, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, name, len) && p[len] == ' ')
            return strtod(p + len + 1, NULL);
    return -1;
}

static char *get_body(int port, const char *path, size_t *len)
{
    struct itest_resp r = {0};
    int st = itest_get(port, path, &r);
    char *body = NULL;
    if (st == 200) {
        body = r.body;
        r.body = NULL;
        if (len)
            *len = r.body_len;
    }
    itest_resp_free(&r);
    return body;
}

static int group_setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/test_gosrv.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    admin_port = itest_free_port();
    char config[256], log[128];
    gen_config(admin_port, "cfg", config, sizeof config);
    snprintf(log, sizeof log, "%s/gosrv.log", dir);
    gosrv_pid = start_gosrv(config, admin_port, log, NULL, NULL);
    return gosrv_pid > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    itest_kill(gosrv_pid);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_healthz_answers_ok(void **state)
{
    char *body = get_body(admin_port, "/healthz", NULL);
    assert_non_null(body);
    assert_string_equal(body, "ok\n");
    free(body);
}

static void test_metrics_export_the_planted_truth(void **state)
{
    char *body = NULL;
    /* the first ticks come one tick (100 ms) after start */
    for (int i = 0; i < 50; i++) {
        free(body);
        body = get_body(admin_port, "/metrics", NULL);
        assert_non_null(body);
        if (metric(body, "gosrv_scan_calls_total") >= SERVICES)
            break;
        usleep(100000);
    }
    assert_true(metric(body, "gosrv_services") == SERVICES);
    assert_true(metric(body, "gosrv_goroutines_per_service") == 3 + WORKERS);
    assert_true(metric(body, "gosrv_service_goroutines") == SERVICES * (3 + WORKERS));
    assert_true(metric(body, "gosrv_goroutines") >= SERVICES * (3 + WORKERS));
    assert_true(metric(body, "gosrv_heap_per_service_bytes") == 1 << 20);
    assert_true(metric(body, "gosrv_heap_retained_bytes") == SERVICES << 20);
    assert_true(metric(body, "gosrv_linear") == 0);
    assert_true(metric(body, "gosrv_scan_tables_per_call") == SERVICES);
    assert_true(metric(body, "gosrv_scan_calls_total") >= SERVICES);
    assert_true(metric(body, "gosrv_scan_entries_total") >= SERVICES * 64);
    assert_true(metric(body, "gosrv_scan_seconds_total") > 0);
    assert_true(metric(body, "gosrv_local_calls_total") >= SERVICES);
    assert_true(metric(body, "gosrv_registry_lock_calls_total") >= SERVICES);
    assert_true(metric(body, "gosrv_registry_lock_wait_seconds_total") >= 0);
    assert_true(metric(body, "gosrv_lockprof") == 1);
    assert_true(metric(body, "gosrv_mutex_profile_fraction") == 1);
    assert_true(metric(body, "gosrv_block_profile_rate_ns") == 1);
    assert_non_null(strstr(body, "# TYPE gosrv_scan_calls_total counter\n"));
    free(body);
}

static void test_each_service_answers_200_naming_itself(void **state)
{
    char *body = get_body(admin_port, "/metrics", NULL);
    assert_non_null(body);
    int seen = 0;
    for (const char *p = strstr(body, "gosrv_service_info{"); p;
         p = strstr(p + 1, "gosrv_service_info{")) {
        char name[32];
        int port = 0;
        assert_int_equal(sscanf(p,
                                "gosrv_service_info{service=\"%31[^\"]\",addr=\"127.0.0.1:%d\"} 1",
                                name, &port),
                         2);
        char want[64];
        snprintf(want, sizeof want, "svc%d", seen + 1);
        assert_string_equal(name, want);
        struct itest_resp r = {0};
        assert_int_equal(itest_get(port, "/some/path", &r), 200);
        snprintf(want, sizeof want, "service svc%d\n", seen + 1);
        assert_non_null(strstr(r.body, want));
        itest_resp_free(&r);
        seen++;
    }
    assert_int_equal(seen, SERVICES);
    free(body);
    /* the requests were counted per service */
    body = get_body(admin_port, "/metrics", NULL);
    assert_non_null(strstr(body, "gosrv_service_requests_total{service=\"svc2\"} 1\n"));
    free(body);
}

/* Goroutines whose stack in a debug=1 goroutine profile includes frame. */
static long goroutines_in(const char *text, const char *frame)
{
    long total = 0;
    const char *p = strstr(text, "goroutine profile: total ");
    if (!p || !(p = strchr(p, '\n')))
        return -1;
    p++; /* the first record follows the header line */
    while (p && *p) {
        long count = strtol(p, NULL, 10); /* a record starts "COUNT @ 0x..." */
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (strstr(p, " @ ") && memmem(p, len, frame, strlen(frame)))
            total += count;
        p = end ? end + 2 : NULL;
    }
    return total;
}

static void test_goroutine_profile_lists_each_nodes_goroutines(void **state)
{
    char *text = get_body(admin_port, "/debug/pprof/goroutine?debug=1", NULL);
    assert_non_null(text);
    assert_int_equal(goroutines_in(text, "scaleprof.test/gosrv/node.(*Node).run+"), SERVICES);
    assert_int_equal(goroutines_in(text, "scaleprof.test/gosrv/node.(*Node).poll+"), SERVICES);
    assert_int_equal(goroutines_in(text, "scaleprof.test/gosrv/node.(*Node).serve+"), SERVICES);
    assert_int_equal(goroutines_in(text, "scaleprof.test/gosrv/node.(*Node).worker+"),
                     SERVICES * WORKERS);
    assert_non_null(strstr(text, "main.main+"));
    free(text);
}

static void assert_gzip(const char *path)
{
    size_t len = 0;
    char *body = get_body(admin_port, path, &len);
    assert_non_null(body);
    assert_true(len > 20);
    assert_int_equal((unsigned char)body[0], 0x1f);
    assert_int_equal((unsigned char)body[1], 0x8b);
    free(body);
}

static void test_profiles_are_gzip_protobuf(void **state)
{
    assert_gzip("/debug/pprof/profile?seconds=1");
    assert_gzip("/debug/pprof/heap");
    assert_gzip("/debug/pprof/allocs");
    assert_gzip("/debug/pprof/goroutine");
    assert_gzip("/debug/pprof/mutex");
    assert_gzip("/debug/pprof/block");
}

static void test_mutex_profiling_is_on_by_default(void **state)
{
    char *text = get_body(admin_port, "/debug/pprof/mutex?debug=1", NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "sampling period=1\n"));
    free(text);
}

static void test_sigterm_exits_0_promptly(void **state)
{
    assert_int_equal(itest_signal_wait(gosrv_pid, SIGTERM, 3000), 0);
    gosrv_pid = 0;
    int fd = itest_connect(admin_port);
    assert_true(fd < 0);
}

static void test_linear_and_no_lockprof_show_in_metrics_and_profiles(void **state)
{
    int port = itest_free_port();
    char config[256], log[128];
    gen_config(port, "cfg2", config, sizeof config);
    snprintf(log, sizeof log, "%s/gosrv2.log", dir);
    pid_t pid = start_gosrv(config, port, log, "-linear", "-no-lockprof");
    assert_true(pid > 0);
    char *body = get_body(port, "/metrics", NULL);
    assert_non_null(body);
    assert_true(metric(body, "gosrv_linear") == 1);
    assert_true(metric(body, "gosrv_scan_tables_per_call") == 1);
    assert_true(metric(body, "gosrv_lockprof") == 0);
    assert_true(metric(body, "gosrv_mutex_profile_fraction") == 0);
    assert_true(metric(body, "gosrv_block_profile_rate_ns") == 0);
    free(body);
    char *text = get_body(port, "/debug/pprof/mutex?debug=1", NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "sampling period=0\n"));
    free(text);
    assert_int_equal(itest_signal_wait(pid, SIGINT, 3000), 0);
}

static void test_malformed_config_exits_2_naming_file_and_line(void **state)
{
    static const struct {
        const char *text;
        int line;
        const char *why;
    } rows[] = {
        {"prometheusAddr: 127.0.0.1:1\nservices:\n- name svc1\n", 3, "no colon"},
        {"services:\n- name: a\n- name: b\n- name: a\n", 4, "a name used twice"},
        {"services:\n- name: a\n\tlistenAddr: :443\n", 3, "tab indentation"},
        {"services:\n- name: a\n  listenAddr: 443\n", 3, "listenAddr without a port"},
        {"prometheusAddr: 127.0.0.1:1\n", 1, "no services"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[128], log[128], want[160];
        snprintf(path, sizeof path, "%s/bad%zu.yaml", dir, i);
        snprintf(log, sizeof log, "%s/bad%zu.log", dir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(rows[i].text, f);
        fclose(f);
        char *argv[] = {(char *)gosrv_bin, "-config", path, NULL};
        int st = run(argv, log, 5000);
        char *out = slurp(log);
        assert_non_null(out);
        snprintf(want, sizeof want, "%s:%d: ", path, rows[i].line);
        if (st != 2 || strncmp(out, want, strlen(want)))
            fail_msg("%s: exit %d, stderr %s; want 2 and \"%s...\"", rows[i].why, st, out, want);
        free(out);
    }
    char log[128];
    snprintf(log, sizeof log, "%s/noconfig.log", dir);
    char *argv[] = {(char *)gosrv_bin, NULL};
    assert_int_equal(run(argv, log, 5000), 2);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_gosrv GOSRV SCALEPROF\n");
        return 2;
    }
    gosrv_bin = argv[1];
    scaleprof_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz_answers_ok),
        cmocka_unit_test(test_metrics_export_the_planted_truth),
        cmocka_unit_test(test_each_service_answers_200_naming_itself),
        cmocka_unit_test(test_goroutine_profile_lists_each_nodes_goroutines),
        cmocka_unit_test(test_profiles_are_gzip_protobuf),
        cmocka_unit_test(test_mutex_profiling_is_on_by_default),
        cmocka_unit_test(
            test_sigterm_exits_0_promptly), /* ends the shared gosrv: keep last of these */
        cmocka_unit_test(test_linear_and_no_lockprof_show_in_metrics_and_profiles),
        cmocka_unit_test(test_malformed_config_exits_2_naming_file_and_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
