/*
 * pprof_live: refproxy's profiling endpoints against the real pprof clients,
 * on a live refproxy (4 workers, respond services) under wrk load:
 * google-pprof (perl) and go tool pprof on the live URLs, those two and the
 * standalone pprof (scripts/build_pprof.sh) on saved CPU and heap profiles,
 * the per-thread timers (every busy worker gets samples), and promtool on
 * the live /metrics. Each client test asserts that a data-plane function that
 * is hot under the load appears among the top entries by name.
 *
 * usage: pprof_live REFPROXY BUILD_PPROF_SCRIPT PPROF_OUTPUT B_SANITIZE
 * (B_SANITIZE is meson's b_sanitize: under a sanitizer malloc is not
 * tcmalloc's, and the heap test checks refproxy's explanation instead.)
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"

static const char *refproxy_bin, *build_pprof_script, *pprof_bin;
static bool sanitized; /* refproxy built with -Db_sanitize: malloc is not tcmalloc's */
static char wrk_bin[256];
static char workdir[64];

struct live {
    pid_t pid;
    int admin, svc[2];
    pid_t load;
};

static void run_dir_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", workdir, name);
}

static bool live_start(struct live *l, bool heap)
{
    memset(l, 0, sizeof(*l));
    l->admin = itest_free_port();
    l->svc[0] = itest_free_port();
    l->svc[1] = itest_free_port();
    char cfg[256], log[256];
    run_dir_path(cfg, sizeof(cfg), heap ? "heap.yaml" : "cpu.yaml");
    run_dir_path(log, sizeof(log), heap ? "refproxy-heap.log" : "refproxy.log");
    FILE *f = fopen(cfg, "w");
    if (!f)
        return false;
    fprintf(f,
            "prometheusAddr: \"127.0.0.1:%d\"\nworkers: 4\nlimits:\n  maxProfileSeconds: 20\n"
            "services:\n"
            "  - name: a\n    listenAddr: \"127.0.0.1:%d\"\n"
            "    respond: {status: 200, body: \"hello from a\\n\"}\n"
            "  - name: b\n    listenAddr: \"127.0.0.1:%d\"\n"
            "    respond: {status: 200, body: \"hello from b\\n\"}\n",
            l->admin, l->svc[0], l->svc[1]);
    fclose(f);
    char *argv[] = {(char *)refproxy_bin, "--config", cfg, heap ? "--heap-profile" : NULL, NULL};
    l->pid = itest_spawn(argv, log);
    if (l->pid < 0)
        return false;
    /* Readiness: the admin answers (it starts after the data plane). */
    return itest_wait_port(l->admin, l->pid, 10000);
}

static void live_stop(struct live *l)
{
    if (l->load > 0)
        itest_kill(l->load);
    if (l->pid > 0)
        itest_signal_wait(l->pid, SIGTERM, 15000);
    l->pid = l->load = 0;
}

struct thread_row {
    long tid;
    char name[16];
    unsigned long long cpu_ns;
    unsigned samples;
};

static size_t parse_threads(const char *body, struct thread_row *rows, size_t max)
{
    size_t n = 0;
    for (const char *line = body; line && *line && n < max;) {
        if (!strncmp(line, "# by prefix", 11))
            break;
        if (*line != '#') {
            struct thread_row *t = &rows[n];
            if (sscanf(line, "%ld\t%15[^\t]\t%*c\t%llu\t%u", &t->tid, t->name, &t->cpu_ns,
                       &t->samples) == 4)
                n++;
        }
        const char *eol = strchr(line, '\n');
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

/* CPU nanoseconds of the worker threads ("w0".."w3"), from /debug/pprof/threads. */
static double workers_cpu_ns(struct live *l)
{
    struct itest_resp r;
    struct thread_row rows[64];
    assert_int_equal(itest_get(l->admin, "/debug/pprof/threads", &r), 200);
    size_t n = parse_threads(r.body, rows, 64);
    double cpu = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].name[0] == 'w')
            cpu += (double)rows[i].cpu_ns;
    itest_resp_free(&r);
    return cpu;
}

/* wrk on service a for at most `seconds` (killed earlier by load_stop):
 * SO_REUSEPORT spreads its 64 connections over the 4 workers. */
