/*
 * test_loadgen: the latency histogram's quantiles, and the open-loop
 * generator against fake_target: the rate asked for, no errors; and the
 * underloaded rule (issue 17) against a generator made to fall short, a
 * target answering 5xx, and a port that refuses connections.
 * argv[1] is the fake_target binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "loadgen.h"
#include "outfile.h"
#include "procstat.h"
#include "test_util.h"

static const char *fake_path;
static pid_t fake_pid;

static void test_quantiles_fall_in_the_right_bucket(void **state)
{
    struct loadgen_hist h = {0};
    for (uint64_t us = 1; us <= 1000; us++)
        loadgen_hist_add(&h, us);
    assert_int_equal(h.total, 1000);
    assert_int_equal(h.max_us, 1000);
    /* 8 buckets per power of two: a quantile is within 9% above the true value */
    uint64_t p50 = loadgen_hist_quantile(&h, 0.5), p99 = loadgen_hist_quantile(&h, 0.99);
    assert_true(p50 >= 500 && p50 <= 545);
    assert_true(p99 >= 990 && p99 <= 1000); /* capped at the max seen */
    assert_int_equal(loadgen_hist_quantile(&h, 1.0), 1000);
    struct loadgen_hist empty = {0};
    assert_int_equal(loadgen_hist_quantile(&empty, 0.5), 0);
}

