/*
 * test_sweep: `scaleprof gen` + `scaleprof sweep` end to end against
 * fake_target (a target with known CPU use), so the harness is tested
 * without refproxy. argv[1] = scaleprof, argv[2] = fake_target.
 * Every test kills what it started, also when an assertion fails
 * (teardown kills every process whose command line names the test's folder).
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
#include <sys/wait.h>
#include <unistd.h>

#include "fetch.h"
#include "test_util.h"

static const char *scaleprof, *fake;

struct fixture {
    char *dir, configs[512], out[512], log[512], cmd[1024];
    int admin_port;
    pid_t sweep_pid;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir("sweep");
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
    tu_kill_with(f->dir); /* any target left behind (a failed test) */
    if (!getenv("KEEP_TEST_DIRS"))
        tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void gen(struct fixture *f, const char *counts)
{
    char addr[64], base[16];
    snprintf(addr, sizeof addr, "prometheusAddr=127.0.0.1:%d", f->admin_port);
    snprintf(base, sizeof base, "%d", tu_free_port_range(64));
    char *argv[] = {(char *)scaleprof, "gen", "--counts", (char *)counts, "--set", addr,
                    "--base-port",     base,  "--out",    f->configs,     NULL};
    assert_int_equal(tu_run(argv, f->log, 30), 0);
}

/* Runs scaleprof sweep with the fake target; extra args after. Returns its exit status. */
static int sweep(struct fixture *f, const char *target_cmd, const char *const *extra,
                 double timeout_s)
{
    char *argv[32] = {(char *)scaleprof, "sweep", "--configs",    f->configs,
                      "--out",           f->out,  "--warmup",     "1",
                      "--duration",      "2",     "--target-cmd", (char *)target_cmd};
    int n = 12;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    return tu_run(argv, f->log, timeout_s);
}

static char *path_in(struct fixture *f, const char *rel)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", f->out, rel) > 0);
    return p;
}

static json_t *json_in(struct fixture *f, const char *rel)
{
    char *p = path_in(f, rel);
    json_t *j = tu_json(p);
    free(p);
    return j;
}

static void dump_log(struct fixture *f)
{
    char *log = tu_read(f->log);
    printf("# scaleprof log:\n%s\n", log ? log : "(none)");
    free(log);
}

