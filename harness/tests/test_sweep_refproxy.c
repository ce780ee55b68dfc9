/*
 * test_sweep_refproxy: scaleprof against the real target, refproxy (found
 * next to scaleprof, as the sweep's default). gen output passes
 * `refproxy --check-config`; a 3-point sweep under --load at a low rate gives
 * every file, zero errors and the rate asked for; SIGINT mid-sweep leaves no
 * refproxy behind. argv[1] = scaleprof, argv[2] = refproxy. Exits 77 (meson:
 * skipped, never passed) when refproxy is not built.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "test_util.h"

static const char *scaleprof, *refproxy;

struct fixture {
    char *dir, configs[512], out[512], log[512];
    int admin_port;
    pid_t sweep_pid;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir("sweep-refproxy");
    snprintf(f->configs, sizeof f->configs, "%s/configs", f->dir);
    snprintf(f->out, sizeof f->out, "%s/results", f->dir);
    snprintf(f->log, sizeof f->log, "%s/scaleprof.log", f->dir);
    f->admin_port = tu_free_port();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->sweep_pid > 0) {
        kill(f->sweep_pid, SIGKILL);
        tu_wait(f->sweep_pid, 5);
    }
    tu_kill_with(f->dir);
    if (!getenv("KEEP_TEST_DIRS"))
        tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void gen(struct fixture *f, const char *counts, const char *arch)
{
    char addr[64], base[16], set_arch[64];
    snprintf(addr, sizeof addr, "prometheusAddr=127.0.0.1:%d", f->admin_port);
    snprintf(base, sizeof base, "%d", tu_free_port_range(64));
    snprintf(set_arch, sizeof set_arch, "architecture=%s", arch);
    char *argv[] = {(char *)scaleprof, "gen",    "--counts",    (char *)counts, "--set", addr,
                    "--set",           set_arch, "--base-port", base,           "--out", f->configs,
                    "--force",         NULL};
    assert_int_equal(tu_run(argv, f->log, 30), 0);
}

static void test_gen_output_passes_check_config(void **state)
{
    struct fixture *f = *state;
    const char *archs[] = {"per-service", "shared"};
    for (int a = 0; a < 2; a++) {
        gen(f, "1,10,50", archs[a]);
        const char *counts[] = {"1", "10", "50"};
        for (int i = 0; i < 3; i++) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s_services.yaml", f->configs, counts[i]);
            char *argv[] = {(char *)refproxy, "--check-config", path, NULL};
            int rc = tu_run(argv, f->log, 30);
            if (rc != 0) {
                char *log = tu_read(f->log);
                printf("# %s\n", log);
                free(log);
            }
            assert_int_equal(rc, 0);
        }
    }
}

static void test_sweep_under_low_load_has_every_file_and_the_rate(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3", "shared");
    char *argv[] = {
        (char *)scaleprof, "sweep", "--configs", f->configs, "--out", f->out, "--warmup", "1",
        "--duration",      "2",     "--load",    "20",       NULL};
    int rc = tu_run(argv, f->log, 180);
    if (rc != 0) {
        char *log = tu_read(f->log);
        printf("# scaleprof log:\n%s\n", log);
        free(log);
    }
    assert_int_equal(rc, 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/sweep.json", f->out);
    json_t *m = tu_json(path);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "complete");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "target"), "name")),
                        "refproxy");
    assert_non_null(json_string_value(json_object_get(json_object_get(m, "target"), "build_id")));
    for (int n = 1; n <= 3; n++) {
        const char *files[] = {"cpu.prof",   "threads.txt", "thread_count.txt", "metrics.prom",
                               "stats.json", "config.yaml", "target.log"};
        for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
            struct stat st;
            snprintf(path, sizeof path, "%s/%d_services/%s", f->out, n, files[k]);
            assert_int_equal(stat(path, &st), 0);
            assert_true(st.st_size > 0);
        }
        /* the exact config run: upstreams rewritten to the origin */
        snprintf(path, sizeof path, "%s/%d_services/config.yaml", f->out, n);
        char *cfg = tu_read(path);
        assert_non_null(strstr(cfg, "upstream: http://127.0.0.1:"));
        assert_null(strstr(cfg, "respond"));
        free(cfg);
        snprintf(path, sizeof path, "%s/%d_services/stats.json", f->out, n);
        json_t *s = tu_json(path);
        assert_non_null(s);
        assert_true(json_integer_value(json_object_get(s, "cpu_ns")) > 0);
        json_t *load = json_object_get(s, "load");
        assert_non_null(load);
        long long requests = json_integer_value(json_object_get(load, "requests"));
        double achieved = json_real_value(json_object_get(load, "rps_achieved"));
        printf("# %d services: cpu %.2f%%, %lld requests, %lld errors, %.2f/s per service, "
               "p50 %lld us p99 %lld us\n",
               n, json_real_value(json_object_get(s, "cpu_percent")), requests,
               json_integer_value(json_object_get(load, "errors")), achieved,
               json_integer_value(json_object_get(load, "p50_us")),
               json_integer_value(json_object_get(load, "p99_us")));
        assert_int_equal(json_integer_value(json_object_get(load, "errors")), 0);
        assert_true(llabs(requests - 40LL * n) <= 1);
        assert_true(achieved >= 19.0 && achieved <= 21.0);
        /* delivered, so not underloaded; and keep-alive: each service's connection is
         * reused, (warm-up and window: 60 requests per service over a handful of them) */
        assert_false(json_is_true(json_object_get(load, "underloaded")));
        assert_int_equal(json_integer_value(json_object_get(load, "kept_alive")), n);
        long long opened = json_integer_value(json_object_get(load, "connections_opened"));
        assert_true(opened >= n && opened <= 4LL * n);
        snprintf(path, sizeof path, "%s/%d_services/thread_count.txt", f->out, n);
        char *tc = tu_read(path);
        snprintf(path, sizeof path, "%s/%d_services/threads.txt", f->out, n);
        char *th = tu_read(path);
        long listed = tu_threads_header(th), counted = strtol(tc, NULL, 10);
        assert_true(counted > 0);
        /* the admin listener may run a request thread while one count is taken */
        assert_true(labs(listed - counted) <= 1);
        free(tc);
        free(th);
        json_decref(s);
    }
    json_decref(m);
}

