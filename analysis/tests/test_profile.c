/*
 * test_profile: the gperftools readers (raw and through the profile
 * interface), the libdwfl symbolizer and `top`, against real profiles of
 * tests/hotspots.c (PIE, non-PIE, heap) and against truncated and corrupt
 * files. top.c is included to reach its static helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include TOP_SRC

#include "profile_format.h"
#include "profile_gperftools.h"
#include "symbolize.h"

static char tmpdir[256];

/* Runs prog with one extra environment assignment pair set, waits at most 120 s
 * (killing it past that). Returns the exit status or -1. */
static int run(const char *prog, const char *arg, const char *k1, const char *v1, const char *k2,
               const char *v2)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (k1)
            setenv(k1, v1, 1);
        if (k2)
            setenv(k2, v2, 1);
        execl(prog, prog, arg, (char *)NULL);
        _exit(127);
    }
    int status;
    for (int i = 0; i < 12000; i++) { /* 120 s in 10 ms steps */
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* Line in hotspots.c where `name(` is defined (the line naming it). */
static int source_line(const char *name)
{
    FILE *f = fopen(HOTSPOTS_SRC, "r");
    assert_non_null(f);
    char line[512], pat[128];
    snprintf(pat, sizeof(pat), "NOINLINE void %s(", name);
    int n = 0, found = 0;
    while (fgets(line, sizeof(line), f)) {
        n++;
        if (strstr(line, pat)) {
            found = n;
            break;
        }
    }
    fclose(f);
    assert_true(found > 0);
    return found;
}

static const struct top_row *row_named(const struct top_table *t, const struct profile_session *s,
                                       const char *name, size_t *rank)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(profile_func(s, t->rows[i].func)->name, name) == 0) {
            *rank = i;
            return &t->rows[i];
        }
    return NULL;
}

static void profile_hotspots(const char *prog, const char *out)
{
    assert_int_equal(run(prog, "1.0", "CPUPROFILE", out, "CPUPROFILE_FREQUENCY", "250"), 0);
}

/* The three burn_* functions are the top three by flat samples, in order, with
 * their source file:line, and in roughly their 6:3:1 ratio. */
