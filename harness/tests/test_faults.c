/*
 * test_faults: issue 8's fault tests of the harness, end to end against
 * fake_target's fault modes. Each test is bounded in time and asserts both
 * what the user sees (exit status, messages, sweep.json) and what is kept on
 * disk: a target SIGKILLed in the window, a target never ready, a profile
 * endpoint that hangs, a disk that fills up mid-point (a file-size limit, and a
 * small tmpfs in a private mount namespace), SIGINT at every phase
 * (no process left in the target's group, no zombie), scaleprof SIGKILLed at
 * random moments (every file that exists is whole), no overwrite without
 * --force (gen, sweep --force moving aside), and the analysis of a results
 * folder with a truncated cpu.prof and a corrupt stats.json.
 * argv[1] = scaleprof, argv[2] = fake_target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "test_util.h"

static const char *scaleprof, *fake;

struct fixture {
    char *dir, configs[512], out[512], log[512], cmd[2048];
    int admin_port;
    pid_t sweep_pid;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir("faults");
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
    tu_kill_with(f->dir);                  /* any target left behind (a failed test) */
    umount2(f->out, MNT_DETACH);           /* the tmpfs test's mount, if any */
    while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans we adopted as subreaper */
        ;
    if (!getenv("KEEP_TEST_DIRS"))
        tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void dump_log(struct fixture *f)
{
    char *log = tu_read(f->log);
    printf("# scaleprof log:\n%s\n", log ? log : "(none)");
    free(log);
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

/* The fake target, with `flags` only on the point whose config has service svc<N> but not
 * svc<N+1>: a fault at one point while the others run normally. */
static void fault_at(struct fixture *f, int services, const char *flags)
{
    snprintf(f->cmd, sizeof f->cmd,
             "%s --config {config} $(grep -q 'svc%d$' {config} && "
             "! grep -q 'svc%d$' {config} && echo %s)",
             fake, services, services + 1, flags);
}

/* argv for scaleprof sweep with the fixture's command, warm-up, window and extra args. */
static void sweep_argv(struct fixture *f, char **argv, const char *warmup, const char *duration,
                       const char *const *extra)
{
    const char *base[] = {scaleprof,  "sweep", "--configs",  f->configs, "--out",        f->out,
                          "--warmup", warmup,  "--duration", duration,   "--target-cmd", f->cmd};
    int n = 0;
    for (; n < 12; n++)
        argv[n] = (char *)base[n];
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
}

static char *path_in(struct fixture *f, const char *rel)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", f->out, rel) > 0);
    return p;
}

static bool exists_in(struct fixture *f, const char *rel)
{
    char *p = path_in(f, rel);
    bool yes = access(p, F_OK) == 0;
    free(p);
    return yes;
}

static json_t *point(json_t *manifest, size_t i)
{
    return json_array_get(json_object_get(manifest, "points"), i);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void assert_point_ok(json_t *p)
{
    const char *s = jstr(p, "status");
    if (strcmp(s, "ok") && strcmp(s, "contaminated"))
        fail_msg("point %s: status %s (%s)", jstr(p, "dir"), s, jstr(p, "reason"));
}

/* A finished point's files are all there and stats.json parses with a window. */
static void assert_point_files(struct fixture *f, const char *dir)
{
    const char *files[] = {"cpu.prof",   "threads.txt", "thread_count.txt", "metrics.prom",
                           "stats.json", "config.yaml", "target.log"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/%s", dir, files[k]);
        if (!exists_in(f, rel))
            fail_msg("%s is missing", rel);
    }
    char rel[256];
    snprintf(rel, sizeof rel, "%s/stats.json", dir);
    char *p = path_in(f, rel);
    json_t *s = tu_json(p);
    free(p);
    assert_non_null(s);
    assert_true(json_real_value(json_object_get(s, "window_s")) > 0.5);
    json_decref(s);
}

/* No temporary file of an atomic write is left in dir. */
static void assert_no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            fail_msg("%s/%s: temporary file left behind", dir, e->d_name);
    closedir(d);
}

enum which { ANY_STATE, ZOMBIES, LIVE };

/* Processes in group pgrp (-1: any) with parent ppid (-1: any) in the given state; /proc
 * lists zombies too. */