static void test_open_loop_rate_with_no_errors(void **state)
{
    char *dir = tu_tmpdir("loadgen");
    int port = tu_free_port();
    char text[128], config[512], url[128];
    snprintf(text, sizeof text, "prometheusAddr: \"127.0.0.1:%d\"\n", port);
    assert_int_equal(outfile_write_str(dir, "fake.yaml", text), 0);
    snprintf(config, sizeof config, "%s/fake.yaml", dir);
    char *argv[] = {(char *)fake_path, "--config", config, NULL};
    fake_pid = tu_spawn(argv, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    assert_true(tu_http_ok(url, 10));

    char *urls[] = {url, url};
    double start = procstat_now();
    char *err = NULL;
    /* 20 requests/s to each of 2 "services" for 2 s, after 0.5 s unrecorded */
    struct loadgen *lg = loadgen_start(urls, 2, 20, start + 0.5, start + 2.5, NULL, &err);
    assert_non_null(lg);
    struct loadgen_result r;
    loadgen_finish(lg, &r);
    printf("# requests %llu errors %llu achieved %.2f/s p50 %llu us p99 %llu us\n",
           (unsigned long long)r.requests, (unsigned long long)r.errors, r.rps_achieved,
           (unsigned long long)r.p50_us, (unsigned long long)r.p99_us);
    assert_true(r.requests >= 79 && r.requests <= 81);
    assert_int_equal(r.errors, 0);
    assert_true(r.rps_achieved > 19.0 && r.rps_achieved < 21.0);
    assert_false(r.short_of_target);
    assert_true(r.p50_us > 0 && r.p50_us <= r.p99_us && r.p99_us <= r.max_us);

    /* nothing listening: every request is an error and the rate is reported short */
    int dead = tu_free_port();
    char dead_url[64];
    snprintf(dead_url, sizeof dead_url, "http://127.0.0.1:%d/", dead);
    char *dead_urls[] = {dead_url};
    start = procstat_now();
    lg = loadgen_start(dead_urls, 1, 10, start, start + 1.0, NULL, &err);
    assert_non_null(lg);
    loadgen_finish(lg, &r);
    assert_true(r.requests >= 9);
    assert_int_equal(r.errors, r.requests);
    assert_int_equal(r.errors_by_kind[LOAD_ERR_CONNECT], r.requests);
    assert_true(r.short_of_target);
    assert_true(r.underloaded);

    kill(fake_pid, SIGKILL);
    tu_wait(fake_pid, 5);
    fake_pid = 0;
    tu_rmtree(dir);
    free(dir);
}

/* Starts fake_target serving one service on its own port with extra flags; returns
 * the service's URL in url. */
static void start_service(const char *dir, const char *const *flags, char *url, size_t size)
{
    int admin = tu_free_port(), port = tu_free_port();
    char text[256], config[512], health[64];
    snprintf(text, sizeof text,
             "prometheusAddr: \"127.0.0.1:%d\"\nservices:\n- name: s\n"
             "  listenAddr: 127.0.0.1:%d\n",
             admin, port);
    assert_int_equal(outfile_write_str(dir, "fake.yaml", text), 0);
    snprintf(config, sizeof config, "%s/fake.yaml", dir);
    char *argv[16] = {(char *)fake_path, "--config", config, "--serve-services"};
    int n = 4;
    for (int i = 0; flags[i] && n < 15; i++)
        argv[n++] = (char *)flags[i];
    argv[n] = NULL;
    fake_pid = tu_spawn(argv, NULL);
    snprintf(health, sizeof health, "http://127.0.0.1:%d/healthz", admin);
    assert_true(tu_http_ok(health, 10));
    snprintf(url, size, "http://127.0.0.1:%d/", port);
}

static void stop_service(void)
{
    kill(fake_pid, SIGKILL);
    tu_wait(fake_pid, 5);
    fake_pid = 0;
}

static uint64_t sum_kinds(const struct loadgen_result *r)
{
    uint64_t sum = 0;
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        sum += r->errors_by_kind[k];
    return sum;
}

/* A generator made to fall short: two requests in flight at most against a service
 * that takes 200 ms, asked for 50 requests/s: about 10 get through, the rest are
 * counted as never sent, and the result says underloaded with those figures. */
static void test_generator_that_falls_short_says_underloaded(void **state)
{
    char *dir = tu_tmpdir("loadgen-short");
    char url[64];
    start_service(dir, (const char *const[]){"--answer-delay-ms", "200", NULL}, url, sizeof url);
    char *urls[] = {url};
    struct loadgen_opts opts = {.max_in_flight = 2};
    char *err = NULL;
    double start = procstat_now();
    struct loadgen *lg = loadgen_start(urls, 1, 50, start + 0.2, start + 1.7, &opts, &err);
    assert_non_null(lg);
    struct loadgen_result r;
    loadgen_finish(lg, &r);
    printf("# short: requests %llu errors %llu (not sent %llu) achieved %.1f/s\n",
           (unsigned long long)r.requests, (unsigned long long)r.errors,
           (unsigned long long)r.errors_by_kind[LOAD_ERR_NOT_SENT], r.rps_achieved);
    assert_true(r.requests >= 74 && r.requests <= 76);
    assert_true(r.rps_achieved < 0.5 * 50);
    assert_true(r.errors_by_kind[LOAD_ERR_NOT_SENT] > r.requests / 2);
    assert_int_equal(sum_kinds(&r), r.errors);
    assert_true(r.short_of_target);
    assert_true(r.underloaded);
    struct load_figures f;
    loadgen_figures(&r, &f);
    struct buf why;
    buf_init(&why, 4096);
    assert_int_equal(load_rule_describe(&f, &why), 0);
    assert_non_null(strstr(why.data, "below 95%"));
    assert_non_null(strstr(why.data, "were never sent"));
    buf_free(&why);
    stop_service();
    tu_rmtree(dir);
    free(dir);
}

/* A target that answers its requests with 5xx: the rate of answers is met, but every
 * one is an error of kind status_5xx, so the load counts as not delivered. */
static void test_target_answering_5xx_is_underloaded(void **state)
{
    char *dir = tu_tmpdir("loadgen-5xx");
    char url[64];
    start_service(dir, (const char *const[]){"--answer-status", "503", NULL}, url, sizeof url);
    char *urls[] = {url};
    char *err = NULL;
    double start = procstat_now();
    struct loadgen *lg = loadgen_start(urls, 1, 20, start + 0.2, start + 1.2, NULL, &err);
    assert_non_null(lg);
    struct loadgen_result r;
    loadgen_finish(lg, &r);
    assert_true(r.requests >= 19 && r.requests <= 21);
    assert_int_equal(r.errors_by_kind[LOAD_ERR_STATUS_5XX], r.requests);
    assert_int_equal(r.errors, r.requests);
    assert_true(r.underloaded);
    stop_service();
    tu_rmtree(dir);
    free(dir);
}

/* The same service answering 200 in time: everything delivered, nothing underloaded. */
static void test_service_answering_in_time_is_delivered(void **state)
{
    char *dir = tu_tmpdir("loadgen-ok");
    char url[64];
    start_service(dir, (const char *const[]){NULL}, url, sizeof url);
    char *urls[] = {url, url, url};
    char *err = NULL;
    double start = procstat_now();
    struct loadgen *lg = loadgen_start(urls, 3, 30, start + 0.3, start + 1.3, NULL, &err);
    assert_non_null(lg);
    struct loadgen_result r;
    loadgen_finish(lg, &r);
    assert_true(r.requests >= 89 && r.requests <= 91);
    assert_int_equal(r.errors, 0);
    assert_false(r.underloaded);
    assert_true(r.connections_peak >= 1 && r.connections_peak <= r.connection_budget);
    assert_int_equal(r.kept_alive, 3);
    stop_service();
    tu_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_loadgen FAKE_TARGET\n");
        return 2;
    }
    fake_path = argv[1];
    fetch_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles_fall_in_the_right_bucket),
        cmocka_unit_test(test_open_loop_rate_with_no_errors),
        cmocka_unit_test(test_generator_that_falls_short_says_underloaded),
        cmocka_unit_test(test_target_answering_5xx_is_underloaded),
        cmocka_unit_test(test_service_answering_in_time_is_delivered),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (fake_pid > 0)
        kill(fake_pid, SIGKILL);
    return rc;
}