static void load_start(struct live *l, int seconds)
{
    char d[16], url[64], log[256];
    snprintf(d, sizeof(d), "%ds", seconds);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", l->svc[0]);
    run_dir_path(log, sizeof(log), "wrk.log");
    char *argv[] = {(char *)wrk_bin, "-t2", "-c64", "-d", d, url, NULL};
    l->load = itest_spawn(argv, log);
    assert_true(l->load > 0);
    /* Readiness: the workers are burning CPU (wrk's own output is buffered). */
    double cpu0 = workers_cpu_ns(l);
    for (int i = 0; i < 500; i++) {
        if (workers_cpu_ns(l) - cpu0 > 50e6)
            return;
        assert_int_equal(waitpid(l->load, NULL, WNOHANG), 0); /* still running */
        usleep(10000);
    }
    fail_msg("no load reached refproxy (see %s)", log);
}

static void load_stop(struct live *l)
{
    if (l->load > 0)
        itest_kill(l->load);
    l->load = 0;
}

/* Runs a shell command with a time limit, returning its stdout+stderr. */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[2400];
    snprintf(full, sizeof(full), "cd %s && PPROF_TMPDIR=%s/pp HOME=%s timeout 120 %s 2>&1", workdir,
             workdir, workdir, cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 == cap)
            out = realloc(out, cap *= 2);
    }
    out[len] = '\0';
    int rc = pclose(p);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fail_msg("command failed (%d): %s\n%s", rc, cmd, out);
    return out;
}

/* True when name is one of the first top_n entries of a pprof text report
 * (google-pprof --text, go tool pprof -top, pprof --top): entry lines start
 * with a number or a space and end with the function name. Compiler clones
 * ("conn_pump.part.0") count as their function. */
static bool top_has(const char *out, const char *name, int top_n)
{
    const char *line = out;
    int entries = 0;
    size_t nlen = strlen(name);
    bool in_table = false;
    while (line && *line && entries < top_n) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        /* The table starts after "Total:" (perl) or the "flat  flat%" header (go). */
        if (!in_table) {
            if (!strncmp(line, "Total:", 6) || strstr(line, "flat%"))
                in_table = true;
        } else if (len > 0) {
            entries++;
            const char *sp = line + len;
            while (sp > line && sp[-1] != ' ')
                sp--;
            size_t flen = (size_t)(line + len - sp);
            if (flen >= nlen && !strncmp(sp, name, nlen) && (flen == nlen || sp[nlen] == '.'))
                return true;
        }
        line = eol ? eol + 1 : NULL;
    }
    return false;
}

static void expect_top(const char *tool, const char *out, const char *name, int top_n)
{
    if (!top_has(out, name, top_n))
        fail_msg("%s: %s is not among the top %d entries:\n%.3000s", tool, name, top_n, out);
}

/* Saves an admin endpoint's body to workdir/name. */
static void save(struct live *l, const char *target, const char *name)
{
    struct itest_resp r;
    assert_int_equal(itest_get(l->admin, target, &r), 200);
    char path[256];
    run_dir_path(path, sizeof(path), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(r.body, 1, r.body_len, f), r.body_len);
    fclose(f);
    itest_resp_free(&r);
}

/* ---------- tests ---------- */

static struct live cpu_live;

static int group_setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "/tmp/pprof_live_XXXXXX");
    if (!mkdtemp(workdir))
        return -1;
    char pp[128];
    snprintf(pp, sizeof(pp), "%s/pp", workdir);
    mkdir(pp, 0700);
    return live_start(&cpu_live, false) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    live_stop(&cpu_live);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static void test_reexec_sets_per_thread_timers(void **state)
{
    (void)state;
    char path[64], env[8192];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)cpu_live.pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(env, 1, sizeof(env) - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (env[i] == '\0')
            env[i] = '\n';
    env[n] = '\0';
    assert_non_null(strstr(env, "CPUPROFILE_PER_THREAD_TIMERS=1\n"));
    assert_non_null(strstr(env, "CPUPROFILE_FREQUENCY=100\n"));
    assert_non_null(strstr(env, "HEAP_PROFILE_INUSE_INTERVAL=0\n"));
}