static void test_sigint_leaves_no_refproxy(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2", "per-service");
    char *argv[] = {(char *)scaleprof, "sweep", "--configs",  f->configs, "--out", f->out,
                    "--warmup",        "2",     "--duration", "5",        NULL};
    f->sweep_pid = tu_spawn(argv, f->log);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", f->admin_port);
    assert_true(tu_http_ok(url, 30));
    /* refproxy runs from the first point's config.yaml (the sweep's own command line
     * holds f->out too, so the needle is the file) */
    pid_t pids[8];
    char copy[600];
    snprintf(copy, sizeof copy, "%s/1_services/config.yaml", f->out);
    assert_int_equal(tu_pids_with(copy, pids, 8), 1);
    kill(f->sweep_pid, SIGINT);
    int rc = tu_wait(f->sweep_pid, 30);
    f->sweep_pid = 0;
    assert_int_equal(rc, 130);
    assert_int_equal(tu_pids_with(f->out, pids, 8), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/sweep.json", f->out);
    json_t *m = tu_json(path);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "interrupted");
    json_decref(m);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_sweep_refproxy SCALEPROF REFPROXY\n");
        return 2;
    }
    scaleprof = argv[1];
    refproxy = argv[2];
    if (access(refproxy, X_OK) != 0) {
        fprintf(stderr, "%s is not built: skipped\n", refproxy);
        return 77;
    }
    fetch_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gen_output_passes_check_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_under_low_load_has_every_file_and_the_rate,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_leaves_no_refproxy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
