/*
 * test_test_util: the helpers other tests lean on must be able to fail. Above
 * all tu_pids_with, behind every "no process left behind" check: it must find
 * a process that runs, stop finding it once it is gone, and answer -1 (never
 * 0) when it cannot look.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static void test_pids_with_finds_a_running_process_and_not_a_reaped_one(void **state)
{
    char marker[64];
    snprintf(marker, sizeof marker, "scaleprof-test-marker-%d-%ld", (int)getpid(),
             (long)time(NULL));
    /* "; :" keeps the shell (and its argv[0], the marker) alive instead of exec'ing sleep */
    char *argv[] = {"/bin/sh", "-c", "sleep 30; :", marker, NULL};
    pid_t child = tu_spawn(argv, NULL);
    assert_true(child > 0);
    pid_t pids[4] = {0};
    int n = 0;
    for (int i = 0; i < 200 && n == 0; i++) { /* until the exec has happened */
        n = tu_pids_with(marker, pids, 4);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], child);
    kill(-child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(tu_pids_with(marker, pids, 4), 0);
}

static void test_pids_with_fails_when_it_cannot_look(void **state)
{
    pid_t pids[4];
    /* no proc folder at all */
    assert_int_equal(tu_pids_with_in("/nonexistent-proc", "x", pids, 4), -1);
    /* a readable folder that does not list this process is not a look either */
    char *empty = tu_tmpdir("proc");
    assert_int_equal(tu_pids_with_in(empty, "x", pids, 4), -1);
    tu_rmtree(empty);
    free(empty);
    /* the real one can look, and nobody runs with this needle */
    assert_int_equal(tu_pids_with("scaleprof-no-such-process-\x01", pids, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pids_with_finds_a_running_process_and_not_a_reaped_one),
        cmocka_unit_test(test_pids_with_fails_when_it_cannot_look),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