static int count_procs(int pgrp, int ppid, enum which which)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], text[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue;
        size_t len = fread(text, 1, sizeof text - 1, fp);
        fclose(fp);
        text[len] = '\0';
        char *rp = strrchr(text, ')'), state;
        int pp, pg;
        if (!rp || sscanf(rp + 1, " %c %d %d", &state, &pp, &pg) != 3)
            continue;
        if ((pgrp < 0 || pg == pgrp) && (ppid < 0 || pp == ppid) &&
            (which == ANY_STATE || (which == ZOMBIES) == (state == 'Z')))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static int group_members(pid_t pgid)
{
    return count_procs(pgid, -1, ANY_STATE);
}

static pid_t pgid_of(pid_t pid)
{
    pid_t g = getpgid(pid);
    return g > 0 ? g : -1;
}

/* Waits up to timeout_s for the log to contain needle. */
static bool log_has(struct fixture *f, const char *needle, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        char *log = tu_read(f->log);
        bool found = log && strstr(log, needle);
        free(log);
        if (found)
            return true;
        sleep_ms(20);
    }
    return false;
}

static void test_target_sigkilled_in_the_window_is_recorded_and_the_next_point_runs(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2");
    fault_at(f, 1, "--die-in-profile");
    char *argv[32];
    sweep_argv(f, argv, "1", "2", NULL);
    int rc = tu_run(argv, f->log, 60);
    if (rc != 1)
        dump_log(f);
    assert_int_equal(rc, 1);
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "1_services failed: target killed by signal 9"));
    free(log);
    char *mp = path_in(f, "sweep.json");
    json_t *m = tu_json(mp);
    free(mp);
    assert_non_null(m);
    assert_string_equal(jstr(m, "status"), "complete");
    const char *reason = jstr(point(m, 0), "reason");
    assert_string_equal(jstr(point(m, 0), "status"), "failed");
    assert_non_null(strstr(reason, "killed by signal 9"));
    assert_non_null(strstr(reason, "during the window"));
    assert_non_null(strstr(reason, "last words 3")); /* the log's last lines */
    assert_point_ok(point(m, 1));
    assert_point_files(f, "2_services");
    /* the failed point keeps its config and log, and claims no profile or stats */
    assert_true(exists_in(f, "1_services/config.yaml"));
    char *tl = path_in(f, "1_services/target.log");
    char *text = tu_read(tl);
    assert_non_null(text);
    assert_non_null(strstr(text, "last words 3"));
    free(text);
    free(tl);
    assert_false(exists_in(f, "1_services/cpu.prof"));
    assert_false(exists_in(f, "1_services/stats.json"));
    json_decref(m);
}

static void test_target_never_ready_is_bounded_recorded_and_the_next_point_runs(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2");
    fault_at(f, 1, "--never-ready --fork-child");
    char *argv[32];
    const char *extra[] = {"--ready-timeout", "2", NULL};
    sweep_argv(f, argv, "1", "2", extra);
    double t0 = now_s();
    int rc = tu_run(argv, f->log, 60);
    double took = now_s() - t0;
    if (rc != 1)
        dump_log(f);
    assert_int_equal(rc, 1);
    printf("# never-ready sweep (2 s readiness limit + one 1+2 s point): %.1f s\n", took);
    assert_true(took < 30);
    char *mp = path_in(f, "sweep.json");
    json_t *m = tu_json(mp);
    free(mp);
    assert_non_null(m);
    assert_string_equal(jstr(point(m, 0), "status"), "failed");
    assert_non_null(strstr(jstr(point(m, 0), "reason"), "not ready"));
    double wall = json_real_value(json_object_get(point(m, 0), "wall_s"));
    assert_true(wall >= 2.0 && wall < 15.0);
    assert_point_ok(point(m, 1));
    assert_point_files(f, "2_services");
    pid_t pids[8];
    assert_int_equal(tu_pids_with(f->out, pids, 8), 0); /* the never-ready target and child */
    json_decref(m);
}

/* A profile endpoint that never answers costs the point its profile, not its
 * measurement (issue 19: a point stands on its process measurements): the
 * fetch gives up at window + --fetch-timeout, the point is ok with no
 * cpu.prof, and stats.json says why there is no profile. */
