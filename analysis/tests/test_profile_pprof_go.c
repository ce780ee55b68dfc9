/*
 * test_profile_pprof_go: the pprof backend on real profiles of every type a
 * Go server serves (cpu, heap, allocs, goroutine, mutex, block), written by
 * gopath/src/example.com/pprofdemo (built offline by meson). The program
 * reports what it did and measured in facts.txt (its own CPU time, bytes
 * kept, goroutines parked, time its goroutines waited), and the profiles are
 * checked against those facts, not against constants. The session is
 * offline: names, files and lines come from the profile's own tables, with no
 * binary opened. Exits 77 (skipped) only when meson found no `go`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "profile.h"

static char dir[256];
static struct profile_session *sess;

static struct fact {
    char name[64];
    long long value;
} facts[32];
static size_t nfacts;

static long long fact(const char *name)
{
    for (size_t i = 0; i < nfacts; i++)
        if (strcmp(facts[i].name, name) == 0)
            return facts[i].value;
    fail_msg("facts.txt has no %s", name);
    return 0;
}

static void load(const char *profile, struct profile *p)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof(path), "%s/%s.pb.gz", dir, profile);
    if (profile_load(sess, path, p, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(p->format, "pprof");
}

static bool has_func(const struct profile *p, size_t k, const char *name)
{
    const struct profile_sample *s = &p->samples[k];
    for (uint32_t j = 0; j < s->depth; j++)
        if (strcmp(profile_func(sess, p->frames[s->frame_index + j])->name, name) == 0)
            return true;
    return false;
}

/* Sum of measure m over the samples whose stack holds function name. */
static int64_t sum_with(const struct profile *p, const char *name, enum profile_measure m)
{
    int64_t sum = 0;
    for (size_t k = 0; k < p->nsamples; k++)
        if (has_func(p, k, name))
            sum += p->samples[k].v[m];
    return sum;
}

static const struct profile_func *func_named(struct profile_session *s, const char *name)
{
    for (size_t id = 0; id < profile_func_count(s); id++)
        if (strcmp(profile_func(s, (uint32_t)id)->name, name) == 0)
            return profile_func(s, (uint32_t)id);
    fail_msg("no function %s in the session", name);
    return NULL;
}

/* Number of the first line after line `after` of PPROFDEMO_SRC/file that
 * starts with text. */