static void check_hotspots(const char *prog, const char *out)
{
    profile_hotspots(prog, out);
    char err[512];
    struct gperf_profile raw;
    assert_int_equal(gperf_read(out, &raw, err, sizeof(err)), 0);
    assert_int_equal(raw.kind, GPERF_CPU);
    assert_int_equal(raw.period_us, 4000);
    assert_true(raw.total[0] > 100); /* ~1 s at 250 Hz */
    assert_true(raw.nmaps > 0);
    struct profile_session *s;
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    if (profile_load(s, out, &p, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(p.format, "gperftools");
    assert_int_equal(p.kind, PROFILE_CPU);
    assert_int_equal(p.period_ns, 4000000);
    assert_int_equal(p.total[PROFILE_SAMPLES], (int64_t)raw.total[0]);
    assert_int_equal(p.total[PROFILE_CPU_NS], (int64_t)raw.total[0] * 4000000);
    gperf_free(&raw);
    struct top_table t;
    assert_int_equal(top_compute(&p, s, PROFILE_SAMPLES, false, &t), 0);
    assert_int_equal(t.total, p.total[PROFILE_SAMPLES]);
    const char *names[3] = {"burn_sixty", "burn_thirty", "burn_ten"};
    const struct top_row *r[3];
    for (int i = 0; i < 3; i++) {
        size_t rank;
        r[i] = row_named(&t, s, names[i], &rank);
        assert_non_null(r[i]);
        assert_int_equal(rank, (size_t)i);
        const struct profile_func *f = profile_func(s, r[i]->func);
        assert_true(f->own); /* in hotspots itself, not libc */
        assert_non_null(f->file);
        const char *slash = strrchr(f->file, '/');
        assert_string_equal(slash ? slash + 1 : f->file, "hotspots.c");
        int want = source_line(names[i]);
        assert_true(f->line >= want && f->line <= want + 1);
        /* main calls them, so main's cum covers all three */
    }
    double r1 = (double)r[0]->flat / (double)r[1]->flat;
    double r2 = (double)r[1]->flat / (double)r[2]->flat;
    assert_true(r1 > 1.4 && r1 < 2.8);
    assert_true(r2 > 1.8 && r2 < 5.0);
    size_t rank;
    const struct top_row *m = row_named(&t, s, "main", &rank);
    assert_non_null(m);
    assert_true(m->cum >= r[0]->flat + r[1]->flat + r[2]->flat);
    free(t.rows);
    profile_free(&p);
    profile_session_close(s);
}

static void test_top_names_hotspots_in_order_pie(void **state)
{
    char out[300];
    snprintf(out, sizeof(out), "%s/cpu_pie.prof", tmpdir);
    check_hotspots(HOTSPOTS_PIE, out);
}

static void test_top_names_hotspots_in_order_non_pie(void **state)
{
    char out[300];
    snprintf(out, sizeof(out), "%s/cpu_nopie.prof", tmpdir);
    check_hotspots(HOTSPOTS_NOPIE, out);
}

/* The command prints pprof's columns and the hottest function first. */
static void test_cmd_top_prints_pprof_layout(void **state)
{
    char prof[300], txt[300];
    snprintf(prof, sizeof(prof), "%s/cpu_pie.prof", tmpdir);
    snprintf(txt, sizeof(txt), "%s/top.txt", tmpdir);
    struct stat st;
    if (stat(prof, &st) != 0)
        profile_hotspots(HOTSPOTS_PIE, prof);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 1);
    close(fd);
    char *argv[] = {"top", prof, "-n", "5", NULL};
    int rc = cmd_top(4, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    FILE *f = fopen(txt, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_true(strncmp(line, "Total: ", 7) == 0 && strstr(line, "samples"));
    assert_non_null(fgets(line, sizeof(line), f));
    assert_non_null(strstr(line, "burn_sixty"));
    int rows = 1;
    while (fgets(line, sizeof(line), f))
        rows++;
    fclose(f);
    assert_int_equal(rows, 5);

    char *bad[] = {"top", "/nonexistent/cpu.prof", NULL};
    assert_int_equal(cmd_top(2, bad), 2);
}

/* Every truncation of a real profile is an error naming the file; none crash. */
static void test_truncated_cpu_profile_is_an_error(void **state)
{
    char prof[300];
    snprintf(prof, sizeof(prof), "%s/cpu_pie.prof", tmpdir);
    struct stat st;
    if (stat(prof, &st) != 0)
        profile_hotspots(HOTSPOTS_PIE, prof);
    FILE *f = fopen(prof, "rb");
    assert_non_null(f);
    assert_int_equal(fstat(fileno(f), &st), 0);
    size_t len = (size_t)st.st_size;
    unsigned char *data = malloc(len);
    assert_int_equal(fread(data, 1, len, f), len);
    fclose(f);
    /* find where the maps text starts: the bytes after the 0,1,0 trailer */
    size_t maps_at = 0;
    for (size_t off = 40; off + 24 <= len; off += 8) {
        uint64_t w[3];
        memcpy(w, data + off, sizeof(w));
        if (w[0] == 0 && w[1] == 1 && w[2] == 0) {
            maps_at = off + 24;
            break;
        }
    }
    assert_true(maps_at > 40);
    char err[512];
    struct gperf_profile p;
    size_t step = maps_at / 200 + 1;
    for (size_t cut = 0; cut < maps_at; cut += (cut < 64 ? 1 : step)) {
        assert_int_equal(gperf_parse("cut.prof", data, cut, &p, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "cut.prof"));
        assert_null(p.samples);
    }
    assert_int_equal(gperf_parse("whole.prof", data, maps_at, &p, err, sizeof(err)), 0);
    gperf_free(&p);
    free(data);
}

/* Corrupt binary profiles, one row per way to be wrong. */
static void test_corrupt_cpu_profiles_are_errors(void **state)
{
    static const struct {
        uint64_t w[12];
        size_t n;
        const char *want;
        const char *why;
    } rows[] = {
        {{1, 3, 0, 4000, 0, 0, 1, 0}, 8, "offset 0", "first header word must be 0"},
        {{0, 3, 7, 4000, 0, 0, 1, 0}, 8, "version", "only version 0 exists"},
        {{0, 3, 0, 0, 0, 0, 1, 0}, 8, "period", "a zero period cannot scale samples"},
        {{0, 3, 0, 4000, 0, 5, 99999, 1}, 8, "depth", "depth above the limit"},
        {{0, 3, 0, 4000, 0, 5, 0, 1}, 8, "depth", "an empty stack is not a sample"},
        {{0, 3, 0, 4000, 0, 5, 3, 0x1000, 0x2000}, 9, "truncated", "stack runs past the end"},
        {{0, 3, 0, 4000, 0, 5, 1, 0x1000}, 8, "end-of-data", "missing 0,1,0 trailer"},
        {{0, 999, 0, 4000, 0, 0, 1, 0}, 8, "offset 0", "header longer than the file"},
        {{0, 3, 0, 4000, 0, (uint64_t)1 << 50, 1, 0x1000, 0, 1, 0},
         11,
         "count",
         "implausible sample count"},
    };
    char err[512];
    struct gperf_profile p;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = gperf_parse("bad.prof", rows[i].w, rows[i].n * 8, &p, err, sizeof(err));
        if (rc != -1 || !strstr(err, rows[i].want) || !strstr(err, "bad.prof"))
            fail_msg("row %zu (%s): rc %d err '%s'", i, rows[i].why, rc, err);
    }
    /* and one good minimal profile: one sample, trailer, one maps line */
    unsigned char buf[256];
    uint64_t w[] = {0, 3, 0, 10000, 0, 7, 2, 0x401000, 0x401100, 0, 1, 0};
    memcpy(buf, w, sizeof(w));
    const char *maps = "00400000-00402000 r-xp 00000000 08:01 1234 /bin/true\n";
    memcpy(buf + sizeof(w), maps, strlen(maps));
    assert_int_equal(gperf_parse("ok.prof", buf, sizeof(w) + strlen(maps), &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.nsamples, 1);
    assert_int_equal(p.total[0], 7);
    assert_int_equal(p.pcs[0], 0x401000);
    assert_int_equal(p.pcs[1], 0x4010ff); /* caller pc minus 1 */
    assert_int_equal(p.nmaps, 1);
    assert_string_equal(p.maps[0].path, "/bin/true");
    assert_non_null(gperf_find_map(&p, 0x401000));
    assert_null(gperf_find_map(&p, 0x402000));
    gperf_free(&p);
}

static const char *heap_file(char *out, size_t len)
{
    snprintf(out, len, "%s/heap.0001.heap", tmpdir);
    return out;
}

/* The heap profile of hotspots_heap: keep_three holds 3 MiB, keep_one 1 MiB. */
static void test_heap_profile_names_live_allocations(void **state)
{
    char prefix[300], path[300];
    snprintf(prefix, sizeof(prefix), "%s/heap", tmpdir);
    assert_int_equal(run(HOTSPOTS_HEAP, NULL, "HEAPPROFILE", prefix, NULL, NULL), 0);
    char err[512];
    struct gperf_profile raw;
    if (gperf_read(heap_file(path, sizeof(path)), &raw, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(raw.kind, GPERF_HEAP);
    assert_true(raw.nmaps > 0);
    assert_true(raw.heap_header[1] >= 4 * 1048576);
    gperf_free(&raw);
    struct profile_session *s;
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    if (profile_load(s, path, &p, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(p.kind, PROFILE_HEAP);
    assert_int_equal(top_measure(&p, false, false), PROFILE_INUSE_BYTES);
    struct top_table t;
    assert_int_equal(top_compute(&p, s, PROFILE_INUSE_BYTES, false, &t), 0);
    size_t r3, r1;
    const struct top_row *three = row_named(&t, s, "keep_three", &r3);
    const struct top_row *one = row_named(&t, s, "keep_one", &r1);
    assert_non_null(three);
    assert_non_null(one);
    assert_true(r3 < r1);
    assert_int_equal(three->flat, 48 * 65536); /* the heap profiler records every allocation */
    assert_int_equal(one->flat, 16 * 65536);
    free(t.rows);
    profile_free(&p);
    profile_session_close(s);
}

static void test_corrupt_heap_profiles_are_errors(void **state)
{
    static const struct {
        const char *text, *want, *why;
    } rows[] = {
        {"heap profle: 1: 2 [3: 4] @ heapprofile\n", "bad.heap:1", "wrong magic"},
        {"heap profile: 1: x [3: 4] @ heapprofile\n", "bad.heap:1", "non-numeric total"},
        {"heap profile: 1: 2 [3: 4] @ heapprofile\n1: 2 [3: 4] @ 0xzz\n", "bad.heap:2",
         "bad address"},
        {"heap profile: 1: 2 [3: 4] @ heapprofile\n1: 2 [3: 4]\n", "bad.heap:2", "no stack"},
        {"heap profile: 1: 2 [3: 4] @ heapprofile\n1: 2 [3: 4] @\n", "bad.heap:2", "empty stack"},
        {"heap profile: 1: 2 [3: 4] @ heapprofile\n1: 99999999999999999999 [3: 4] @ 0x1\n",
         "bad.heap:2", "overflowing number"},
        {"heap profile: 1: 2 [3: ", "bad.heap:1", "truncated header"},
    };
    char err[512];
    struct gperf_profile p;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = gperf_parse("bad.heap", rows[i].text, strlen(rows[i].text), &p, err, sizeof(err));
        if (rc != -1 || !strstr(err, rows[i].want))
            fail_msg("row %zu (%s): rc %d err '%s'", i, rows[i].why, rc, err);
    }
    const char *ok = "heap profile: 2: 96 [ 3: 128] @ heapprofile\n"
                     "   2:   96 [   3:  128] @ 0x401000 0x401200\n\n"
                     "MAPPED_LIBRARIES:\n00400000-00402000 r-xp 00000000 08:01 1 /bin/true\n";
    assert_int_equal(gperf_parse("ok.heap", ok, strlen(ok), &p, err, sizeof(err)), 0);
    assert_int_equal(p.nsamples, 1);
    assert_int_equal(p.total[1], 96);
    assert_int_equal(p.total[3], 128);
    assert_int_equal(p.pcs[1], 0x4011ff);
    assert_int_equal(p.nmaps, 1);
    gperf_free(&p);
}

/* Values the raw parser accepts (unsigned 64-bit) but no int64 measure can
 * hold: each is refused through the profile interface with the sample named,
 * never wrapped. One row per way to overflow. */
static void test_gperftools_values_that_overflow_int64_are_errors(void **state)
{
    /* CPU: period 4294967295 µs is 4.29e12 ns, so 2^40 samples overflow in
     * ns, and two samples of 2,000,000 (8.6e18 ns each) overflow the total. */
    static const uint64_t cpu_product[] = {0, 3,      0, 4294967295u, 0, (uint64_t)1 << 40,
                                           1, 0x1000, 0, 1,           0};
    static const uint64_t cpu_total[] = {0,      3,       0, 4294967295u, 0, 2000000, 1,
                                         0x1000, 2000000, 1, 0x1000,      0, 1,       0};
    static const struct {
        const void *data;
        size_t len;
        const char *want, *why;
    } rows[] = {
        {cpu_product, sizeof(cpu_product),
         "big.prof: sample 0: 1099511627776 samples overflow in ns", "samples x period"},
        {cpu_total, sizeof(cpu_total), "big.prof: sample 1: the total of cpu/nanoseconds overflows",
         "the CPU total"},
        {"heap profile: 1: 2 [3: 4] @ heapprofile\n1: 9223372036854775808 [3: 4] @ 0x1\n", 0,
         "big.prof: sample 0: value 9223372036854775808 is too large", "a value above INT64_MAX"},
        {"heap profile: 1: 2 [3: 4] @ heapprofile\n5000000000000000000: 1 [0: 0] @ 0x1\n"
         "5000000000000000000: 1 [0: 0] @ 0x2\n",
         0, "big.prof: sample 1: the total of inuse_objects/count overflows", "a heap total"},
    };
    char err[512];
    struct profile_session *s;
    struct profile_options o = {.offline = true};
    assert_int_equal(profile_session_open(&s, &o, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct profile p;
        size_t len = rows[i].len ? rows[i].len : strlen(rows[i].data);
        int rc = profile_load_mem(s, "big.prof", rows[i].data, len, &p, err, sizeof(err));
        if (rc != -1 || strcmp(err, rows[i].want) != 0)
            fail_msg("row %zu (%s): rc %d err '%s'", i, rows[i].why, rc, err);
        assert_int_equal(p.nsamples, 0); /* zeroed on error */
    }
    profile_session_close(s);
}

/* An address no mapping covers prints as 0x… and is a function of its own. */
static void test_unresolved_address_prints_hex(void **state)
{
    uint64_t w[] = {0, 3, 0, 10000, 0, 3, 1, 0xdead0000, 0, 1, 0};
    char err[512];
    struct profile_session *s;
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    assert_int_equal(profile_load_mem(s, "x.prof", w, sizeof(w), &p, err, sizeof(err)), 0);
    assert_int_equal(p.nsamples, 1);
    assert_int_equal(p.samples[0].depth, 1);
    uint32_t id = p.frames[0];
    assert_string_equal(profile_func(s, id)->name, "0xdead0000");
    assert_false(profile_func(s, id)->resolved);
    assert_false(profile_func(s, id)->own);
    assert_int_equal(profile_resolve(s, 0xdead0000), id); /* cached */
    profile_free(&p);
    profile_session_close(s);
}

/* Data no backend recognizes is an error that names the file and says which
 * formats are read; the gperftools backend claims anything starting with a
 * zero word, so a damaged CPU profile still gets its own precise message. */
static void test_unknown_format_is_named(void **state)
{
    char err[512];
    struct profile_session *s;
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    const char junk[] = "#!/bin/sh\necho not a profile\n";
    assert_int_equal(profile_load_mem(s, "junk.prof", junk, sizeof(junk) - 1, &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "junk.prof: offset 0: not a profile format"));
    assert_null(profile_format_of(junk, sizeof(junk) - 1));
    uint64_t cut[] = {0, 3};
    assert_int_equal(profile_load_mem(s, "cut.prof", cut, sizeof(cut), &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cut.prof: truncated CPU profile header"));
    assert_int_equal(profile_load_mem(s, "empty.prof", "", 0, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty.prof: empty file"));
    profile_session_close(s);
}

/* --own REGEX decides what is the program's own code, whatever its module. */
static void test_own_regex_overrides_the_module_rule(void **state)
{
    char prof[300];
    snprintf(prof, sizeof(prof), "%s/cpu_pie.prof", tmpdir);
    struct stat st;
    if (stat(prof, &st) != 0)
        profile_hotspots(HOTSPOTS_PIE, prof);
    char err[512];
    struct profile_options o = {.own_regex = "^burn_(sixty|ten)$"};
    struct profile_session *s;
    assert_int_equal(profile_session_open(&s, &o, err, sizeof(err)), 0);
    struct profile p;
    assert_int_equal(profile_load(s, prof, &p, err, sizeof(err)), 0);
    int seen = 0;
    for (uint32_t id = 0; id < profile_func_count(s); id++) {
        const struct profile_func *f = profile_func(s, id);
        bool want = strcmp(f->name, "burn_sixty") == 0 || strcmp(f->name, "burn_ten") == 0;
        if (f->own != want)
            fail_msg("%s: own %d, want %d", f->name, f->own, want);
        seen += strcmp(f->name, "burn_thirty") == 0 || want;
    }
    assert_int_equal(seen, 3);
    profile_free(&p);
    profile_session_close(s);
    struct profile_options bad = {.own_regex = "("};
    assert_int_equal(profile_session_open(&s, &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--own '('"));
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_profile.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Built twice (tests/meson.build): test_profile_heap (PROFILE_TESTS_HEAP,
 * meson suite 'heap') runs only the test that needs tcmalloc's heap profiler,
 * so sanitizer builds (no tcmalloc) can leave it out with --no-suite heap. */
int main(void)
{
#ifdef PROFILE_TESTS_HEAP
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_profile_names_live_allocations),
    };
    (void)test_top_names_hotspots_in_order_pie;
    (void)test_top_names_hotspots_in_order_non_pie;
    (void)test_cmd_top_prints_pprof_layout;
    (void)test_truncated_cpu_profile_is_an_error;
    (void)test_corrupt_cpu_profiles_are_errors;
    (void)test_corrupt_heap_profiles_are_errors;
    (void)test_gperftools_values_that_overflow_int64_are_errors;
    (void)test_unresolved_address_prints_hex;
    (void)test_unknown_format_is_named;
    (void)test_own_regex_overrides_the_module_rule;
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_names_hotspots_in_order_pie),
        cmocka_unit_test(test_top_names_hotspots_in_order_non_pie),
        cmocka_unit_test(test_cmd_top_prints_pprof_layout),
        cmocka_unit_test(test_truncated_cpu_profile_is_an_error),
        cmocka_unit_test(test_corrupt_cpu_profiles_are_errors),
        cmocka_unit_test(test_corrupt_heap_profiles_are_errors),
        cmocka_unit_test(test_gperftools_values_that_overflow_int64_are_errors),
        cmocka_unit_test(test_unresolved_address_prints_hex),
        cmocka_unit_test(test_unknown_format_is_named),
        cmocka_unit_test(test_own_regex_overrides_the_module_rule),
    };
    (void)test_heap_profile_names_live_allocations;
#endif
    return cmocka_run_group_tests(tests, setup, teardown);
}