static void test_hanging_profile_endpoint_is_bounded_by_the_fetch_timeout(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2");
    fault_at(f, 1, "--hang-profile");
    char *argv[32];
    const char *extra[] = {"--fetch-timeout", "2", NULL};
    sweep_argv(f, argv, "1", "2", extra);
    double t0 = now_s();
    int rc = tu_run(argv, f->log, 90);
    double took = now_s() - t0;
    if (rc != 0)
        dump_log(f);
    assert_int_equal(rc, 0);
    char *mp = path_in(f, "sweep.json");
    json_t *m = tu_json(mp);
    free(mp);
    assert_non_null(m);
    assert_point_ok(point(m, 0));
    char *sp = path_in(f, "1_services/stats.json");
    json_t *st = tu_json(sp);
    free(sp);
    assert_non_null(st);
    assert_true(json_is_null(json_object_get(st, "cpu_profile")));
    const char *reason = jstr(st, "profile_reason");
    assert_non_null(strstr(reason, "CPU profile"));
    assert_non_null(strstr(reason, "timed out"));
    assert_true(json_number_value(json_object_get(st, "window_s")) >= 1.9);
    /* warm-up 1 + window 2 + 2 s allowance, plus start and stop */
    double wall = json_real_value(json_object_get(point(m, 0), "wall_s"));
    printf("# hanging profile: point %.1f s, sweep %.1f s (reason: %s)\n", wall, took, reason);
    assert_true(wall >= 4.5 && wall < 15.0);
    assert_true(took < 40);
    assert_point_ok(point(m, 1));
    assert_point_files(f, "2_services");
    assert_false(exists_in(f, "1_services/cpu.prof"));
    json_decref(st);
    json_decref(m);
}

/* Runs scaleprof with RLIMIT_FSIZE and SIGXFSZ ignored (inherited through exec), so a
 * write past the limit fails with EFBIG as on a full disk. */
static pid_t spawn_with_fsize(char *const argv[], const char *log, rlim_t limit)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_FSIZE, &rl);
        signal(SIGXFSZ, SIG_IGN);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void test_disk_full_while_writing_a_point_fails_it_and_keeps_the_others(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3");
    /* the 2-service point's profile (1 MiB) is over the 256 KiB file limit */
    fault_at(f, 2, "--profile-bytes 1048576");
    char *argv[32];
    sweep_argv(f, argv, "0", "1", NULL);
    pid_t pid = spawn_with_fsize(argv, f->log, 256 * 1024);
    int rc = tu_wait(pid, 60);
    if (rc != 1)
        dump_log(f);
    assert_int_equal(rc, 1);
    char *mp = path_in(f, "sweep.json");
    json_t *m = tu_json(mp);
    free(mp);
    assert_non_null(m);
    assert_string_equal(jstr(m, "status"), "complete");
    assert_string_equal(jstr(point(m, 1), "status"), "failed");
    const char *reason = jstr(point(m, 1), "reason");
    assert_non_null(strstr(reason, "cpu.prof"));
    assert_non_null(strstr(reason, "File too large"));
    assert_point_ok(point(m, 0));
    assert_point_ok(point(m, 2));
    assert_point_files(f, "1_services");
    assert_point_files(f, "3_services");
    assert_false(exists_in(f, "2_services/cpu.prof"));
    char *d2 = path_in(f, "2_services");
    assert_no_temp_files(d2);
    assert_no_temp_files(f->out);
    free(d2);
    json_decref(m);
}

/* The same on a real full disk: a 512 KiB tmpfs mounted on the results folder in a private
 * mount namespace (needs CAP_SYS_ADMIN; skipped, and reported as skipped, without it). */
static void test_disk_full_on_a_small_tmpfs_fails_the_point_and_keeps_the_others(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3");
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mkdir(f->out, 0755) < 0 || mount("tmpfs", f->out, "tmpfs", 0, "size=512k") < 0) {
        printf("# no private tmpfs here (%s): skipped\n", strerror(errno));
        skip();
    }
    fault_at(f, 2, "--profile-bytes 1048576");
    char *argv[32];
    sweep_argv(f, argv, "0", "1", NULL);
    int rc = tu_run(argv, f->log, 60);
    if (rc != 1)
        dump_log(f);
    assert_int_equal(rc, 1);
    char *mp = path_in(f, "sweep.json");
    json_t *m = tu_json(mp);
    free(mp);
    assert_non_null(m);
    assert_string_equal(jstr(m, "status"), "complete");
    assert_string_equal(jstr(point(m, 1), "status"), "failed");
    const char *reason = jstr(point(m, 1), "reason");
    assert_non_null(strstr(reason, "cpu.prof"));
    assert_non_null(strstr(reason, "No space left on device"));
    assert_point_ok(point(m, 0));
    assert_point_ok(point(m, 2));
    assert_point_files(f, "1_services");
    assert_point_files(f, "3_services");
    assert_false(exists_in(f, "2_services/cpu.prof"));
    char *d2 = path_in(f, "2_services");
    assert_no_temp_files(d2);
    assert_no_temp_files(f->out);
    free(d2);
    json_decref(m);
}

