/*
 * test_perf_profiler: the perf_event_open profiler against perf_burn, a
 * program built without frame pointers whose call chains and threads are
 * known: sampled CPU agrees with /proc, stacks unwind completely and through
 * the right functions (named here from perf_burn's symbol table: the profile
 * has no names), a thread and a process started during the window are
 * sampled, the file reads back with consistent ids; and a refused or
 * pointless start says why.
 *
 *   test_perf_profiler PERF_BURN
 *
 * Exits 77 (skipped) only when this machine offers no perf_event_open at
 * all; when it does, every check must pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perf_profiler.h"
#include "perf_test_util.h"
#include "procstat.h"
#include "proclist.h"

#define WINDOW_S 1.5
#define TEST_HZ 250 /* 4 ms: the quantization of 3 threads × 2 CPUs stays < 3% of the CPU */

static char burn_path[PATH_MAX];

static pid_t spawn_burn(const char *seconds, const char *late_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(burn_path, burn_path, seconds, late_ms, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    /* exec'd once /proc/<pid>/exe is perf_burn */
    char link[64], exe[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    for (int i = 0; i < 200; i++) {
        ssize_t n = readlink(link, exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            if (!strcmp(exe, burn_path))
                return pid;
        }
        usleep(5000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("%s did not start", burn_path);
    return -1;
}

static void reap(pid_t pid)
{
    /* perf_burn ends by itself; it also has a child: kill both if late */
    for (int i = 0; i < 400; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    pid_t pids[8];
    int n = proclist_pids(pid, pids, 8, NULL);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    waitpid(pid, NULL, 0);
}

/* CPU of every process of the tree now (exited threads included). */
static uint64_t tree_cpu_ns(pid_t root)
{
    pid_t pids[64];
    int n = proclist_pids(root, pids, 64, NULL);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        struct procstat s;
        if (procstat_read(pids[i], &s, false) == 0)
            sum += s.cpu_ns;
    }
    return sum;
}

/* The function names of a sample's frames (NULL outside perf_burn), leaf first. */
static size_t frame_names(const Perftools__Profiles__Profile *p, const struct ptu_syms *syms,
                          const Perftools__Profiles__Sample *s, const char **names, size_t max,
                          bool *leaf_in_libc)
{
    size_t n = s->n_location_id < max ? s->n_location_id : max;
    *leaf_in_libc = false;
    for (size_t i = 0; i < n; i++) {
        const Perftools__Profiles__Location *l = ptu_location(p, s->location_id[i]);
        const Perftools__Profiles__Mapping *m = l ? ptu_mapping(p, l->mapping_id) : NULL;
        const char *file = m ? ptu_str(p, m->filename) : "";
        names[i] = m && !strcmp(file, burn_path) ? ptu_syms_name(syms, m, l->address) : NULL;
        if (i == 0)
            *leaf_in_libc = strstr(file, "/libc.so") != NULL;
    }
    return n;
}

static bool has(const char **names, size_t n, const char *fn)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], fn))
            return true;
    return false;
}

static bool at(const char **names, size_t n, size_t i, const char *fn)
{
    return i < n && names[i] && !strcmp(names[i], fn);
}

