/*
 * test_sweep_tree: `scaleprof sweep` measures a target's whole process tree
 * (issue 19). fake_target --workers 3 --burn-ms 30 forks three workers that do
 * all the burning (0.9 of a CPU) while the master idles; with --respawn-ms 300
 * they are replaced three times a second. stats.json's cpu_ns is the tree's
 * (the root's own, root_cpu_ns, is what the one-pid reading saw: ~0), with
 * processes, pss_bytes and exited_cpu_ns beside it. How exact the tree's CPU
 * is, is test_proctree's job; this proves the sweep writes it.
 * argv[1] = scaleprof, argv[2] = fake_target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *scaleprof, *fake;

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    return json_number_value(v);
}

static void test_sweep_writes_the_trees_cpu_memory_and_exits(void **state)
{
    char *dir = tu_tmpdir("sweep-tree"), configs[512], out[512], log[512], cmd[1024];
    snprintf(configs, sizeof configs, "%s/configs", dir);
    snprintf(out, sizeof out, "%s/results", dir);
    snprintf(log, sizeof log, "%s/scaleprof.log", dir);
    char addr[64], base[16];
    snprintf(addr, sizeof addr, "prometheusAddr=127.0.0.1:%d", tu_free_port());
    snprintf(base, sizeof base, "%d", tu_free_port_range(64));
    char *gen[] = {(char *)scaleprof, "gen", "--counts", "1,2",   "--set", addr,
                   "--base-port",     base,  "--out",    configs, NULL};
    assert_int_equal(tu_run(gen, log, 30), 0);
    /* 1 service: steady workers; 2 services: workers replaced every 300 ms */
    snprintf(cmd, sizeof cmd,
             "%s --config {config} --workers 3 --burn-ms 30 "
             "$(grep -q svc2 {config} && echo --respawn-ms 300)",
             fake);
    char *sweep[] = {
        (char *)scaleprof, "sweep", "--configs",    configs, "--out", out, "--warmup", "1",
        "--duration",      "3",     "--target-cmd", cmd,     NULL};
    int rc = tu_run(sweep, log, 120);
    if (rc != 0) {
        char *text = tu_read(log);
        printf("# scaleprof log:\n%s\n", text ? text : "(none)");
        free(text);
    }
    assert_int_equal(rc, 0);
    for (int n = 1; n <= 2; n++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%d_services/stats.json", out, n);
        json_t *s = tu_json(path);
        assert_non_null(s);
        double window = num(s, "window_s"), cpu = num(s, "cpu_ns"), root = num(s, "root_cpu_ns");
        double exited = num(s, "exited_cpu_ns"), pss = num(s, "pss_bytes");
        double rss = num(s, "rss_bytes"), processes = num(s, "processes");
        printf("# %s: tree %.3f cores, root alone %.4f, exited %.0f%%, %g processes, "
               "PSS %.0f KiB, RSS %.0f KiB, other load %.0f%%\n",
               n == 1 ? "steady" : "respawning", cpu / 1e9 / window, root / 1e9 / window,
               100 * exited / cpu, processes, pss / 1024, rss / 1024,
               100 * num(s, "other_cpu_share"));
        /* the master and its three workers (respawning ones are replaced together, so a
         * reading may fall in the ms between an exit and its replacement); their CPU, not
         * the idle master's: the one-pid reading (root_cpu_ns) would have said ~0.1% */
        if (n == 1)
            assert_int_equal((int)processes, 4);
        else
            assert_true(processes >= 1 && processes <= 4);
        /* loose: a busy machine starves the workers (test_proctree holds the tree to 0.9
         * core +- 15%, and to the kernel's own total); the root alone is ~0.001 */
        assert_true(cpu / 1e9 / window > 0.15 && cpu / 1e9 / window < 1.1);
        assert_true(root < 0.05 * cpu);
        assert_true(json_real_value(json_object_get(s, "cpu_percent")) > 15);
        /* PSS: the workers share the master's pages, so less than the summed RSS */
        assert_true(pss > 0 && pss < rss);
        assert_null(json_object_get(s, "pss_note"));
        if (n == 1)
            assert_true(exited < 0.05 * cpu);
        else
            assert_true(exited > 0.5 * cpu && exited <= cpu * 1.01);
        /* utime+stime ticks of the tree (each process's, and its reaped children's, cut
         * to ticks) against ns: a few ticks per process */
        double hz = num(s, "clock_ticks_per_s");
        double ticks_ns = num(s, "stat_ticks") * 1e9 / hz;
        assert_true(fabs(cpu - ticks_ns) <= 4 * 4 * 1e9 / hz + 0.02 * cpu);
        /* the samples are the tree's, cumulative, and count its processes */
        json_t *samples = json_object_get(s, "samples");
        assert_true(json_array_size(samples) >= 3);
        double prev = -1;
        for (size_t i = 0; i < json_array_size(samples); i++) {
            json_t *o = json_array_get(samples, i);
            assert_true(num(o, "cpu_ns") >= prev - 2 * 1e9 / hz);
            prev = num(o, "cpu_ns");
            if (n == 1)
                assert_int_equal((int)num(o, "processes"), 4);
            else
                assert_true(num(o, "processes") >= 1 && num(o, "processes") <= 4);
        }
        char threads_path[600];
        snprintf(threads_path, sizeof threads_path, "%s/%d_services/thread_count.txt", out, n);
        char *tc = tu_read(threads_path);
        assert_non_null(tc);
        /* the tree's threads: the master's (main, accept loop, a profile server) and one
         * per worker */
        assert_true(strtol(tc, NULL, 10) >= 5);
        free(tc);
        json_decref(s);
    }
    pid_t left[4];
    assert_int_equal(tu_pids_with(dir, left, 4), 0);
    tu_kill_with(dir);
    tu_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_sweep_tree SCALEPROF FAKE_TARGET\n");
        return 2;
    }
    scaleprof = argv[1];
    fake = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_writes_the_trees_cpu_memory_and_exits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