static void test_google_pprof_live_profile(void **state)
{
    (void)state;
    load_start(&cpu_live, 8);
    char *out = run("google-pprof --text --cum "
                    "'http://127.0.0.1:%d/debug/pprof/profile?seconds=2'",
                    cpu_live.admin);
    load_stop(&cpu_live);
    /* Every worker sample goes through loop_run: the top of the cumulative view. */
    expect_top("google-pprof live", out, "loop_run", 10);
    free(out);
}

static void test_go_pprof_live_profile(void **state)
{
    (void)state;
    load_start(&cpu_live, 8);
    char *out = run("go tool pprof -top -cum "
                    "'http://127.0.0.1:%d/debug/pprof/profile?seconds=2'",
                    cpu_live.admin);
    load_stop(&cpu_live);
    expect_top("go tool pprof live", out, "loop_run", 10);
    free(out);
}

static void test_saved_cpu_profile_all_tools(void **state)
{
    (void)state;
    char *built = run("%s %s", build_pprof_script, pprof_bin);
    free(built);
    load_start(&cpu_live, 8);
    save(&cpu_live, "/debug/pprof/profile?seconds=4", "cpu.prof");
    load_stop(&cpu_live);

    struct {
        const char *tool, *cum_fmt, *all_fmt;
    } tools[] = {
        {"google-pprof", "google-pprof --text --cum %s cpu.prof",
         "google-pprof --text --cum --nodecount=1000 %s cpu.prof"},
        {"go tool pprof", "go tool pprof -top -cum %s cpu.prof",
         "go tool pprof -top -cum -nodefraction=0 -nodecount=1000 %s cpu.prof"},
        {"pprof", "%s --top -cum %s cpu.prof", NULL},
    };
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
        char *out = i == 2 ? run(tools[i].cum_fmt, pprof_bin, refproxy_bin)
                           : run(tools[i].cum_fmt, refproxy_bin);
        expect_top(tools[i].tool, out, "loop_run", 10);
        free(out);
        /* The request parser runs for every request: named in the full list. */
        out = i == 2 ? run("%s --top -cum -nodefraction=0 -nodecount=1000 %s cpu.prof", pprof_bin,
                           refproxy_bin)
                     : run(tools[i].all_fmt, refproxy_bin);
        expect_top(tools[i].tool, out, "http_parse_request", 1000);
        free(out);
    }
}

static long profile_samples(const char *data, size_t len, unsigned long *period_us)
{
    const uintptr_t *w = (const uintptr_t *)data;
    size_t n = len / sizeof(uintptr_t), i = 5;
    if (n < 5 || w[0] != 0 || w[1] != 3)
        return -1;
    *period_us = w[3];
    long total = 0;
    while (i + 2 <= n) {
        if (w[i] == 0 && w[i + 1] == 1)
            return total;
        if (w[i + 1] > 256 || i + 2 + w[i + 1] > n)
            return -1;
        total += (long)w[i];
        i += 2 + w[i + 1];
    }
    return -1;
}

static void test_four_busy_workers_all_get_samples(void **state)
{
    (void)state;
    struct itest_resp before, prof, after;
    load_start(&cpu_live, 8);
    assert_int_equal(itest_get(cpu_live.admin, "/debug/pprof/threads", &before), 200);
    assert_int_equal(itest_get(cpu_live.admin, "/debug/pprof/profile?seconds=3", &prof), 200);
    assert_int_equal(itest_get(cpu_live.admin, "/debug/pprof/threads", &after), 200);
    load_stop(&cpu_live);

    struct thread_row b[64], a[64];
    size_t nb = parse_threads(before.body, b, 64), na = parse_threads(after.body, a, 64);
    unsigned long period_us = 0;
    long total = profile_samples(prof.body, prof.body_len, &period_us);
    assert_true(total > 0);
    assert_true(period_us > 0);
    int workers = 0;
    long counted = 0;
    double worker_cpu_ns = 0, worker_samples = 0;
    for (size_t i = 0; i < na; i++) {
        counted += a[i].samples;
        if (a[i].name[0] != 'w')
            continue;
        workers++;
        /* The per-thread timers put samples on each busy worker. */
        if (a[i].samples == 0)
            fail_msg("worker %s (tid %ld) has no samples:\n%s", a[i].name, a[i].tid, after.body);
        for (size_t j = 0; j < nb; j++)
            if (b[j].tid == a[i].tid)
                worker_cpu_ns += (double)(a[i].cpu_ns - b[j].cpu_ns);
        worker_samples += a[i].samples;
    }
    assert_int_equal(workers, 4);
    /* Every sample of the profile is accounted to some thread. */
    assert_int_equal(counted, total);
    /* Samples x period against the workers' CPU from the kernel over a window
     * that encloses the profile's (so CPU >= samples), loosely: noisy box. */
    double sampled_ns = worker_samples * (double)period_us * 1000.0;
    double ratio = sampled_ns / worker_cpu_ns;
    print_message("workers: %.0f samples x %lu us = %.3f s; schedstat %.3f s; ratio %.3f\n",
                  worker_samples, period_us, sampled_ns / 1e9, worker_cpu_ns / 1e9, ratio);
    assert_true(ratio > 0.6 && ratio < 1.1);
    itest_resp_free(&before);
    itest_resp_free(&prof);
    itest_resp_free(&after);
}

