/*
 * test_gosrv_sweep: scaleprof on a Go server, end to end (issue 18). gosrv
 * (tests/gosrv) plants an N² function (scanPeers), 3 + workers goroutines per
 * service, ~1 MiB of heap per service in allocBuffers and a mutex everyone
 * queues on; -linear takes the N² out. A quick sweep of 5 counts through
 * `--profiler auto` (which must pick go from the pprof index), then analyze:
 *   - the verdict is superlinear and scanPeers is on the culprit's path;
 *   - goroutines per service, fitted by role, are within ±1 of what gosrv
 *     says it starts (its /metrics truth), and the roles name run, poll,
 *     serve and worker;
 *   - heap per service by allocBuffers is within three standard errors of
 *     Go's heap sampling (computed below from the allocation sizes) of what
 *     gosrv says it holds per service;
 *   - the mutex section has its fit and names syncRegistry;
 * and the same sweep of `gosrv -linear` passes the gate.
 *
 * The points are judged with --contaminated-share 5: the test runs with the
 * rest of the suite on a shared machine, and what it checks is what the
 * analysis makes of a Go target's profiles, not how busy the machine was
 * (contamination has tests of its own in harness/tests).
 *
 *   test_gosrv_sweep GOSRV SCALEPROF
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

static const char *gosrv_bin, *scaleprof_bin;
static char dir[64];

/* Runs argv with output to log; its exit status, or -1 after timeout_ms. */
static int run(char *const argv[], const char *log, int timeout_ms)
{
    pid_t pid = itest_spawn(argv, log);
    if (pid < 0)
        return -1;
    return itest_signal_wait(pid, 0, timeout_ms);
}

static void dump(const char *log)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

/* gen + sweep of gosrv (extra: a flag for gosrv, or NULL) into dir/<name>. */
static void sweep(const char *name, const char *extra)
{
    char cfg[128], out[128], log[128], set[64], cmd[512];
    snprintf(cfg, sizeof cfg, "%s/%s-cfg", dir, name);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    snprintf(set, sizeof set, "prometheusAddr=127.0.0.1:%d", itest_free_port());
    char *gen[] = {(char *)scaleprof_bin,
                   "gen",
                   "--target",
                   "tsnsrv",
                   "--counts",
                   "10,20,30,40,50",
                   "--set",
                   set,
                   "--out",
                   cfg,
                   NULL};
    if (run(gen, log, 30000) != 0) {
        dump(log);
        fail_msg("gen failed");
    }
    snprintf(cmd, sizeof cmd, "%s%s%s -config {config}", gosrv_bin, extra ? " " : "",
             extra ? extra : "");
    char *sw[] = {(char *)scaleprof_bin,
                  "sweep",
                  "--configs",
                  cfg,
                  "--out",
                  out,
                  "--warmup",
                  "2",
                  "--duration",
                  "4",
                  "--contaminated-share",
                  "5",
                  "--target-cmd",
                  cmd,
                  NULL};
    int rc = run(sw, log, 300000);
    if (rc != 0) {
        dump(log);
        fail_msg("sweep of %s exited %d", name, rc);
    }
}

static json_t *load(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("%s: %s", path, e.text);
    return j;
}

/* A value of gosrv's /metrics at the largest point ("name value" line). */
static double truth(const char *sweep_name, const char *metric)
{
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/%s/50_services/metrics.prom", dir, sweep_name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    double v = NAN;
    size_t len = strlen(metric);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, metric, len) == 0 && line[len] == ' ')
            v = strtod(line + len + 1, NULL);
    fclose(f);
    if (isnan(v))
        fail_msg("%s: no %s", path, metric);
    return v;
}