/* SIGINT when the log shows the 2-service point (of 1,2) in `phase`; that point's target
 * gets `flags`. Then: exit 130, nothing left in the target's process group, no zombie,
 * sweep.json interrupted, the first point kept. */
static void sigint_at(struct fixture *f, const char *phase, const char *flags, const char *warmup,
                      const char *duration, const char *const *extra)
{
    gen(f, "1,2");
    char both[512];
    snprintf(both, sizeof both, "--fork-child %s", flags);
    fault_at(f, 2, both);
    char *argv[32];
    sweep_argv(f, argv, warmup, duration, extra);
    f->sweep_pid = tu_spawn(argv, f->log);
    char needle[128];
    snprintf(needle, sizeof needle, "[2/2] 2 services run 1: %s", phase);
    if (!log_has(f, needle, 60)) {
        dump_log(f);
        fail_msg("never saw '%s'", needle);
    }
    /* the target and its child (the shell's $(grep ...) may still be running at first) */
    char target_needle[600];
    snprintf(target_needle, sizeof target_needle, "%s/2_services/config.yaml --fork-child", f->out);
    pid_t pids[8], pgid = -1;
    double end = now_s() + 10;
    while (now_s() < end) {
        int n = tu_pids_with(target_needle, pids, 8);
        pgid = n > 0 ? pgid_of(pids[0]) : -1;
        if (n == 2 && pgid > 0 && group_members(pgid) == 2)
            break;
        sleep_ms(10);
    }
    assert_int_equal(tu_pids_with(target_needle, pids, 8), 2);
    assert_true(pgid > 0);
    assert_int_equal(group_members(pgid), 2);
    kill(f->sweep_pid, SIGINT);
    double t0 = now_s();
    int rc = tu_wait(f->sweep_pid, 30);
    f->sweep_pid = 0;
    printf("# SIGINT while %s: scaleprof exited %d after %.2f s\n", phase, rc, now_s() - t0);
    if (rc != 130)
        dump_log(f);
    assert_int_equal(rc, 130);
    /* scaleprof reaped the target (its child); the target's own child, orphaned, came to us
     * (subreaper) and must be dead: a zombie we reap now, never a live process */
    assert_int_equal(kill(pgid, 0), -1);
    assert_int_equal(count_procs(pgid, -1, LIVE), 0);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    assert_int_equal(group_members(pgid), 0);
    assert_int_equal(tu_pids_with(f->out, pids, 8), 0);
    assert_int_equal(count_procs(-1, getpid(), ZOMBIES), 0);
    char *mp = path_in(f, "sweep.json");
    json_t *m = tu_json(mp);
    free(mp);
    assert_non_null(m);
    assert_string_equal(jstr(m, "status"), "interrupted");
    assert_point_ok(point(m, 0));
    assert_point_files(f, "1_services");
    json_t *p1 = point(m, 1);
    if (strcmp(phase, "stopping")) {
        /* interrupted before its data was complete */
        assert_string_equal(jstr(p1, "status"), "failed");
        assert_non_null(strstr(jstr(p1, "reason"), "interrupted"));
    } else {
        /* everything was collected; only the stop was under way */
        assert_point_ok(p1);
        assert_point_files(f, "2_services");
    }
    char *d2 = path_in(f, "2_services");
    assert_no_temp_files(d2);
    free(d2);
    json_decref(m);
}

static void test_sigint_while_starting(void **state)
{
    sigint_at(*state, "starting", "--ready-after-ms 60000", "1", "2", NULL);
}

static void test_sigint_in_the_warm_up(void **state)
{
    sigint_at(*state, "warm-up", "", "3", "2", NULL);
}

static void test_sigint_in_the_window(void **state)
{
    sigint_at(*state, "profiling", "", "1", "3", NULL);
}

static void test_sigint_while_fetching_the_profile(void **state)
{
    const char *extra[] = {"--fetch-timeout", "60", NULL};
    sigint_at(*state, "fetching profile", "--hang-profile", "1", "2", extra);
}