static void test_three_point_sweep_writes_every_file_with_sane_values(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config} --burn-ms 20 --idle-threads 2", fake);
    int rc = sweep(f, f->cmd, NULL, 120);
    if (rc != 0)
        dump_log(f);
    assert_int_equal(rc, 0);

    json_t *m = json_in(f, "sweep.json");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "complete");
    json_t *points = json_object_get(m, "points");
    assert_int_equal(json_array_size(points), 3);
    assert_true(json_integer_value(json_object_get(json_object_get(m, "machine"), "cpus")) >= 1);
    double overheads[3];
    for (size_t i = 0; i < 3; i++) {
        json_t *p = json_array_get(points, i);
        const char *status = json_string_value(json_object_get(p, "status"));
        /* a noisy shared machine may flag a point as contaminated; it still has its files */
        assert_true(!strcmp(status, "ok") || !strcmp(status, "contaminated"));
        assert_int_equal(json_integer_value(json_object_get(p, "services")), (int)i + 1);
        overheads[i] = json_real_value(json_object_get(p, "wall_s")) - 3.0;
        const char *dir = json_string_value(json_object_get(p, "dir"));
        const char *files[] = {"cpu.prof",   "threads.txt", "thread_count.txt", "metrics.prom",
                               "stats.json", "config.yaml", "target.log"};
        for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
            char rel[256];
            snprintf(rel, sizeof rel, "%s/%s", dir, files[k]);
            struct stat st;
            char *path = path_in(f, rel);
            assert_int_equal(stat(path, &st), 0);
            assert_true(st.st_size > 0);
            free(path);
        }
        char rel[256];
        snprintf(rel, sizeof rel, "%s/heap.prof", dir);
        char *heap = path_in(f, rel);
        assert_int_not_equal(access(heap, F_OK), 0); /* heap profiling is off */
        free(heap);

        snprintf(rel, sizeof rel, "%s/stats.json", dir);
        char *stats_path = path_in(f, rel);
        json_t *s = tu_json(stats_path);
        free(stats_path);
        assert_non_null(s);
        double window = json_real_value(json_object_get(s, "window_s"));
        long long cpu_ns = json_integer_value(json_object_get(s, "cpu_ns"));
        double pct = json_real_value(json_object_get(s, "cpu_percent"));
        printf("# %zu services: window %.3f s, cpu %lld ns = %.1f%%, overhead %.2f s\n", i + 1,
               window, cpu_ns, pct, overheads[i]);
        assert_true(window > 1.9 && window < 2.5);
        assert_true(cpu_ns > 0);
        /* the burner uses 20 ms of every 100 ms: 20% of a CPU, give or take a noisy host */
        assert_true(pct > 10.0 && pct < 40.0);
        /* ns CPU against utime+stime ticks over the same window, within two ticks */
        double hz = (double)json_integer_value(json_object_get(s, "clock_ticks_per_s"));
        double ticks_ns = (double)json_integer_value(json_object_get(s, "stat_ticks")) * 1e9 / hz;
        assert_true(fabs((double)cpu_ns - ticks_ns) <= 2.0 * 1e9 / hz + 0.02 * (double)cpu_ns);
        assert_int_equal(json_integer_value(json_object_get(s, "profile_samples")), 7);
        assert_int_equal(json_integer_value(json_object_get(s, "profile_period_us")), 10000);
        json_t *samples = json_object_get(s, "samples");
        assert_true(json_array_size(samples) >= 3); /* start, ~1 s, end */
        assert_true(json_object_get(s, "load") == NULL);

        snprintf(rel, sizeof rel, "%s/thread_count.txt", dir);
        char *tc_path = path_in(f, rel);
        char *tc = tu_read(tc_path);
        snprintf(rel, sizeof rel, "%s/threads.txt", dir);
        char *th_path = path_in(f, rel);
        char *th = tu_read(th_path);
        long threads = strtol(tc, NULL, 10);
        /* main + burner + 2 idle, plus the fake's per-request thread that is serving
         * the profile at the end of the window or threads.txt afterwards: they may
         * overlap by one */
        assert_true(threads >= 4);
        assert_int_equal(threads, json_integer_value(json_object_get(s, "threads")));
        long listed = tu_threads_header(th);
        assert_true(labs(listed - threads) <= 1);
        free(tc);
        free(th);
        free(tc_path);
        free(th_path);
        json_decref(s);
    }
    /* the harness's own overhead per point beyond warm-up + window: printed, not asserted */
    double a = overheads[0], b = overheads[1], c = overheads[2];
    double median = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    printf("# harness overhead per point beyond warm-up + window: median %.3f s\n", median);
    json_decref(m);
}

static void test_rerun_without_force_refuses_and_changes_nothing(void **state)
{
    struct fixture *f = *state;
    gen(f, "1");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config}", fake);
    assert_int_equal(sweep(f, f->cmd, NULL, 60), 0);
    char *manifest = path_in(f, "sweep.json");
    char *before = tu_read(manifest);
    struct stat st_before, st_after;
    assert_int_equal(stat(manifest, &st_before), 0);

    assert_int_equal(sweep(f, f->cmd, NULL, 60), 2);
    char *after = tu_read(manifest);
    assert_string_equal(before, after);
    assert_int_equal(stat(manifest, &st_after), 0);
    assert_int_equal(st_before.st_mtim.tv_nsec, st_after.st_mtim.tv_nsec);
    assert_int_equal(st_before.st_ino, st_after.st_ino);
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "holds an earlier run"));
    free(log);

    /* --force moves it aside to <out>.<started_at>, never deletes it */
    json_t *m = tu_json(manifest);
    char aside[1024];
    snprintf(aside, sizeof aside, "%s.%s/sweep.json", f->out,
             json_string_value(json_object_get(m, "started_at")));
    const char *force[] = {"--force", NULL};
    assert_int_equal(sweep(f, f->cmd, force, 60), 0);
    char *moved = tu_read(aside);
    assert_non_null(moved);
    assert_string_equal(moved, before);
    free(moved);
    json_decref(m);
    free(before);
    free(after);
    free(manifest);
}

