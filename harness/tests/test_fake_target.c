/*
 * test_fake_target: fake_target's process-tree modes (issue 19), which the
 * tree-measurement tests rely on: --workers K makes a tree of K + 1 processes
 * whose workers burn while the master idles; --respawn-ms replaces every
 * worker within a second and the master reaps each one; workers die with the
 * master (PR_SET_PDEATHSIG). This test is a child subreaper, so orphans come
 * back to it and how they died can be read exactly.
 *
 *   test_fake_target FAKE_TARGET
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define MAX_KIDS 64

static const char *fake_target;
static char *dir, config[256], url[128];
static pid_t running; /* the master under test, for kill_running after a failed assert */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The children of parent from /proc: live ones in live[], zombies counted. */
static int children_of(pid_t parent, pid_t *live, int max, int *zombies)
{
    int n = 0;
    *zombies = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        char *rp = strrchr(buf, ')'), state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != parent)
            continue;
        if (state == 'Z')
            (*zombies)++;
        else if (n < max)
            live[n++] = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

/* Polls until parent has want live children (a replacement may be in flight). */
static int wait_children(pid_t parent, int want, pid_t *live, int *zombies)
{
    int n = 0;
    for (double end = now_s() + 3; now_s() < end; sleep_s(0.02))
        if ((n = children_of(parent, live, MAX_KIDS, zombies)) == want)
            break;
    return n;
}

static bool contains(const pid_t *set, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return true;
    return false;
}

static long cpu_ms(pid_t pid)
{
    clockid_t clock;
    struct timespec ts;
    if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0)
        return -1;
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t start(const char *workers, const char *burn_ms, const char *respawn_ms)
{
    char log[300];
    snprintf(log, sizeof log, "%s/fake_target.log", dir);
    char *argv[] = {
        (char *)fake_target, "--config",  config,          "--workers",
        (char *)workers,     "--burn-ms", (char *)burn_ms, respawn_ms ? "--respawn-ms" : NULL,
        (char *)respawn_ms,  NULL};
    pid_t pid = tu_spawn(argv, log);
    assert_true(pid > 0);
    running = pid;
    assert_true(tu_http_ok(url, 5));
    return pid;
}

/* Workers that outlived their master are ours (subreaper): reap them. */
static void reap_orphans(void)
{
    for (double end = now_s() + 2; now_s() < end; sleep_s(0.01))
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            return;
}

/* Stops the master's group and reaps whatever was left to us as subreaper. */
static void stop(pid_t master)
{
    kill(-master, SIGTERM);
    assert_int_equal(tu_wait(master, 5), 128 + SIGTERM);
    running = 0;
    reap_orphans();
}

static void test_workers_3_make_a_tree_of_4_processes(void **state)
{
    pid_t master = start("3", "5", NULL), live[MAX_KIDS], grandkids[MAX_KIDS];
    int zombies;
    assert_int_equal(wait_children(master, 3, live, &zombies), 3);
    for (int i = 0; i < 3; i++) {
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)live[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(comm, sizeof comm, f));
        fclose(f);
        assert_string_equal(comm, "fake_worker\n");
        /* the tree ends at the workers: master + 3 = 4 processes */
        assert_int_equal(children_of(live[i], grandkids, MAX_KIDS, &zombies), 0);
        assert_int_equal(zombies, 0);
    }
    stop(master);
}

/* The known CPU of the tree: each worker burns --burn-ms per 100 ms; the
 * master only waits. Loose bounds: the machine is shared. */
static void test_master_idles_while_workers_burn(void **state)
{
    pid_t master = start("2", "20", NULL), live[MAX_KIDS];
    int zombies;
    assert_int_equal(wait_children(master, 2, live, &zombies), 2);
    long m0 = cpu_ms(master), w0[2] = {cpu_ms(live[0]), cpu_ms(live[1])};
    sleep_s(1.0);
    long m1 = cpu_ms(master), w1[2] = {cpu_ms(live[0]), cpu_ms(live[1])};
    assert_true(m0 >= 0 && w0[0] >= 0 && w0[1] >= 0);
    print_message("master %ld ms, workers %ld and %ld ms of CPU in 1 s (nominal 0, 200, 200)\n",
                  m1 - m0, w1[0] - w0[0], w1[1] - w0[1]);
    assert_true(m1 - m0 < 30);
    for (int i = 0; i < 2; i++) {
        assert_true(w1[i] - w0[i] >= 50);
        assert_true(w1[i] - w0[i] <= 500);
    }
    stop(master);
}