/* a hanging /debug/pprof/threads with a 60 s allowance: the signal must end the fetch */
static void test_sigint_while_collecting(void **state)
{
    const char *extra[] = {"--fetch-timeout", "60", NULL};
    sigint_at(*state, "collecting", "--hang-threads", "1", "2", extra);
}

static void test_sigint_while_stopping(void **state)
{
    sigint_at(*state, "stopping", "--term-delay-ms 3000", "1", "2", NULL);
}

/* The fake target's profile padded to at least `bytes` (see fake_target.c). */
static size_t fake_profile_size(size_t bytes)
{
    size_t maps = strlen("00400000-00401000 r-xp 00000000 00:00 0 /fake_target\n");
    size_t len = 11 * sizeof(uintptr_t) + maps;
    while (len < bytes)
        len += maps;
    return len;
}

/* Every results file that exists under a point folder is whole. Returns the files checked. */
static int check_point_dir(const char *dir, const char *configs, int services)
{
    int checked = 0;
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/cpu.prof", dir);
    if (stat(path, &st) == 0) {
        assert_int_equal((size_t)st.st_size, fake_profile_size(1 << 20));
        checked++;
    }
    snprintf(path, sizeof path, "%s/stats.json", dir);
    if (access(path, F_OK) == 0) {
        json_t *s = tu_json(path);
        assert_non_null(s);
        assert_int_equal(json_integer_value(json_object_get(s, "services")), services);
        json_decref(s);
        checked++;
    }
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    char *text = tu_read(path);
    if (text) {
        char src[1024];
        snprintf(src, sizeof src, "%s/%d_services.yaml", configs, services);
        char *want = tu_read(src);
        assert_string_equal(text, want);
        free(want);
        free(text);
        checked++;
    }
    snprintf(path, sizeof path, "%s/thread_count.txt", dir);
    if ((text = tu_read(path))) {
        char *end;
        assert_true(strtol(text, &end, 10) > 0);
        assert_string_equal(end, "\n");
        free(text);
        checked++;
    }
    snprintf(path, sizeof path, "%s/threads.txt", dir);
    if ((text = tu_read(path))) {
        assert_true(tu_threads_header(text) > 0);
        assert_true(text[strlen(text) - 1] == '\n');
        free(text);
        checked++;
    }
    snprintf(path, sizeof path, "%s/metrics.prom", dir);
    if ((text = tu_read(path))) {
        assert_string_equal(text, "# TYPE fake_up gauge\nfake_up 1\n");
        free(text);
        checked++;
    }
    return checked;
}

static void test_sigkill_of_scaleprof_at_random_moments_leaves_only_whole_files(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3,4");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config} --profile-bytes 1048576", fake);
    srand((unsigned)getpid());
    int tries = 5, checked = 0, manifests = 0;
    for (int t = 0; t < tries; t++) {
        snprintf(f->out, sizeof f->out, "%s/results-%d", f->dir, t);
        char *argv[32];
        sweep_argv(f, argv, "0", "1", NULL);
        f->sweep_pid = tu_spawn(argv, f->log);
        long delay = 300 + rand() % 5000; /* from the first point's start to past the end */
        sleep_ms(delay);
        kill(f->sweep_pid, SIGKILL);
        tu_wait(f->sweep_pid, 10);
        f->sweep_pid = 0;
        /* the target dies with scaleprof (PR_SET_PDEATHSIG); bounded wait for it */
        pid_t pids[8];
        double end = now_s() + 5;
        while (tu_pids_with(f->out, pids, 8) > 0 && now_s() < end)
            sleep_ms(20);
        assert_int_equal(tu_pids_with(f->out, pids, 8), 0);
        char path[1024];
        snprintf(path, sizeof path, "%s/sweep.json", f->out);
        if (access(path, F_OK) == 0) {
            json_t *m = tu_json(path);
            assert_non_null(m);
            json_decref(m);
            manifests++;
            checked++;
        }
        for (int n = 1; n <= 4; n++) {
            snprintf(path, sizeof path, "%s/%d_services", f->out, n);
            if (access(path, F_OK) == 0)
                checked += check_point_dir(path, f->configs, n);
        }
        printf("# SIGKILL after %ld ms: files checked so far %d\n", delay, checked);
    }
    assert_true(manifests >= 1);
    assert_true(checked >= tries);
}