static void test_profile_of_a_tree_without_frame_pointers(void **state)
{
    pid_t burn = spawn_burn("2.8", "300");
    struct perf_options o;
    perf_options_default(&o);
    o.hz = TEST_HZ;
    struct buf err;
    buf_init(&err, 4096);
    struct perf_profiler *prof;
    char path[] = "/tmp/test_perf_profiler.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    /* /proc is read before and after start and stop: on a busy machine this
     * thread can wait for a CPU between a read and the events' start or end,
     * so the window's CPU is only known to lie in [lo, hi] */
    uint64_t before_start = tree_cpu_ns(burn);
    int rc = perf_profiler_start(&prof, burn, &o, &err);
    uint64_t after_start = tree_cpu_ns(burn);
    if (rc != PERF_OK) {
        reap(burn);
        fail_msg("start: %s", err.data);
    }
    usleep((useconds_t)(WINDOW_S * 1e6));
    uint64_t before_stop = tree_cpu_ns(burn);
    struct perf_stats st;
    rc = perf_profiler_stop(prof, path, &st, &err);
    uint64_t after_stop = tree_cpu_ns(burn);
    reap(burn);
    if (rc != PERF_OK)
        fail_msg("stop: %s", err.data);

    double lo_s = (double)(before_stop - after_start) / 1e9;
    double hi_s = (double)(after_stop - before_start) / 1e9;
    double proc_s = (lo_s + hi_s) / 2, sampled_s = (double)st.sampled_cpu_ns / 1e9;
    fprintf(stderr,
            "# hz %u: sampled CPU %.3f s, counted %.3f s, /proc CPU %.3f..%.3f s (sampled "
            "%+.1f%% of the middle); %" PRIu64 " samples, %.1f%% complete, %" PRIu64
            " unwind errors, %" PRIu64 " lost; %" PRIu64 " processes, %" PRIu64 " threads, %" PRIu64
            " events; kernel %s; reader CPU %.2f ms = %.2f ms per target CPU-second; "
            "%" PRIu64 " stacks\n",
            o.hz, sampled_s, (double)st.counted_cpu_ns / 1e9, lo_s, hi_s,
            100.0 * (sampled_s - proc_s) / proc_s, st.samples,
            st.samples ? 100.0 * (double)st.samples_complete / (double)st.samples : 0.0,
            st.samples_unwind_error, st.lost, st.processes, st.threads, st.events,
            st.kernel_sampled ? "sampled" : "not sampled", (double)st.reader_cpu_ns / 1e6,
            (double)st.reader_cpu_ns / 1e6 / proc_s, st.stacks);

    /* (a) samples × period estimates the tree's CPU */
    assert_true(st.samples >= 50);
    assert_int_equal(st.period_ns, 1000000000u / TEST_HZ);
    if (sampled_s < 0.9 * lo_s || sampled_s > 1.1 * hi_s)
        fail_msg("sampled %.3f s of CPU, /proc says %.3f..%.3f s", sampled_s, lo_s, hi_s);
    /* what the events counted, sampled or not */
    double counted_s = (double)st.counted_cpu_ns / 1e9;
    if (counted_s < 0.9 * lo_s || counted_s > 1.1 * hi_s)
        fail_msg("the events counted %.3f s of CPU, /proc says %.3f..%.3f s", counted_s, lo_s,
                 hi_s);
    /* (b) unwinding reaches the outermost frame */
    if ((double)st.samples_complete < 0.9 * (double)st.samples)
        fail_msg("%" PRIu64 " of %" PRIu64 " samples unwound completely", st.samples_complete,
                 st.samples);
    assert_int_equal(st.samples_dropped, 0);
    assert_true(st.processes >= 2);
    assert_true(st.threads >= 3);

    /* (e) the file reads back, consistent, in pprof's CPU shape */
    Perftools__Profiles__Profile *p = ptu_load(path);
    unlink(path);
    assert_non_null(p);
    const char *bad = ptu_check_ids(p);
    if (bad)
        fail_msg("%s", bad);
    assert_int_equal(p->n_sample_type, 2);
    assert_string_equal(ptu_str(p, p->sample_type[0]->type), "samples");
    assert_string_equal(ptu_str(p, p->sample_type[1]->type), "cpu");
    assert_string_equal(ptu_str(p, p->sample_type[1]->unit), "nanoseconds");
    assert_int_equal(p->period, 1000000000 / TEST_HZ);
    assert_true(p->duration_nanos >= (int64_t)(WINDOW_S * 1e9));
    assert_true(p->time_nanos > 0);
    assert_true(p->n_mapping >= 2);
    assert_string_equal(ptu_str(p, p->mapping[0]->filename), burn_path);
    assert_true(strlen(ptu_str(p, p->mapping[0]->build_id)) >= 16);

    struct ptu_syms *syms = ptu_syms_open(burn_path);
    assert_non_null(syms);
    int64_t total = 0, cpu = 0;
    int64_t leaf_n = 0, leaf_chain = 0, cmp_n = 0, cmp_direct = 0, late_n = 0, child_n = 0;
    for (size_t i = 0; i < p->n_sample; i++) {
        const Perftools__Profiles__Sample *s = p->sample[i];
        const char *names[64], *thread = "";
        int64_t pid = 0, count = s->value[0];
        bool libc_leaf;
        size_t n = frame_names(p, syms, s, names, 64, &libc_leaf);
        assert_int_equal(ptu_label(p, s, "pid", NULL, &pid), 0);
        assert_int_equal(ptu_label(p, s, "thread", &thread, NULL), 0);
        total += count;
        cpu += s->value[1];
        /* (c) the leaf's callers, in order */
        if (at(names, n, 0, "burn_leaf")) {
            leaf_n += count;
            if (at(names, n, 1, "burn_b") && at(names, n, 2, "burn_a") && at(names, n, 3, "main"))
                leaf_chain += count;
        }
        /* (c) memcmp's caller is the frame after libc's */
        if (libc_leaf && has(names, n, "cmp_caller")) {
            cmp_n += count;
            if (at(names, n, 1, "cmp_caller") && at(names, n, 2, "main"))
                cmp_direct += count;
        }
        /* (d) the thread and the process started during the window */
        if (!strcmp(thread, "late") && pid == burn && has(names, n, "late_leaf"))
            late_n += count;
        if (pid != burn && !strcmp(thread, "child") && has(names, n, "child_burn"))
            child_n += count;
    }
    fprintf(stderr,
            "# burn_leaf %" PRId64 " (%" PRId64 " via burn_b, burn_a, main), memcmp %" PRId64
            " (%" PRId64 " called from cmp_caller), late thread %" PRId64 ", child %" PRId64 "\n",
            leaf_n, leaf_chain, cmp_n, cmp_direct, late_n, child_n);
    assert_int_equal((uint64_t)total, st.samples);
    assert_int_equal((uint64_t)cpu, st.sampled_cpu_ns);
    assert_true(leaf_n >= 5);
    if (leaf_chain < leaf_n * 9 / 10)
        fail_msg("%" PRId64 " of %" PRId64 " burn_leaf samples unwound through b, a, main",
                 leaf_chain, leaf_n);
    assert_true(cmp_n >= 5);
    if (cmp_direct < cmp_n * 9 / 10)
        fail_msg("%" PRId64 " of %" PRId64 " memcmp samples name cmp_caller as the caller",
                 cmp_direct, cmp_n);
    assert_true(late_n >= 3);
    assert_true(child_n >= 3);
    ptu_syms_close(syms);
    perftools__profiles__profile__free_unpacked(p, NULL);
    buf_free(&err);
}