static void test_respawned_workers_change_pids_within_a_second(void **state)
{
    pid_t master = start("2", "5", "200"), first[MAX_KIDS], live[MAX_KIDS], seen[256];
    int zombies, n_seen = 0;
    assert_int_equal(wait_children(master, 2, first, &zombies), 2);
    for (double end = now_s() + 1.0; now_s() < end; sleep_s(0.05)) {
        int n = children_of(master, live, MAX_KIDS, &zombies);
        for (int i = 0; i < n; i++)
            if (!contains(seen, n_seen, live[i]) && n_seen < 256)
                seen[n_seen++] = live[i];
    }
    assert_int_equal(wait_children(master, 2, live, &zombies), 2);
    print_message("%d distinct workers seen in 1 s (2 at a time, 200 ms each)\n", n_seen);
    for (int i = 0; i < 2; i++)
        assert_false(contains(first, 2, live[i]));
    /* about 2 * 1000 / 200 = 10 lifetimes; well over the 2 at the start */
    assert_true(n_seen >= 6);
    /* reaped: ~10 workers exited, at most the ones exiting right now are zombies */
    assert_true(zombies <= 2);
    stop(master);
}

static void test_workers_die_with_the_master(void **state)
{
    pid_t master = start("3", "5", NULL), live[MAX_KIDS];
    int zombies;
    assert_int_equal(wait_children(master, 3, live, &zombies), 3);
    /* the master alone: nothing else signals the workers */
    assert_int_equal(kill(master, SIGKILL), 0);
    assert_int_equal(tu_wait(master, 5), 128 + SIGKILL);
    for (int i = 0; i < 3; i++) { /* kill_running still kills the group if this fails */
        int status = 0;
        pid_t got = 0;
        for (double end = now_s() + 3; now_s() < end && got == 0; sleep_s(0.01))
            got = waitpid(live[i], &status, WNOHANG);
        if (got != live[i])
            kill(live[i], SIGKILL);
        assert_int_equal(got, live[i]);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
    }
}

static void test_respawn_without_workers_is_a_usage_error(void **state)
{
    char *argv[] = {(char *)fake_target, "--config", config, "--respawn-ms", "100", NULL};
    assert_int_equal(tu_run(argv, NULL, 5), 2);
    char *argv2[] = {(char *)fake_target, "--config", config, "--workers", "-1", NULL};
    assert_int_equal(tu_run(argv2, NULL, 5), 2);
}

/* After every test, passed or not: nothing of the target may outlive it. The
 * group holds the master and its workers (they stay in it). */
static int kill_running(void **state)
{
    if (running > 0) {
        kill(-running, SIGKILL);
        waitpid(running, NULL, 0);
        running = 0;
    }
    reap_orphans();
    return 0;
}

static int setup(void **state)
{
    int port = tu_free_port();
    dir = tu_tmpdir("fake-target");
    snprintf(config, sizeof config, "%s/config.yaml", dir);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    FILE *f = fopen(config, "w");
    if (!f)
        return -1;
    fprintf(f, "prometheusAddr: \"127.0.0.1:%d\"\n", port);
    return fclose(f) == 0 && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(dir);
    free(dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_fake_target FAKE_TARGET\n");
        return 2;
    }
    fake_target = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_workers_3_make_a_tree_of_4_processes, kill_running),
        cmocka_unit_test_teardown(test_master_idles_while_workers_burn, kill_running),
        cmocka_unit_test_teardown(test_respawned_workers_change_pids_within_a_second, kill_running),
        cmocka_unit_test_teardown(test_workers_die_with_the_master, kill_running),
        cmocka_unit_test_teardown(test_respawn_without_workers_is_a_usage_error, kill_running),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
