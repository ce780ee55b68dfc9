/*
 * test_perf_profiler: the perf_event_open profiler against perf_burn, a
 * program built without frame pointers whose call chains and threads are
 * known, in both modes (per CPU, per thread): sampled CPU agrees with
 * /proc, stacks unwind completely and through the right functions (named
 * here from perf_burn's symbol table: the profile has no names), a thread
 * and a process started during the window are sampled, the file reads back
 * with consistent ids. Against perf_light (many light threads): per CPU,
 * sampled CPU is within 10% of /proc's, where per thread at 99 Hz it is
 * well short. A busy process outside the tree is not in a per-CPU profile.
 * A refused or pointless start says why, and auto mode falls back to per
 * thread where per-CPU events are refused.
 *
 *   test_perf_profiler PERF_BURN PERF_LIGHT
 *
 * Exits 77 (skipped) only when this machine offers no perf_event_open at
 * all; when it does, every check must pass (the checks that need a user
 * who may sample its own processes are skipped, and reported so, when
 * kernel.perf_event_paranoid is above 2).
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
#include "proclist.h"
#include "procstat.h"

#define WINDOW_S 1.5
#define TEST_HZ 250     /* 4 ms: the quantization of 3 threads × 2 CPUs stays < 3% of the CPU */
#define OUTSIDER_HZ 263 /* out of step with perf_light's 100 ms (see LIGHT_HZ) */

static char burn_path[PATH_MAX], light_path[PATH_MAX];

static enum perf_mode per_cpu = PERF_MODE_PER_CPU, per_thread = PERF_MODE_PER_THREAD;

static enum perf_mode mode_of(void **state)
{
    return *(const enum perf_mode *)*state;
}