/* An unprivileged user may not sample root's processes: the message must say
 * what to set. As root, the check runs in a child that became nobody. */
static void test_refused_open_says_what_to_set(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
            _exit(3);
        struct buf err;
        buf_init(&err, 4096);
        struct perf_profiler *prof = NULL;
        int rc = perf_profiler_start(&prof, 1, NULL, &err);
        if (err.data && write(fds[1], err.data, err.len) < 0)
            _exit(4);
        _exit(rc == PERF_ERR_REFUSED && !prof ? 0 : 1);
    }
    close(fds[1]);
    char msg[4096] = "";
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], msg + len, sizeof msg - 1 - len)) > 0)
        len += (size_t)n;
    msg[len] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    fprintf(stderr, "# refused: %s\n", msg);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("exit %d, message: %s", WEXITSTATUS(status), msg);
    assert_non_null(strstr(msg, "kernel.perf_event_paranoid is "));
    assert_non_null(strstr(msg, "CAP_PERFMON"));
    assert_non_null(strstr(msg, "sysctl kernel.perf_event_paranoid=1"));
}

static void test_missing_pid_is_no_target(void **state)
{
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    struct buf err;
    buf_init(&err, 4096);
    struct perf_profiler *prof = (struct perf_profiler *)&err; /* must be reset to NULL */
    assert_int_equal(perf_profiler_start(&prof, gone, NULL, &err), PERF_ERR_NO_TARGET);
    assert_null(prof);
    assert_non_null(strstr(err.data, "no such process"));
    buf_free(&err);
}

static void test_options_out_of_range_are_refused(void **state)
{
    static const struct {
        const char *field;
        unsigned hz, stack_bytes, ring_kb;
    } rows[] = {
        {"hz 0", 0, 16384, 512},
        {"hz over 10000", 20000, 16384, 512},
        {"stack not a multiple of 8", 99, 16385, 512},
        {"stack over a record's 64 KiB", 99, 65536, 1024},
        {"stack under 1 KiB", 99, 512, 512},
        {"ring not a power of two", 99, 16384, 500},
        {"ring too small for 4 samples", 99, 32768, 64},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct perf_options o;
        perf_options_default(&o);
        o.hz = rows[i].hz;
        o.stack_bytes = rows[i].stack_bytes;
        o.ring_kb = rows[i].ring_kb;
        struct buf err;
        buf_init(&err, 4096);
        struct perf_profiler *prof = NULL;
        int rc = perf_profiler_start(&prof, getpid(), &o, &err);
        if (rc != PERF_ERR || prof || !err.data || !strstr(err.data, "perf: "))
            fail_msg("%s: rc %d, message %s", rows[i].field, rc, err.data ? err.data : "");
        buf_free(&err);
    }
}

/* Whether this machine has perf events at all (not whether we may use them on others). */
static bool perf_available(void)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_CPU_CLOCK;
    a.exclude_kernel = 1;
    int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    if (fd < 0) {
        fprintf(stderr, "perf_event_open unavailable here: %s\n", strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2 || !realpath(argv[1], burn_path)) {
        fprintf(stderr, "usage: test_perf_profiler PERF_BURN\n");
        return 2;
    }
    if (!perf_available())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_of_a_tree_without_frame_pointers),
        cmocka_unit_test(test_refused_open_says_what_to_set),
        cmocka_unit_test(test_missing_pid_is_no_target),
        cmocka_unit_test(test_options_out_of_range_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