static void test_target_that_exits_at_once_is_recorded_and_the_sweep_goes_on(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2");
    /* the 1-service point's target exits at once with status 3; the 2-service one runs */
    snprintf(f->cmd, sizeof f->cmd,
             "%s --config {config} $(grep -q svc2 {config} || echo --exit-code 3)", fake);
    assert_int_equal(sweep(f, f->cmd, NULL, 60), 1);
    json_t *m = json_in(f, "sweep.json");
    assert_non_null(m);
    json_t *p0 = json_array_get(json_object_get(m, "points"), 0);
    json_t *p1 = json_array_get(json_object_get(m, "points"), 1);
    assert_string_equal(json_string_value(json_object_get(p0, "status")), "failed");
    const char *reason = json_string_value(json_object_get(p0, "reason"));
    assert_non_null(strstr(reason, "exited with status 3"));
    assert_non_null(strstr(reason, "exiting at once")); /* the log's last lines */
    const char *s1 = json_string_value(json_object_get(p1, "status"));
    assert_true(!strcmp(s1, "ok") || !strcmp(s1, "contaminated"));
    assert_string_equal(json_string_value(json_object_get(m, "status")), "complete");
    char *log = path_in(f, "1_services/target.log");
    char *text = tu_read(log);
    assert_non_null(text);
    assert_non_null(strstr(text, "exiting at once"));
    free(text);
    free(log);
    json_decref(m);
}

/* A point contaminated by other load is measured again at once, up to
 * --retry-contaminated times, each earlier attempt kept aside under
 * <dir>.contaminated-<k> and counted in sweep.json. Contamination is forced:
 * two processes spin for the whole sweep (other load on both CPUs) and any
 * run delay counts (--contaminated-share 0), so every attempt is
 * contaminated and the retries run out. */
static void test_a_contaminated_point_is_measured_again_and_the_attempt_kept(void **state)
{
    struct fixture *f = *state;
    gen(f, "1");
    pid_t spin[2];
    for (int k = 0; k < 2; k++) {
        spin[k] = fork();
        if (spin[k] == 0) {
            alarm(60); /* bounded, whatever happens to the test */
            for (volatile unsigned long x = 0;; x++)
                ;
        }
        assert_true(spin[k] > 0);
    }
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config} --burn-ms 20", fake);
    const char *extra[] = {"--contaminated-share", "0", "--retry-contaminated", "2", NULL};
    int rc = sweep(f, f->cmd, extra, 90);
    for (int k = 0; k < 2; k++) {
        kill(spin[k], SIGKILL);
        waitpid(spin[k], NULL, 0);
    }
    if (rc != 0)
        dump_log(f);
    assert_int_equal(rc, 0); /* contaminated is not a failure */
    json_t *m = json_in(f, "sweep.json");
    assert_non_null(m);
    json_t *p = json_array_get(json_object_get(m, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "contaminated");
    assert_int_equal(json_integer_value(json_object_get(p, "remeasured")), 2);
    json_decref(m);
    for (int k = 1; k <= 2; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "1_services.contaminated-%d/stats.json", k);
        json_t *st = json_in(f, rel);
        assert_non_null(st);
        assert_true(json_is_true(json_object_get(st, "contaminated")));
        json_decref(st);
    }
    json_t *last = json_in(f, "1_services/stats.json");
    assert_non_null(last);
    json_decref(last);
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "measuring it again (2 of 2)"));
    free(log);
}

/* The same, with the other load gone once the first attempt was kept aside:
 * the second attempt decides the point afresh. It is ok, or, if the machine
 * was busy anyway, contaminated with its own reason — never the first
 * attempt's status left standing without one. */
