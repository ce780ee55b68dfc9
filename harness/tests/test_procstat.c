/*
 * test_procstat: /proc sampling of a child that burns a known amount of CPU:
 * nanosecond CPU agrees with /proc/<pid>/stat's utime+stime within the ticks'
 * resolution, and the other fields are those of the child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

static pid_t child;

static void kill_child(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = 0;
    }
}

/* The child spins until it has used `cpu_ms` of CPU, then blocks on a pipe read. */
static pid_t start_burner(int cpu_ms, int *ready_fd)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        struct timespec ts;
        volatile uint64_t x = 0;
        do {
            for (int i = 0; i < 100000; i++)
                x++;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        } while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < cpu_ms);
        if (write(fds[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    *ready_fd = fds[0];
    return pid;
}

static void test_cpu_ns_agrees_with_stat_ticks(void **state)
{
    int ready;
    child = start_burner(400, &ready);
    char c;
    assert_int_equal(read(ready, &c, 1), 1); /* it has burned its CPU and now sleeps */
    close(ready);
    struct procstat s;
    assert_int_equal(procstat_read(child, &s, true), 0);
    double tick_ns = 1e9 / (double)sysconf(_SC_CLK_TCK);
    double ticks_ns = (double)s.stat_ticks * tick_ns;
    printf("# cpu_ns %llu, schedstat %llu, stat ticks %llu (= %.0f ns)\n",
           (unsigned long long)s.cpu_ns, (unsigned long long)s.task_cpu_ns,
           (unsigned long long)s.stat_ticks, ticks_ns);
    assert_true(s.cpu_ns >= 400000000ull);
    assert_true(s.cpu_ns < 5000000000ull);
    /* utime+stime are truncated to ticks, and split by sampling: two ticks either way */
    assert_true((double)s.cpu_ns > ticks_ns - 2 * tick_ns);
    assert_true((double)s.cpu_ns < ticks_ns + 2 * tick_ns);
    /* one live thread: the schedstat sum is the same clock */
    assert_true(s.task_cpu_ns <= s.cpu_ns + 1000000 && s.task_cpu_ns + 1000000 >= s.cpu_ns);
    assert_int_equal(s.threads, 1);
    assert_true(s.rss_bytes > 0);
    assert_true(s.fds >= 3);
    assert_true(s.timeslices >= 1);
    /* the cheap read: the same clock, without the per-thread walk */
    struct procstat light;
    assert_int_equal(procstat_read(child, &light, false), 0);
    assert_true(light.cpu_ns >= s.cpu_ns && light.cpu_ns < s.cpu_ns + 50000000ull);
    assert_int_equal(light.task_cpu_ns, 0);
    assert_int_equal(light.threads, 1);
    kill_child();
}

static void test_gone_process_is_an_error(void **state)
{
    int ready;
    child = start_burner(0, &ready);
    close(ready);
    pid_t pid = child;
    kill_child();
    struct procstat s;
    assert_int_equal(procstat_read(pid, &s, true), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_ns_agrees_with_stat_ticks),
        cmocka_unit_test(test_gone_process_is_an_error),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kill_child();
    return rc;
}
