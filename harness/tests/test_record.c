/*
 * test_record: `scaleprof record` on a running perf_burn (built without frame
 * pointers): it writes a pprof profile whose ids are consistent and whose
 * samples cover the process's CPU, prints its figures and the mode that ran
 * (--mode per-thread also the CPU the events counted), and refuses to
 * overwrite a file, an unknown mode or a pid that does not exist.
 *
 *   test_record SCALEPROF PERF_BURN
 *
 * Exits 77 (skipped) only when this machine offers no perf_event_open at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf_test_util.h"

static const char *scaleprof, *burn;
static char tmpdir[64];

/* Runs argv with stdout to out_path; the exit status, or -1. Bounded: 60 s. */
static int run(char *const argv[], const char *out_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(out_path, "w", stdout);
        (void)f;
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 6000; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void test_record_writes_a_profile_of_a_running_process(void **state)
{
    pid_t target = fork();
    if (target == 0) {
        execl(burn, burn, "4", "300", (char *)NULL); /* burns ~4 s, late thread and child */
        _exit(127);
    }
    usleep(200 * 1000);
    char pid[16], out[128], log[128];
    snprintf(pid, sizeof pid, "%d", (int)target);
    snprintf(out, sizeof out, "%s/cpu.pb.gz", tmpdir);
    snprintf(log, sizeof log, "%s/record.txt", tmpdir);
    char *argv[] = {(char *)scaleprof, "record", "--pid", pid, "--duration", "1", "--hz", "199",
                    "--out",           out,      NULL};
    int rc = run(argv, log);
    char text[2048] = "";
    FILE *lf = fopen(log, "r");
    if (lf) {
        size_t n = fread(text, 1, sizeof text - 1, lf);
        text[n] = '\0';
        fclose(lf);
    }
    print_message("%s", text);
    assert_int_equal(rc, 0);
    Perftools__Profiles__Profile *p = ptu_load(out);
    assert_non_null(p);
    const char *bad = ptu_check_ids(p);
    if (bad)
        fail_msg("%s: %s", out, bad);
    assert_true(p->n_sample > 0);
    assert_true(p->n_mapping > 0);
    unsigned long long samples = 0, complete = 0;
    assert_int_equal(sscanf(text, "samples %llu (complete chains %llu", &samples, &complete), 2);
    /* perf_burn keeps a CPU busy: about 199 samples in a second, nearly all complete */
    assert_true(samples > 100);
    assert_true(complete * 10 >= samples * 9);
    /* the mode that ran: per CPU wherever the test runs as root */
    if (geteuid() == 0)
        assert_non_null(strstr(text, "\nper CPU: "));
    else
        assert_true(strstr(text, "\nper CPU: ") || strstr(text, "\nper thread: "));
    perftools__profiles__profile__free_unpacked(p, NULL);

    /* an existing file is never overwritten */
    rc = run(argv, log);
    assert_int_equal(rc, 2);
    kill(target, SIGKILL);
    waitpid(target, NULL, 0);
}

/* Reads the first len-1 bytes of path into text. */
static void slurp(const char *path, char *text, size_t len)
{
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, len - 1, f);
        text[n] = '\0';
        fclose(f);
    }
}

static void test_record_mode_per_thread_reports_counted_cpu(void **state)
{
    pid_t target = fork();
    if (target == 0) {
        execl(burn, burn, "3", "1000000", (char *)NULL);
        _exit(127);
    }
    usleep(200 * 1000);
    char pid[16], out[128], log[128], text[2048];
    snprintf(pid, sizeof pid, "%d", (int)target);
    snprintf(out, sizeof out, "%s/thread.pb.gz", tmpdir);
    snprintf(log, sizeof log, "%s/thread.txt", tmpdir);
    char *argv[] = {(char *)scaleprof, "record",     "--pid", pid, "--duration", "1",
                    "--mode",          "per-thread", "--out", out, NULL};
    int rc = run(argv, log);
    kill(target, SIGKILL);
    waitpid(target, NULL, 0);
    slurp(log, text, sizeof text);
    print_message("%s", text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "\nper thread: "));
    double sampled = 0, counted = 0;
    const char *line = strstr(text, "\nsampled CPU ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "\nsampled CPU %lf s, counted CPU %lf s", &sampled, &counted), 2);
    assert_true(counted > 0.5); /* perf_burn's main thread spins */
}

static void test_record_refuses_an_unknown_mode(void **state)
{
    char out[128], log[128];
    snprintf(out, sizeof out, "%s/mode.pb.gz", tmpdir);
    snprintf(log, sizeof log, "%s/mode.txt", tmpdir);
    char *argv[] = {(char *)scaleprof, "record", "--pid", "1", "--mode",
                    "per-process",     "--out",  out,     NULL};
    assert_int_equal(run(argv, log), 2);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
}

static void test_record_refuses_a_missing_pid(void **state)
{
    char out[128], log[128];
    snprintf(out, sizeof out, "%s/none.pb.gz", tmpdir);
    snprintf(log, sizeof log, "%s/none.txt", tmpdir);
    char *argv[] = {(char *)scaleprof, "record", "--pid", "2147483000", "--duration", "1",
                    "--out",           out,      NULL};
    assert_int_equal(run(argv, log), 1);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0); /* nothing written */
}

/* --out that exists as anything, a dangling symbolic link too, is refused before
 * sampling: the profile is written by rename, which would replace the link. */
static void test_record_refuses_an_existing_out_even_a_dangling_link(void **state)
{
    char out[128], log[128], nowhere[128];
    snprintf(out, sizeof out, "%s/link.pb.gz", tmpdir);
    snprintf(log, sizeof log, "%s/link.txt", tmpdir);
    snprintf(nowhere, sizeof nowhere, "%s/nowhere", tmpdir);
    assert_int_equal(symlink(nowhere, out), 0);
    char *argv[] = {(char *)scaleprof, "record", "--pid", "1", "--duration", "1",
                    "--out",           out,      NULL};
    assert_int_equal(run(argv, log), 2);
    struct stat st;
    assert_int_equal(lstat(out, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_not_equal(stat(nowhere, &st), 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_record SCALEPROF PERF_BURN\n");
        return 2;
    }
    scaleprof = argv[1];
    burn = argv[2];
    struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE,
                                   .size = sizeof attr,
                                   .config = PERF_COUNT_SW_CPU_CLOCK,
                                   .exclude_kernel = 1,
                                   .disabled = 1};
    int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    if (fd < 0 && errno == ENOSYS) {
        printf("perf_event_open does not exist here: skipped\n");
        return 77;
    }
    if (fd >= 0)
        close(fd);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_record.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_writes_a_profile_of_a_running_process),
        cmocka_unit_test(test_record_mode_per_thread_reports_counted_cpu),
        cmocka_unit_test(test_record_refuses_an_unknown_mode),
        cmocka_unit_test(test_record_refuses_a_missing_pid),
        cmocka_unit_test(test_record_refuses_an_existing_out_even_a_dangling_link),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