static void test_a_remeasured_point_is_judged_by_its_new_attempt(void **state)
{
    struct fixture *f = *state;
    gen(f, "1");
    pid_t spin[2];
    for (int k = 0; k < 2; k++) {
        spin[k] = fork();
        if (spin[k] == 0) {
            alarm(60);
            for (volatile unsigned long x = 0;; x++)
                ;
        }
        assert_true(spin[k] > 0);
    }
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config} --burn-ms 20", fake);
    char *argv[] = {(char *)scaleprof,
                    "sweep",
                    "--configs",
                    f->configs,
                    "--out",
                    f->out,
                    "--warmup",
                    "1",
                    "--duration",
                    "2",
                    "--target-cmd",
                    f->cmd,
                    "--contaminated-share",
                    "0",
                    "--retry-contaminated",
                    "1",
                    NULL};
    f->sweep_pid = tu_spawn(argv, f->log);
    assert_true(f->sweep_pid > 0);
    char *aside = path_in(f, "1_services.contaminated-1");
    struct stat st;
    for (int i = 0; i < 600 && stat(aside, &st) != 0; i++) /* 60 s at most */
        usleep(100 * 1000);
    for (int k = 0; k < 2; k++) { /* the other load ends with the first attempt */
        kill(spin[k], SIGKILL);
        waitpid(spin[k], NULL, 0);
    }
    assert_int_equal(stat(aside, &st), 0);
    free(aside);
    int rc = tu_wait(f->sweep_pid, 60);
    f->sweep_pid = 0;
    assert_int_equal(rc, 0);
    json_t *m = json_in(f, "sweep.json");
    assert_non_null(m);
    json_t *p = json_array_get(json_object_get(m, "points"), 0);
    const char *status = json_string_value(json_object_get(p, "status"));
    const char *reason = json_string_value(json_object_get(p, "reason"));
    printf("# second attempt: %s (%s)\n", status, reason);
    assert_int_equal(json_integer_value(json_object_get(p, "remeasured")), 1);
    if (strcmp(status, "ok") != 0) {
        assert_string_equal(status, "contaminated");
        assert_true(reason && reason[0]); /* its own reason, not a status left standing */
    }
    json_decref(m);
}

static void test_sigint_mid_sweep_leaves_no_target_and_a_readable_manifest(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config}", fake);
    char *argv[] = {
        (char *)scaleprof, "sweep", "--configs",    f->configs, "--out", f->out, "--warmup", "1",
        "--duration",      "5",     "--target-cmd", f->cmd,     NULL};
    f->sweep_pid = tu_spawn(argv, f->log);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", f->admin_port);
    assert_true(tu_http_ok(url, 20)); /* the first point's target is up */
    /* the target runs from the point's own config.yaml, not from the configs folder (the
     * sweep's own command line holds both folders, so the needles are the files) */
    pid_t pids[8];
    char original[600], copy[600];
    snprintf(original, sizeof original, "%s/1_services.yaml", f->configs);
    snprintf(copy, sizeof copy, "%s/1_services/config.yaml", f->out);
    assert_int_equal(tu_pids_with(original, pids, 8), 0);
    assert_int_equal(tu_pids_with(copy, pids, 8), 1);
    kill(f->sweep_pid, SIGINT);
    int rc = tu_wait(f->sweep_pid, 30);
    f->sweep_pid = 0;
    assert_int_equal(rc, 130);
    assert_int_equal(tu_pids_with(f->out, pids, 8), 0);
    json_t *m = json_in(f, "sweep.json");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "interrupted");
    json_t *p0 = json_array_get(json_object_get(m, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "status")), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(p0, "reason")), "interrupted"));
    json_decref(m);
}

/* --until-decided: rounds are added one at a time after the first pass, each
 * look is recorded, the sweep stops for a reason that agrees with its last
 * look, and `scaleprof analyze` (at the sweep's level by default) reports the
 * rounds and the verdict of that look. fake_target's cost does not depend on
 * N, so the verdict itself may go either way; what is checked is that the
 * record is consistent. */