static int source_line_after(const char *file, int after, const char *text)
{
    char path[512], line[512];
    snprintf(path, sizeof(path), "%s/%s", PPROFDEMO_SRC, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    for (int n = 1; fgets(line, sizeof(line), f); n++)
        if (n > after && strncmp(line, text, strlen(text)) == 0) {
            fclose(f);
            return n;
        }
    fclose(f);
    fail_msg("%s has no line starting %s", path, text);
    return 0;
}

static int source_line(const char *file, const char *text)
{
    return source_line_after(file, 0, text);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* |got - want| <= tol * want */
static void assert_near(const char *what, int64_t got, int64_t want, double tol)
{
    double d = (double)got - (double)want;
    if (d < 0)
        d = -d;
    if (d > tol * (double)want)
        fail_msg("%s: %" PRId64 ", want %" PRId64 " within %.0f%%", what, got, want, tol * 100);
}

/* A blocking delay the profile recorded against the wait the program timed
 * around the same calls: the timed wait also holds the time from being woken
 * to running again, which a loaded machine stretches, so the profile may be
 * short of it, never much over. */
static void assert_wait(const char *what, int64_t got, int64_t waited)
{
    if ((double)got > 1.10 * (double)waited || (double)got < 0.60 * (double)waited)
        fail_msg("%s: %" PRId64 " ns, want 60%%–110%% of the %" PRId64 " ns waited", what, got,
                 waited);
}

static void test_go_cpu_profile_matches_the_cpu_the_program_measured(void **state)
{
    struct profile p;
    load("cpu", &p);
    assert_int_equal(p.kind, PROFILE_CPU);
    assert_int_equal(p.measures, 1u << PROFILE_SAMPLES | 1u << PROFILE_CPU_NS);
    assert_int_equal(p.period_ns, 10000000); /* Go: 100 Hz */
    assert_true(p.duration_ns > 0);
    assert_int_equal(p.total[PROFILE_CPU_NS], p.total[PROFILE_SAMPLES] * p.period_ns);
    assert_near("CPU ns in the profile", p.total[PROFILE_CPU_NS], fact("cpu_ns"), 0.20);
    /* the loop calls both burners with equal work: each about half */
    int64_t total = p.total[PROFILE_CPU_NS];
    assert_near("main.burnInline's CPU", sum_with(&p, "main.burnInline", PROFILE_CPU_NS), total / 2,
                0.5);
    assert_near("spin.Burn's CPU", sum_with(&p, "example.com/pprofdemo/spin.Burn", PROFILE_CPU_NS),
                total / 2, 0.5);
    for (size_t i = 0; i < p.nframes; i++) /* every frame named by the profile itself */
        assert_true(profile_func(sess, p.frames[i])->resolved);
    profile_free(&p);
}

/* main.mix is inlined into main.burnInline: its samples carry both, mix
 * first (innermost), in one location of the profile. */
static void test_go_cpu_profile_keeps_inlined_calls_as_frames(void **state)
{
    struct profile p;
    load("cpu", &p);
    int64_t inlined = 0;
    for (size_t k = 0; k < p.nsamples; k++) {
        const struct profile_sample *s = &p.samples[k];
        for (uint32_t j = 0; j + 1 < s->depth; j++)
            if (strcmp(profile_func(sess, p.frames[s->frame_index + j])->name, "main.mix") == 0) {
                assert_string_equal(profile_func(sess, p.frames[s->frame_index + j + 1])->name,
                                    "main.burnInline");
                inlined += s->v[PROFILE_CPU_NS];
            }
    }
    /* mix is burnInline's whole loop body */
    assert_true(inlined > sum_with(&p, "main.burnInline", PROFILE_CPU_NS) / 4);
    profile_free(&p);
}

static void test_go_names_files_and_lines_come_from_the_profile_alone(void **state)
{
    struct profile p;
    load("cpu", &p);
    static const struct {
        const char *name, *file, *src, *decl;
    } want[] = {
        {"main.burnInline", "example.com/pprofdemo/main.go", "main.go", "func burnInline("},
        {"main.mix", "example.com/pprofdemo/main.go", "main.go", "func mix("},
        {"example.com/pprofdemo/spin.Burn", "example.com/pprofdemo/spin/spin.go", "spin/spin.go",
         "func Burn("},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct profile_func *f = func_named(sess, want[i].name);
        assert_true(f->resolved);
        assert_non_null(f->file);
        if (!ends_with(f->file, want[i].file))
            fail_msg("%s: file %s, want …%s", f->name, f->file, want[i].file);
        /* start_line when the profile has it (Go 1.20+), else the first
         * line of the body that ran: within the function either way */
        int decl = source_line(want[i].src, want[i].decl);
        int end = source_line_after(want[i].src, decl, "}\n");
        if (f->line < decl || f->line >= end)
            fail_msg("%s: line %d, want within %s:%d-%d", f->name, f->line, want[i].src, decl, end);
    }
    const struct profile_func *rt = func_named(sess, "runtime.main");
    assert_true(ends_with(rt->file, "runtime/proc.go") && rt->line > 0);
    profile_free(&p);
}

/* Own code, Go's rule: package main and dotted import paths; not the
 * runtime, net/http or sync. The mutex profile alone has no runtime.*
 * function: it is still read as Go (by its .go files). */
static void test_go_own_code_is_main_and_dotted_packages(void **state)
{
    struct profile_options o = {.offline = true};
    struct profile_session *alone;
    char err[256], path[512];
    assert_int_equal(profile_session_open(&alone, &o, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/mutex.pb.gz", dir);
    struct profile p;
    if (profile_load(alone, path, &p, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(func_named(alone, "main.holdMutex")->own);
    assert_false(func_named(alone, "sync.(*Mutex).Unlock")->own);
    profile_free(&p);
    profile_session_close(alone);

    static const char *const profiles[] = {"cpu", "goroutine"};
    for (size_t i = 0; i < 2; i++) {
        load(profiles[i], &p);
        profile_free(&p);
    }
    assert_true(func_named(sess, "main.burnInline")->own);
    assert_true(func_named(sess, "example.com/pprofdemo/spin.Burn")->own);
    assert_true(func_named(sess, "main.parkOnChannel")->own);
    assert_false(func_named(sess, "runtime.main")->own);
    assert_false(func_named(sess, "runtime.gopark")->own);
    assert_false(func_named(sess, "net/http.(*Server).Serve")->own);
}

static void check_heap(const char *profile)
{
    struct profile p;
    load(profile, &p);
    assert_int_equal(p.kind, PROFILE_HEAP);
    assert_int_equal(p.measures, 1u << PROFILE_INUSE_BYTES | 1u << PROFILE_INUSE_OBJECTS |
                                     1u << PROFILE_ALLOC_BYTES | 1u << PROFILE_ALLOC_OBJECTS);
    assert_int_equal(p.period_ns, 0);
    /* Go samples one allocation per MemProfileRate bytes and scales: within
     * a few % here (4096 samples of the kept objects) */
    assert_near("main.allocKept in use", sum_with(&p, "main.allocKept", PROFILE_INUSE_BYTES),
                fact("kept_bytes"), 0.15);
    assert_near("main.allocKept objects", sum_with(&p, "main.allocKept", PROFILE_INUSE_OBJECTS),
                fact("kept_objects"), 0.15);
    assert_near("main.allocKept allocated", sum_with(&p, "main.allocKept", PROFILE_ALLOC_BYTES),
                fact("kept_bytes"), 0.15);
    assert_near("main.allocTransient allocated",
                sum_with(&p, "main.allocTransient", PROFILE_ALLOC_BYTES), fact("transient_bytes"),
                0.15);
    assert_true(sum_with(&p, "main.allocTransient", PROFILE_INUSE_BYTES) <
                fact("transient_bytes") / 20); /* dropped, collected */
    assert_true(p.total[PROFILE_INUSE_BYTES] >=
                sum_with(&p, "main.allocKept", PROFILE_INUSE_BYTES));
    profile_free(&p);
}

static void test_go_heap_profile_in_use_bytes_of_the_known_function(void **state)
{
    check_heap("heap");
}

static void test_go_allocs_profile_reads_as_a_heap_profile(void **state)
{
    check_heap("allocs");
}

static void test_go_goroutine_counts_are_exact(void **state)
{
    struct profile p;
    load("goroutine", &p);
    assert_int_equal(p.kind, PROFILE_GOROUTINE);
    assert_int_equal(p.measures, 1u << PROFILE_GOROUTINES);
    assert_int_equal(sum_with(&p, "main.parkOnChannel", PROFILE_GOROUTINES),
                     fact("parked_on_channel"));
    assert_int_equal(sum_with(&p, "main.parkInSelect", PROFILE_GOROUTINES),
                     fact("parked_in_select"));
    assert_int_equal(sum_with(&p, "net/http.(*Server).Serve", PROFILE_GOROUTINES), 1);
    /* plus main, writing the profile */
    assert_true(p.total[PROFILE_GOROUTINES] >=
                fact("parked_on_channel") + fact("parked_in_select") + 2);
    profile_free(&p);
}

static void test_go_mutex_profile_charges_the_unlocking_function(void **state)
{
    struct profile p;
    load("mutex", &p);
    assert_int_equal(p.kind, PROFILE_CONTENTION);
    assert_int_equal(p.measures, 1u << PROFILE_CONTENTIONS | 1u << PROFILE_DELAY_NS);
    int64_t n = sum_with(&p, "main.holdMutex", PROFILE_CONTENTIONS);
    int64_t delay = sum_with(&p, "main.holdMutex", PROFILE_DELAY_NS);
    /* each Unlock that wakes a waiter is one event, at most one per Lock;
     * the delay is the waiters' wait, which the program measured */
    assert_true(n >= 1 && n <= fact("mutex_locks"));
    assert_true(delay > 0 && delay <= fact("mutex_waited_ns") * 5 / 4);
    profile_free(&p);
}

static void test_go_block_profile_delay_matches_the_time_blocked(void **state)
{
    struct profile p;
    load("block", &p);
    assert_int_equal(p.kind, PROFILE_CONTENTION);
    int64_t n = sum_with(&p, "main.blockOnChannel", PROFILE_CONTENTIONS);
    assert_true(n >= 1 && n <= fact("block_rounds"));
    assert_wait("main.blockOnChannel delay", sum_with(&p, "main.blockOnChannel", PROFILE_DELAY_NS),
                fact("block_waited_ns"));
    assert_wait("main.holdMutex delay (waiting in Lock)",
                sum_with(&p, "main.holdMutex", PROFILE_DELAY_NS), fact("mutex_waited_ns"));
    profile_free(&p);
}

/* Runs the demo into dir, waiting at most 120 s; reads facts.txt. */
static int run_demo(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_pprof_go.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(PPROFDEMO, PPROFDEMO, "-out", dir, "-cpu", "1s", (char *)NULL);
        _exit(127);
    }
    int status = -1;
    for (int i = 0; i < 12000 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        status = -1;
    }
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "pprofdemo did not finish in 120 s\n");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "pprofdemo failed (status %d)\n", status);
        return -1;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/facts.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (nfacts < sizeof(facts) / sizeof(facts[0]) &&
           fscanf(f, "%63s %lld", facts[nfacts].name, &facts[nfacts].value) == 2)
        nfacts++;
    fclose(f);
    struct profile_options o = {.offline = true};
    char err[256];
    return profile_session_open(&sess, &o, err, sizeof(err));
}

static int remove_demo(void **state)
{
    profile_session_close(sess);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(d);
        rmdir(dir);
    }
    return 0;
}

int main(void)
{
    if (!PPROFDEMO[0]) {
        fprintf(stderr, "test_profile_pprof_go: no go toolchain when configured: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_cpu_profile_matches_the_cpu_the_program_measured),
        cmocka_unit_test(test_go_cpu_profile_keeps_inlined_calls_as_frames),
        cmocka_unit_test(test_go_names_files_and_lines_come_from_the_profile_alone),
        cmocka_unit_test(test_go_own_code_is_main_and_dotted_packages),
        cmocka_unit_test(test_go_heap_profile_in_use_bytes_of_the_known_function),
        cmocka_unit_test(test_go_allocs_profile_reads_as_a_heap_profile),
        cmocka_unit_test(test_go_goroutine_counts_are_exact),
        cmocka_unit_test(test_go_mutex_profile_charges_the_unlocking_function),
        cmocka_unit_test(test_go_block_profile_delay_matches_the_time_blocked),
    };
    return cmocka_run_group_tests(tests, run_demo, remove_demo);
}