/* Runs path with args (NULL-terminated, at most 4) and waits until it is exec'd. */
static pid_t spawn(const char *path, const char *a1, const char *a2, const char *a3, const char *a4)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(path, path, a1, a2, a3, a4, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    /* exec'd once /proc/<pid>/exe is the program */
    char link[64], exe[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    for (int i = 0; i < 200; i++) {
        ssize_t n = readlink(link, exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            if (!strcmp(exe, path))
                return pid;
        }
        usleep(5000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("%s did not start", path);
    return -1;
}

static pid_t spawn_burn(const char *seconds, const char *late_ms)
{
    return spawn(burn_path, seconds, late_ms, NULL, NULL);
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

/* The tree's CPU over one profiled window, as far as /proc can tell: in
 * [lo_s, hi_s], hi_s including what the hypervisor may have stolen. */
struct window {
    struct perf_stats st;
    double lo_s, hi_s, proc_s, sampled_s;
};

/* Profiles root's tree with o for window_s seconds, writes path (NULL:
 * nothing) and prints the figures; on failure kills the tree and fails. */
static void profile_window(pid_t root, const struct perf_options *o, double window_s,
                           const char *path, struct window *w)
{
    struct buf err;
    buf_init(&err, 4096);
    struct perf_profiler *prof;
    /* /proc is read before and after start and stop: on a busy machine this
     * thread can wait for a CPU between a read and the events' start or end,
     * so the window's CPU is only known to lie in [lo, hi] */
    uint64_t before_start = tree_cpu_ns(root);
    int rc = perf_profiler_start(&prof, root, o, &err);
    uint64_t after_start = tree_cpu_ns(root);
    if (rc != PERF_OK) {
        reap(root);
        fail_msg("start: %s", err.data);
    }
    usleep((useconds_t)(window_s * 1e6));
    uint64_t before_stop = tree_cpu_ns(root);
    rc = perf_profiler_stop(prof, path, &w->st, &err);
    uint64_t after_stop = tree_cpu_ns(root);
    if (rc != PERF_OK) {
        reap(root);
        fail_msg("stop: %s", err.data);
    }
    buf_free(&err);
    const struct perf_stats *st = &w->st;
    /* cpu-clock also counts time the hypervisor stole while the tree ran,
     * which /proc leaves out. The machine's steal/busy bounds that share
     * but overstates it (it also counts vCPUs waking from idle, when no
     * task of the tree was running): allow at most 10% for it */
    double stolen = st->busy_ns ? (double)st->steal_ns / (double)st->busy_ns : 0.0;
    w->lo_s = (double)(before_stop - after_start) / 1e9;
    w->hi_s = (double)(after_stop - before_start) / 1e9 * (1.0 + (stolen < 0.1 ? stolen : 0.1));
    w->proc_s = (w->lo_s + w->hi_s) / 2;
    w->sampled_s = (double)st->sampled_cpu_ns / 1e9;
    fprintf(stderr,
            "# %s, hz %u: sampled CPU %.3f s, counted %.3f s, /proc CPU %.3f..%.3f s (sampled "
            "%+.1f%% of the middle); %" PRIu64 " samples, %.1f%% complete, %" PRIu64
            " unwind errors, %" PRIu64 " lost; %" PRIu64 " processes, %" PRIu64 " threads, %" PRIu64
            " events; kernel %s; reader CPU %.2f ms = %.2f ms per target CPU-second; "
            "%" PRIu64 " stacks, %" PRIu64 " samples of other processes; steal %.1f%% of busy\n",
            st->per_cpu ? "per CPU" : "per thread", o->hz, w->sampled_s,
            (double)st->counted_cpu_ns / 1e9, w->lo_s, w->hi_s,
            100.0 * (w->sampled_s - w->proc_s) / w->proc_s, st->samples,
            st->samples ? 100.0 * (double)st->samples_complete / (double)st->samples : 0.0,
            st->samples_unwind_error, st->lost, st->processes, st->threads, st->events,
            st->kernel_sampled ? "sampled" : "not sampled", (double)st->reader_cpu_ns / 1e6,
            (double)st->reader_cpu_ns / 1e6 / w->proc_s, st->stacks, st->samples_other,
            100.0 * stolen);
}

static void test_profile_of_a_tree_without_frame_pointers(void **state)
{
    enum perf_mode mode = mode_of(state);
    pid_t burn = spawn_burn("2.8", "300");
    struct perf_options o;
    perf_options_default(&o);
    o.hz = TEST_HZ;
    o.mode = mode;
    char path[] = "/tmp/test_perf_profiler.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct window w;
    profile_window(burn, &o, WINDOW_S, path, &w);
    reap(burn);
    const struct perf_stats st = w.st;
    double lo_s = w.lo_s, hi_s = w.hi_s, sampled_s = w.sampled_s;

    /* (a) samples × period estimates the tree's CPU */
    assert_true(st.samples >= 50);
    assert_int_equal(st.period_ns, 1000000000u / TEST_HZ);
    if (sampled_s < 0.9 * lo_s || sampled_s > 1.1 * hi_s)
        fail_msg("sampled %.3f s of CPU, /proc says %.3f..%.3f s", sampled_s, lo_s, hi_s);
    assert_int_equal(st.per_cpu, mode == PERF_MODE_PER_CPU);
    /* the machine was at least as busy as the tree (stolen time included) */
    if ((double)(st.busy_ns + st.steal_ns) < 0.9e9 * lo_s)
        fail_msg("machine busy %.3f s + stolen %.3f s, under the tree's %.3f s",
                 (double)st.busy_ns / 1e9, (double)st.steal_ns / 1e9, lo_s);
    if (mode == PERF_MODE_PER_THREAD) {
        /* what the events counted, sampled or not */
        double counted_s = (double)st.counted_cpu_ns / 1e9;
        if (counted_s < 0.9 * lo_s || counted_s > 1.1 * hi_s)
            fail_msg("the events counted %.3f s of CPU, /proc says %.3f..%.3f s", counted_s, lo_s,
                     hi_s);
        assert_int_equal(st.samples_other, 0);
    } else {
        /* one event per CPU, whose count is every task's: not reported */
        assert_int_equal(st.events, (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
        assert_int_equal(st.counted_cpu_ns, 0);
    }
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
}

/* perf_light's shape for the accuracy tests: LIGHT_THREADS threads, each
 * burning LIGHT_BURN_US every 100 ms (0.4 of a core in all). Per thread at
 * 99 Hz, each thread's 16 ms in the window is under two periods, so each
 * of its counters (one per CPU) takes at most one sample between them:
 * whatever the scheduler does, at most 10.1 of its 16 ms are sampled. */
#define LIGHT_THREADS "50"
#define LIGHT_BURN_US "800"
#define LIGHT_WINDOW_S 2.0
/* per CPU: ~800 samples, so the statistical error is ~2%. Not a divisor of
 * the threads' 100 ms: sampling in step with a periodic load would hit each
 * thread at the same phase of its burst every time (always or never) */
#define LIGHT_HZ 997

static void test_many_light_threads_per_cpu_sample_within_10_percent(void **state)
{
    pid_t light = spawn(light_path, LIGHT_THREADS, LIGHT_BURN_US, "100", "3");
    usleep(200 * 1000); /* every thread started */
    struct perf_options o;
    perf_options_default(&o);
    o.mode = PERF_MODE_PER_CPU;
    o.hz = LIGHT_HZ;
    o.stack_bytes = 4096; /* the stacks are shallow; a bigger ring for 999 Hz */
    o.ring_kb = 2048;
    struct window w;
    profile_window(light, &o, LIGHT_WINDOW_S, NULL, &w);
    reap(light);
    assert_true(w.st.per_cpu);
    assert_int_equal(w.st.lost, 0); /* a lost record would bias the estimate down */
    if (w.sampled_s < 0.9 * w.lo_s || w.sampled_s > 1.1 * w.hi_s)
        fail_msg("per CPU: sampled %.3f s of CPU, /proc says %.3f..%.3f s", w.sampled_s, w.lo_s,
                 w.hi_s);
    /* each thread had ~16 samples to give: none is missed */
    assert_true(w.st.threads >= 50);
}

static void test_many_light_threads_per_thread_undercount_at_99_hz(void **state)
{
    pid_t light = spawn(light_path, LIGHT_THREADS, LIGHT_BURN_US, "100", "3");
    usleep(200 * 1000);
    struct perf_options o;
    perf_options_default(&o); /* 99 Hz, as a sweep samples */
    o.mode = PERF_MODE_PER_THREAD;
    struct window w;
    profile_window(light, &o, LIGHT_WINDOW_S, NULL, &w);
    reap(light);
    assert_false(w.st.per_cpu);
    /* the counters saw the CPU; sampling at one period per counter lost it */
    double counted_s = (double)w.st.counted_cpu_ns / 1e9;
    if (counted_s < 0.9 * w.lo_s || counted_s > 1.1 * w.hi_s)
        fail_msg("per thread: the events counted %.3f s, /proc says %.3f..%.3f s", counted_s,
                 w.lo_s, w.hi_s);
    if (w.sampled_s > 0.8 * w.lo_s)
        fail_msg("per thread: sampled %.3f s of %.3f..%.3f s: the undercount this mode is "
                 "documented for did not show",
                 w.sampled_s, w.lo_s, w.hi_s);
}

/* A process that burns a CPU beside the target, outside its tree: per CPU
 * its samples are seen, counted as other and dropped. */
static void test_busy_process_outside_the_tree_is_not_in_the_profile(void **state)
{
    pid_t outsider = spawn_burn("3", "1000000"); /* one busy thread, no late ones */
    pid_t target = spawn(light_path, "20", "2000", "100", "3");
    usleep(200 * 1000);
    struct perf_options o;
    perf_options_default(&o);
    o.mode = PERF_MODE_PER_CPU;
    o.hz = OUTSIDER_HZ;
    char path[] = "/tmp/test_perf_profiler.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct window w;
    uint64_t outsider_before = tree_cpu_ns(outsider);
    profile_window(target, &o, WINDOW_S, path, &w);
    double outsider_s = (double)(tree_cpu_ns(outsider) - outsider_before) / 1e9;
    reap(target);
    reap(outsider);
    fprintf(stderr, "# the outsider used %.3f s of CPU in the window\n", outsider_s);
    Perftools__Profiles__Profile *p = ptu_load(path);
    unlink(path);
    assert_non_null(p);
    assert_true(w.st.per_cpu);
    /* the outsider was sampled (about outsider_s × hz times) and dropped */
    if ((double)w.st.samples_other < 0.5 * outsider_s * OUTSIDER_HZ)
        fail_msg("%" PRIu64 " samples of other processes; the outsider alone used %.3f s",
                 w.st.samples_other, outsider_s);
    /* the target's CPU only (2 ms bursts, a sample every 3.8 ms: ~150 samples) */
    if (w.sampled_s < 0.8 * w.lo_s || w.sampled_s > 1.2 * w.hi_s)
        fail_msg("sampled %.3f s of CPU, the target used %.3f..%.3f s", w.sampled_s, w.lo_s,
                 w.hi_s);
    int64_t total = 0;
    for (size_t i = 0; i < p->n_sample; i++) {
        const char *thread = "";
        int64_t pid = 0;
        assert_int_equal(ptu_label(p, p->sample[i], "pid", NULL, &pid), 0);
        assert_int_equal(ptu_label(p, p->sample[i], "thread", &thread, NULL), 0);
        if (pid != target || strcmp(thread, "light"))
            fail_msg("a sample of pid %" PRId64 " thread %s: only the target (%d, light) "
                     "belongs",
                     pid, thread, (int)target);
        total += p->sample[i]->value[0];
    }
    assert_int_equal((uint64_t)total, w.st.samples);
    assert_true(total > 0);
    perftools__profiles__profile__free_unpacked(p, NULL);
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

static int paranoid(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int v = 99;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 99;
        fclose(f);
    }
    return v;
}

/* What a user without CAP_PERFMON got, sampling a process of its own. */
struct fallback {
    int auto_rc, forced_rc;
    bool per_cpu, kernel_sampled;
    uint64_t samples;
    char forced_msg[1024];
};

/* In a child that became nobody: perf_light as nobody, sampled in auto mode
 * (per-CPU events refused: per thread, user time only) and in forced
 * per-CPU mode (refused, saying why). No cmocka here: it is another process. */
static void fallback_child(int out)
{
    struct fallback r = {.auto_rc = 99, .forced_rc = 99};
    if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
        _exit(3);
    pid_t light = fork();
    if (light == 0) {
        execl(light_path, light_path, "4", "5000", "100", "2", (char *)NULL);
        _exit(127);
    }
    usleep(200 * 1000);
    struct buf err;
    buf_init(&err, 4096);
    struct perf_options o;
    perf_options_default(&o);
    o.hz = TEST_HZ;
    struct perf_profiler *prof = NULL;
    r.auto_rc = perf_profiler_start(&prof, light, &o, &err);
    if (r.auto_rc == PERF_OK) {
        usleep(500 * 1000);
        struct perf_stats st;
        perf_profiler_stop(prof, NULL, &st, &err);
        r.per_cpu = st.per_cpu;
        r.kernel_sampled = st.kernel_sampled;
        r.samples = st.samples;
    }
    buf_reset(&err);
    o.mode = PERF_MODE_PER_CPU;
    prof = NULL;
    r.forced_rc = perf_profiler_start(&prof, light, &o, &err);
    if (prof)
        perf_profiler_stop(prof, NULL, NULL, &err);
    snprintf(r.forced_msg, sizeof r.forced_msg, "%s", err.data ? err.data : "");
    buf_free(&err);
    kill(light, SIGKILL);
    waitpid(light, NULL, 0);
    _exit(write(out, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 4);
}

static void test_auto_falls_back_to_per_thread_where_per_cpu_is_refused(void **state)
{
    int level = paranoid();
    if (level > 2 || (geteuid() != 0 && level <= 0)) {
        fprintf(stderr,
                "# perf_event_paranoid %d: no unprivileged user here who may sample "
                "its own processes but not every task\n",
                level);
        skip();
    }
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        fallback_child(fds[1]);
    }
    close(fds[1]);
    struct fallback r;
    ssize_t n = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(n, sizeof r);
    fprintf(stderr,
            "# auto as nobody: rc %d, %s, kernel %s, %" PRIu64 " samples; forced per "
            "CPU: rc %d, %s\n",
            r.auto_rc, r.per_cpu ? "per CPU" : "per thread",
            r.kernel_sampled ? "sampled" : "not sampled", r.samples, r.forced_rc, r.forced_msg);
    assert_int_equal(r.auto_rc, PERF_OK);
    assert_false(r.per_cpu);
    assert_int_equal(r.kernel_sampled, level <= 1);
    assert_true(r.samples > 0);
    assert_int_equal(r.forced_rc, PERF_ERR_REFUSED);
    assert_non_null(strstr(r.forced_msg, "per-CPU events"));
    assert_non_null(strstr(r.forced_msg, "CAP_PERFMON"));
    assert_non_null(strstr(r.forced_msg, "kernel.perf_event_paranoid <= 0"));
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
        unsigned hz, stack_bytes, ring_kb, mode;
    } rows[] = {
        {"hz 0", 0, 16384, 512, PERF_MODE_AUTO},
        {"hz over 10000", 20000, 16384, 512, PERF_MODE_AUTO},
        {"stack not a multiple of 8", 99, 16385, 512, PERF_MODE_AUTO},
        {"stack over a record's 64 KiB", 99, 65536, 1024, PERF_MODE_AUTO},
        {"stack under 1 KiB", 99, 512, 512, PERF_MODE_AUTO},
        {"ring not a power of two", 99, 16384, 500, PERF_MODE_AUTO},
        {"ring too small for 4 samples", 99, 32768, 64, PERF_MODE_AUTO},
        {"mode not one of the three", 99, 16384, 512, 7},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct perf_options o;
        perf_options_default(&o);
        o.hz = rows[i].hz;
        o.stack_bytes = rows[i].stack_bytes;
        o.ring_kb = rows[i].ring_kb;
        o.mode = (enum perf_mode)rows[i].mode;
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
    if (argc != 3 || !realpath(argv[1], burn_path) || !realpath(argv[2], light_path)) {
        fprintf(stderr, "usage: test_perf_profiler PERF_BURN PERF_LIGHT\n");
        return 2;
    }
    if (!perf_available())
        return 77;
    void *cpu = (void *)&per_cpu, *thread = (void *)&per_thread;
    const struct CMUnitTest tests[] = {
        {"test_profile_of_a_tree_without_frame_pointers_per_cpu",
         test_profile_of_a_tree_without_frame_pointers, NULL, NULL, cpu},
        {"test_profile_of_a_tree_without_frame_pointers_per_thread",
         test_profile_of_a_tree_without_frame_pointers, NULL, NULL, thread},
        cmocka_unit_test(test_many_light_threads_per_cpu_sample_within_10_percent),
        cmocka_unit_test(test_many_light_threads_per_thread_undercount_at_99_hz),
        cmocka_unit_test(test_busy_process_outside_the_tree_is_not_in_the_profile),
        cmocka_unit_test(test_auto_falls_back_to_per_thread_where_per_cpu_is_refused),
        cmocka_unit_test(test_refused_open_says_what_to_set),
        cmocka_unit_test(test_missing_pid_is_no_target),
        cmocka_unit_test(test_options_out_of_range_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