static void test_until_decided_adds_rounds_and_records_every_look(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config} --burn-ms 20", fake);
    const char *extra[] = {"--warmup", "0", "--duration",   "1", "--until-decided",
                           "--repeat", "1", "--max-rounds", "3", "--confidence",
                           "0.95",     NULL};
    int rc = sweep(f, f->cmd, extra, 120);
    if (rc != 0)
        dump_log(f);
    assert_int_equal(rc, 0);
    json_t *m = json_in(f, "sweep.json");
    json_t *seq = json_object_get(m, "sequential");
    assert_non_null(seq);
    assert_string_equal(json_string_value(json_object_get(seq, "method")), "pocock");
    assert_int_equal(json_integer_value(json_object_get(seq, "first_rounds")), 1);
    assert_int_equal(json_integer_value(json_object_get(seq, "max_rounds")), 3);
    int rounds = (int)json_integer_value(json_object_get(seq, "rounds"));
    json_t *looks = json_object_get(seq, "looks");
    const char *stopped = json_string_value(json_object_get(seq, "stopped"));
    print_message("%d round(s), stopped: %s\n", rounds, stopped);
    assert_true(rounds >= 1 && rounds <= 3);
    assert_int_equal(json_array_size(looks), rounds); /* one look after every round */
    json_t *last = json_array_get(looks, json_array_size(looks) - 1);
    const char *verdict = json_string_value(json_object_get(last, "verdict"));
    assert_int_equal(json_integer_value(json_object_get(last, "rounds")), rounds);
    if (!strcmp(stopped, "decided")) {
        assert_true(!strcmp(verdict, "linear") || !strcmp(verdict, "superlinear"));
    } else {
        assert_string_equal(stopped, "max_rounds");
        assert_int_equal(rounds, 3);
        assert_string_equal(verdict, "inconclusive");
    }
    /* the first look has 3 points for 3 coefficients (a is ~20% of a core, so it
     * is not held at 0): no residual degrees of freedom, nothing to decide on */
    assert_string_equal(json_string_value(json_object_get(json_array_get(looks, 0), "verdict")),
                        "inconclusive");
    json_t *points = json_object_get(m, "points");
    assert_int_equal(json_array_size(points), 3 * (size_t)rounds);
    for (size_t i = 0; i < json_array_size(points); i++) {
        json_t *p = json_array_get(points, i);
        char want[64];
        snprintf(want, sizeof want, "%d_services/run-%zu", (int)(i % 3) + 1, i / 3 + 1);
        assert_string_equal(json_string_value(json_object_get(p, "dir")), want);
    }
    char report[600];
    snprintf(report, sizeof report, "%s/report", f->out);
    char *argv[] = {(char *)scaleprof, "analyze", f->out, "--out", report, NULL};
    tu_run(argv, f->log, 60); /* exit 2 when too few points are usable: the report is written */
    json_t *r = json_in(f, "report/report.json");
    assert_non_null(r);
    json_t *rseq = json_object_get(r, "sequential");
    assert_int_equal(json_integer_value(json_object_get(rseq, "rounds")), rounds);
    assert_string_equal(json_string_value(json_object_get(rseq, "stopped")), stopped);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), verdict);
    json_decref(r);
    json_decref(m);
}

/* --budget: the first pass always runs; no round is added that the longest
 * round so far says would end past the budget. Two counts keep every look
 * inconclusive (a quadratic needs three), so only the budget can stop it. */
static void test_until_decided_stops_when_another_round_would_overrun_the_budget(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config}", fake);
    const char *extra[] = {"--warmup", "0", "--duration",   "1", "--until-decided",
                           "--repeat", "1", "--max-rounds", "5", "--budget",
                           "1",        NULL};
    assert_int_equal(sweep(f, f->cmd, extra, 60), 0);
    json_t *m = json_in(f, "sweep.json");
    json_t *seq = json_object_get(m, "sequential");
    assert_string_equal(json_string_value(json_object_get(seq, "stopped")), "budget");
    assert_int_equal(json_integer_value(json_object_get(seq, "rounds")), 1);
    assert_true(json_real_value(json_object_get(seq, "budget_s")) == 1.0);
    assert_int_equal(json_array_size(json_object_get(m, "points")), 2);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "complete");
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "stopped: budget"));
    free(log);
    json_decref(m);
}