static void test_gen_refuses_to_overwrite_without_force(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2");
    char p1[600], p5[600];
    snprintf(p1, sizeof p1, "%s/1_services.yaml", f->configs);
    snprintf(p5, sizeof p5, "%s/5_services.yaml", f->configs);
    assert_int_equal(truncate(p1, 10), 0); /* a user's edit, to be kept */
    char *before = tu_read(p1);
    struct stat st0, st1;
    assert_int_equal(stat(p1, &st0), 0);
    char *argv[] = {(char *)scaleprof, "gen", "--counts", "5,1", "--out", f->configs, NULL};
    assert_int_equal(tu_run(argv, f->log, 30), 1);
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "1_services.yaml exists; not overwriting without --force"));
    free(log);
    char *after = tu_read(p1);
    assert_string_equal(before, after);
    assert_int_equal(stat(p1, &st1), 0);
    assert_int_equal(st0.st_ino, st1.st_ino);
    assert_int_not_equal(access(p5, F_OK), 0); /* nothing at all was written */
    free(after);
    char *force[] = {(char *)scaleprof, "gen",   "--counts", "5,1",
                     "--force",         "--out", f->configs, NULL};
    assert_int_equal(tu_run(force, f->log, 30), 0);
    after = tu_read(p1);
    assert_true(strlen(after) > 10); /* --force: rewritten, as asked */
    assert_int_equal(access(p5, F_OK), 0);
    free(after);
    free(before);
}

static void test_sweep_force_moves_earlier_runs_aside_and_never_deletes(void **state)
{
    struct fixture *f = *state;
    gen(f, "1");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config}", fake);
    char *argv[32];
    sweep_argv(f, argv, "0", "1", NULL);
    assert_int_equal(tu_run(argv, f->log, 60), 0);
    char readme[600];
    snprintf(readme, sizeof readme, "%s/README.md", f->out);
    FILE *fp = fopen(readme, "w");
    fputs("mine\n", fp);
    fclose(fp);
    char *mp = path_in(f, "sweep.json");
    json_t *m1 = tu_json(mp);
    char *first = tu_read(mp);
    char *prof_path = path_in(f, "1_services/cpu.prof");
    char *prof1 = tu_read(prof_path);

    const char *force[] = {"--force", NULL};
    sweep_argv(f, argv, "0", "1", force);
    assert_int_equal(tu_run(argv, f->log, 60), 0);
    char aside[1024], rel[1100];
    snprintf(aside, sizeof aside, "%s.%s", f->out, jstr(m1, "started_at"));
    snprintf(rel, sizeof rel, "%s/sweep.json", aside);
    char *moved = tu_read(rel);
    assert_non_null(moved);
    assert_string_equal(moved, first);
    snprintf(rel, sizeof rel, "%s/1_services/cpu.prof", aside);
    char *moved_prof = tu_read(rel);
    assert_non_null(moved_prof);
    assert_string_equal(moved_prof, prof1);
    char *r = tu_read(readme);
    assert_string_equal(r, "mine\n"); /* unrelated files stay */
    free(r);
    snprintf(rel, sizeof rel, "%s/README.md", aside);
    assert_int_not_equal(access(rel, F_OK), 0);

    /* the second run's aside folder is taken already: the third --force must not touch it */
    json_t *m2 = tu_json(mp);
    char *second = tu_read(mp);
    char taken[1024];
    snprintf(taken, sizeof taken, "%s.%s", f->out, jstr(m2, "started_at"));
    if (strcmp(taken, aside)) { /* same second as the first run: already taken too */
        assert_int_equal(mkdir(taken, 0755), 0);
    }
    snprintf(rel, sizeof rel, "%s/keep", taken);
    fp = fopen(rel, "w");
    fputs("keep\n", fp);
    fclose(fp);
    assert_int_equal(tu_run(argv, f->log, 60), 0);
    char *kept = tu_read(rel);
    assert_non_null(kept);
    assert_string_equal(kept, "keep\n");
    free(kept);
    snprintf(rel, sizeof rel, "%s-1/sweep.json", taken);
    char *moved2 = tu_read(rel);
    if (!moved2)
        dump_log(f);
    assert_non_null(moved2);
    assert_string_equal(moved2, second);
    char *log = tu_read(f->log);
    assert_non_null(strstr(log, "moved the earlier run"));
    free(log);
    free(moved2);
    free(second);
    json_decref(m2);
    free(moved);
    free(moved_prof);
    free(prof1);
    free(prof_path);
    free(first);
    free(mp);
    json_decref(m1);
}