static void test_live_metrics_pass_promtool(void **state)
{
    (void)state;
    save(&cpu_live, "/metrics", "metrics.txt");
    char *out = run("promtool check metrics < metrics.txt");
    free(out);
}

static void test_heap_profile_live_and_saved(void **state)
{
    (void)state;
    struct live l;
    assert_true(live_start(&l, true));
    if (sanitized) {
        /* The heap profiler cannot see a sanitizer's malloc: refproxy says so. */
        struct itest_resp r;
        assert_int_equal(itest_get(l.admin, "/debug/pprof/heap", &r), 501);
        assert_non_null(strstr(r.body, "needs tcmalloc"));
        itest_resp_free(&r);
        live_stop(&l);
        return;
    }
    load_start(&l, 6);
    char *out =
        run("google-pprof --text --nodefraction=0 'http://127.0.0.1:%d/debug/pprof/heap'", l.admin);
    /* Connection buffers are the live data-plane allocations under load. They can be
     * small next to library start-up allocations, so no tool may drop small nodes. */
    expect_top("google-pprof heap live", out, "buf_reserve", 25);
    free(out);
    save(&l, "/debug/pprof/heap", "heap.prof");
    load_stop(&l);
    out = run("google-pprof --text --nodefraction=0 %s heap.prof", refproxy_bin);
    expect_top("google-pprof heap file", out, "buf_reserve", 25);
    free(out);
    out = run("go tool pprof -top -nodefraction=0 %s heap.prof", refproxy_bin);
    expect_top("go tool pprof heap file", out, "buf_reserve", 25);
    free(out);
    out = run("%s --top -nodefraction=0 %s heap.prof", pprof_bin, refproxy_bin);
    expect_top("pprof heap file", out, "buf_reserve", 25);
    free(out);
    live_stop(&l);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s REFPROXY BUILD_PPROF_SCRIPT PPROF_OUTPUT B_SANITIZE\n", argv[0]);
        return 2;
    }
    refproxy_bin = argv[1];
    build_pprof_script = argv[2];
    pprof_bin = argv[3];
    sanitized = strcmp(argv[4], "none") != 0;
    signal(SIGPIPE, SIG_IGN);
    /* itest_spawn execs a path: find wrk on PATH. */
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin"; p && *p;) {
        const char *colon = strchr(p, ':');
        int len = colon ? (int)(colon - p) : (int)strlen(p);
        snprintf(wrk_bin, sizeof(wrk_bin), "%.*s/wrk", len, p);
        if (access(wrk_bin, X_OK) == 0)
            break;
        wrk_bin[0] = '\0';
        p = colon ? colon + 1 : NULL;
    }
    if (!wrk_bin[0]) {
        fprintf(stderr, "pprof_live: wrk is not installed (Debian package wrk)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reexec_sets_per_thread_timers),
        cmocka_unit_test(test_live_metrics_pass_promtool),
        cmocka_unit_test(test_four_busy_workers_all_get_samples),
        cmocka_unit_test(test_google_pprof_live_profile),
        cmocka_unit_test(test_go_pprof_live_profile),
        cmocka_unit_test(test_saved_cpu_profile_all_tools),
        cmocka_unit_test(test_heap_profile_live_and_saved),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