static void test_gen_unknown_key_fails_with_a_clear_message(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {(char *)scaleprof, "gen",      "--set", "tasks.portlst.mode=off",
                    "--out",           f->configs, NULL};
    assert_int_equal(tu_run(argv, f->log, 30), 2);
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "tasks.portlst.mode"));
    assert_non_null(strstr(log, "unknown"));
    assert_non_null(strstr(log, "tasks.portlist.mode"));
    free(log);
    assert_int_not_equal(access(f->configs, F_OK), 0); /* nothing was written */
}

/* Issue 17: a point whose load was not delivered is `underloaded`, with its figures,
 * whether the services refuse connections or answer 5xx; one whose load was delivered
 * stays ok; and the gate refuses such a sweep (exit 2) naming the point. */
static void test_points_whose_load_was_not_delivered_are_underloaded(void **state)
{
    struct fixture *f = *state;
    gen(f, "2");
    static const struct {
        const char *flags, *status, *reason;
    } rows[] = {
        {"", "underloaded", "could not connect"}, /* the services' ports refuse */
        {"--serve-services --answer-status 502", "underloaded", "answered 5xx"},
        {"--serve-services", NULL, NULL}, /* delivered: ok (or contaminated on a busy machine) */
    };
    const char *const extra[] = {"--load", "20", NULL};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(f->out, sizeof f->out, "%s/results-%zu", f->dir, i);
        snprintf(f->cmd, sizeof f->cmd, "%s --config {config} %s", fake, rows[i].flags);
        int rc = sweep(f, f->cmd, extra, 120);
        if (rc != 0)
            dump_log(f);
        assert_int_equal(rc, 0); /* underloaded points are not failures of the sweep */
        json_t *m = json_in(f, "sweep.json");
        assert_non_null(m);
        json_t *pre = json_object_get(m, "load_preflight");
        assert_true(json_number_value(json_object_get(pre, "asked_rps")) == 40);
        assert_true(json_number_value(json_object_get(pre, "offered_rps")) > 0);
        json_t *p = json_array_get(json_object_get(m, "points"), 0);
        const char *status = json_string_value(json_object_get(p, "status"));
        const char *reason = json_string_value(json_object_get(p, "reason"));
        printf("# %s: %s %s\n", rows[i].flags, status, reason);
        if (rows[i].status)
            assert_string_equal(status, rows[i].status);
        else
            assert_string_not_equal(status, "underloaded");
        json_t *st = json_in(f, "2_services/stats.json");
        json_t *load = json_object_get(st, "load");
        assert_non_null(load);
        bool under = json_is_true(json_object_get(load, "underloaded"));
        assert_true(under == (rows[i].reason != NULL));
        if (rows[i].reason) {
            assert_non_null(strstr(reason, rows[i].reason));
            assert_non_null(strstr(reason, "requests failed"));
            assert_non_null(strstr(reason, "of 20 requests/s per service"));
            char *log = tu_read(f->log);
            assert_non_null(strstr(log, "2_services underloaded: load reached"));
            free(log);
            /* the gate will not judge a sweep with an underloaded point */
            char *gate[] = {(char *)scaleprof, "gate", f->out, NULL};
            assert_int_equal(tu_run(gate, f->log, 60), 2);
            log = tu_read(f->log);
            assert_non_null(strstr(log, "N=2 repeat 1 is underloaded (load reached"));
            free(log);
        } else {
            assert_int_equal(json_integer_value(json_object_get(load, "errors")), 0);
        }
        json_decref(st);
        json_decref(m);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_sweep SCALEPROF FAKE_TARGET\n");
        return 2;
    }
    scaleprof = argv[1];
    fake = argv[2];
    fetch_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_point_sweep_writes_every_file_with_sane_values,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rerun_without_force_refuses_and_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_target_that_exits_at_once_is_recorded_and_the_sweep_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_contaminated_point_is_measured_again_and_the_attempt_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_remeasured_point_is_judged_by_its_new_attempt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_sigint_mid_sweep_leaves_no_target_and_a_readable_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_until_decided_adds_rounds_and_records_every_look,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_until_decided_stops_when_another_round_would_overrun_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gen_unknown_key_fails_with_a_clear_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_points_whose_load_was_not_delivered_are_underloaded,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