static void test_a_go_server_is_swept_and_explained(void **state)
{
    sweep("quad", NULL);
    char log[128], res[128], path[256];
    snprintf(log, sizeof log, "%s/analyze.log", dir);
    snprintf(res, sizeof res, "%s/quad", dir);
    char *an[] = {(char *)scaleprof_bin, "analyze", res, NULL};
    if (run(an, log, 120000) != 0) {
        dump(log);
        fail_msg("analyze failed");
    }
    snprintf(path, sizeof path, "%s/quad/50_services/stats.json", dir);
    json_t *st = load(path);
    assert_string_equal(json_string_value(json_object_get(st, "profiler")), "go");
    assert_string_equal(json_string_value(json_object_get(st, "cpu_profile")), "cpu.pb.gz");
    json_decref(st);

    snprintf(path, sizeof path, "%s/quad/report/report.json", dir);
    json_t *r = load(path);
    const char *verdict = json_string_value(json_object_get(r, "verdict"));
    print_message("verdict %s: %s\n", verdict,
                  json_string_value(json_object_get(r, "verdict_reason")));
    assert_string_equal(verdict, "superlinear");
    json_t *culprit = json_object_get(r, "culprit");
    assert_non_null(culprit);
    const char *cpath = json_string_value(json_object_get(culprit, "path"));
    print_message("culprit %s (path %s)\n", json_string_value(json_object_get(culprit, "function")),
                  cpath);
    assert_non_null(strstr(cpath, "node.(*Node).scanPeers"));

    /* goroutines per service, by role, against what gosrv starts */
    double want = truth("quad", "gosrv_goroutines_per_service");
    json_t *gps = json_object_get(r, "goroutines_per_service");
    assert_non_null(gps);
    double got = json_number_value(json_object_get(gps, "b"));
    print_message("goroutines per service: fitted %.2f, gosrv starts %.0f\n", got, want);
    assert_true(fabs(got - want) <= 1.0);
    json_t *roles = json_object_get(r, "goroutines_by_role");
    const char *must[] = {"(*Node).run", "(*Node).poll", "(*Node).serve", "(*Node).worker"};
    for (size_t k = 0; k < 4; k++) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(roles) && !found; i++) {
            json_t *o = json_array_get(roles, i);
            found = strstr(json_string_value(json_object_get(o, "role")), must[k]) &&
                    json_number_value(json_object_get(o, "b")) > 0.5;
        }
        if (!found)
            fail_msg("no role %s with a goroutine per service", must[k]);
    }

    /* heap per service by allocBuffers, against what gosrv holds per service.
     * Go samples an allocation of s bytes with p = 1 - exp(-s/R) (R =
     * MemProfileRate, 512 KiB unless changed: gosrv does not) and scales it
     * by 1/p, so each of a point's N·H/s allocations adds s²(1-p)/p to the
     * variance of its total; the slope of a line through the 5 points then
     * has variance sum (N_i - mean)² var_i / (sum (N_i - mean)²)². */
    double heap_want = truth("quad", "gosrv_heap_per_service_bytes");
    double chunk = truth("quad", "gosrv_heap_chunk_bytes");
    double p = 1 - exp(-chunk / (512.0 * 1024)), per_alloc = chunk * chunk * (1 - p) / p;
    double num = 0, den = 0;
    for (int n = 10; n <= 50; n += 10) {
        num += (n - 30.0) * (n - 30.0) * (n * heap_want / chunk) * per_alloc;
        den += (n - 30.0) * (n - 30.0);
    }
    double heap_sd = sqrt(num) / den;
    json_t *fns = json_object_get(json_object_get(r, "heap"), "functions");
    double heap_got = NAN;
    for (size_t i = 0; i < json_array_size(fns); i++) {
        json_t *o = json_array_get(fns, i);
        if (strstr(json_string_value(json_object_get(o, "name")), "(*Node).allocBuffers"))
            heap_got = json_number_value(json_object_get(o, "bytes_per_service_linear"));
    }
    print_message("heap per service by allocBuffers: %.0f bytes, gosrv holds %.0f (sampling "
                  "sd %.0f, %.1f%%)\n",
                  heap_got, heap_want, heap_sd, 100 * heap_sd / heap_want);
    assert_true(fabs(heap_got - heap_want) <= 3 * heap_sd);

    /* the lock everyone queues on: fitted, and the code that takes it named */
    json_t *mutex = json_object_get(json_object_get(r, "contention"), "mutex");
    assert_non_null(mutex);
    print_message("mutex contention: %s\n",
                  json_string_value(json_object_get(mutex, "verdict_reason")));
    assert_non_null(json_object_get(mutex, "fit"));
    const char *mpath =
        json_string_value(json_object_get(json_object_get(mutex, "culprit"), "path"));
    assert_non_null(mpath);
    assert_non_null(strstr(mpath, "(*Node).syncRegistry"));
    json_decref(r);
}

static void test_the_linear_flag_passes_the_gate(void **state)
{
    sweep("lin", "-linear");
    char log[128], res[128];
    snprintf(log, sizeof log, "%s/gate.log", dir);
    snprintf(res, sizeof res, "%s/lin", dir);
    char *gate[] = {(char *)scaleprof_bin, "gate", res, NULL};
    int rc = run(gate, log, 120000);
    if (rc != 0)
        dump(log);
    assert_int_equal(rc, 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_gosrv_sweep GOSRV SCALEPROF\n");
        return 2;
    }
    gosrv_bin = argv[1];
    scaleprof_bin = argv[2];
    snprintf(dir, sizeof dir, "/tmp/test_gosrv_sweep.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_go_server_is_swept_and_explained),
        cmocka_unit_test(test_the_linear_flag_passes_the_gate),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