/* analyze: one truncated cpu.prof and one corrupt stats.json are named and the rest is
 * analysed (exit 0); with only two service counts left the model cannot run (exit 2). */
static void test_analyze_names_damaged_points_and_goes_on(void **state)
{
    struct fixture *f = *state;
    gen(f, "1,2,3,4,5");
    snprintf(f->cmd, sizeof f->cmd, "%s --config {config} --burn-ms 5", fake);
    char *argv[32];
    /* a busy shared machine must not flag the points as contaminated (analyze skips those) */
    const char *share[] = {"--contaminated-share", "1000", NULL};
    sweep_argv(f, argv, "0", "1", share);
    int rc = tu_run(argv, f->log, 120);
    if (rc != 0)
        dump_log(f);
    assert_int_equal(rc, 0);
    char *prof = path_in(f, "2_services/cpu.prof");
    assert_int_equal(truncate(prof, 20), 0);
    free(prof);
    char *stats = path_in(f, "4_services/stats.json");
    FILE *fp = fopen(stats, "w");
    fputs("{\"services\": 4, \"cpu_ns\": ", fp);
    fclose(fp);
    free(stats);

    char alog[600];
    snprintf(alog, sizeof alog, "%s/analyze.log", f->dir);
    char *an[] = {(char *)scaleprof, "analyze", f->out, NULL};
    rc = tu_run(an, alog, 120);
    char *text = tu_read(alog);
    printf("# analyze with two damaged points (exit %d):\n%s\n", rc, text ? text : "");
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "2_services"));
    assert_non_null(strstr(text, "4_services"));
    free(text);
    char *report = path_in(f, "report/report.json");
    json_t *r = tu_json(report);
    assert_non_null(r);
    json_decref(r);
    free(report);

    /* two more corrupt stats.json: 2 and 5 remain, too few distinct N for the model */
    for (int n = 1; n <= 3; n += 2) {
        char rel[64];
        snprintf(rel, sizeof rel, "%d_services/stats.json", n);
        char *p = path_in(f, rel);
        fp = fopen(p, "w");
        fputs("not json\n", fp);
        fclose(fp);
        free(p);
    }
    snprintf(alog, sizeof alog, "%s/analyze2.log", f->dir);
    char out2[600];
    snprintf(out2, sizeof out2, "%s/report2", f->dir);
    char *an2[] = {(char *)scaleprof, "analyze", f->out, "--out", out2, NULL};
    rc = tu_run(an2, alog, 120);
    text = tu_read(alog);
    printf("# analyze with 2 of 5 points usable (exit %d):\n%s\n", rc, text ? text : "");
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "1_services/stats.json"));
    assert_non_null(strstr(text, "3_services/stats.json"));
    assert_non_null(strstr(text, "4_services/stats.json"));
    free(text);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_faults SCALEPROF FAKE_TARGET\n");
        return 2;
    }
    scaleprof = argv[1];
    fake = argv[2];
    fetch_global_init();
    /* orphans of what we start come to us, so a zombie left behind is visible */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (getenv("TEST_FILTER")) /* e.g. TEST_FILTER='*sigint*' */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_target_sigkilled_in_the_window_is_recorded_and_the_next_point_runs),
        T(test_target_never_ready_is_bounded_recorded_and_the_next_point_runs),
        T(test_hanging_profile_endpoint_is_bounded_by_the_fetch_timeout),
        T(test_disk_full_while_writing_a_point_fails_it_and_keeps_the_others),
        T(test_disk_full_on_a_small_tmpfs_fails_the_point_and_keeps_the_others),
        T(test_sigint_while_starting),
        T(test_sigint_in_the_warm_up),
        T(test_sigint_in_the_window),
        T(test_sigint_while_fetching_the_profile),
        T(test_sigint_while_collecting),
        T(test_sigint_while_stopping),
        T(test_sigkill_of_scaleprof_at_random_moments_leaves_only_whole_files),
        T(test_gen_refuses_to_overwrite_without_force),
        T(test_sweep_force_moves_earlier_runs_aside_and_never_deletes),
        T(test_analyze_names_damaged_points_and_goes_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
