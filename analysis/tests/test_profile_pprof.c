/*
 * test_profile_pprof: the pprof backend (profile_pprof.c) on hand-built
 * profiles (protobuf-c, through pprof_builder.h): sample types → measures,
 * inlined Lines as frames innermost first, names and their fallbacks, own
 * code (native by mapping, Go by package), and an address-only profile of
 * this test binary symbolized through the session. Elsewhere: bad references
 * and limits (test_profile_pprof_refs.c), bytes, gzip and malformed protobuf
 * (test_profile_pprof_decode.c), real Go profiles (test_profile_pprof_go.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pprof_builder.h"
#include "profile.h"
#include "profile_format.h"

#define NAME "hand.pb"
#define MS PB_MS

static struct profile_session *sess; /* offline: no file is opened */

static int setup(void **state)
{
    struct profile_options o = {.offline = true};
    char err[256];
    return profile_session_open(&sess, &o, err, sizeof(err));
}

static int teardown(void **state)
{
    profile_session_close(sess);
    sess = NULL;
    return 0;
}

static int load(const struct pb *b, struct profile *p, char *err, size_t errlen)
{
    return pb_load(sess, b, false, p, err, errlen);
}

static const struct profile_func *frame(const struct profile *p, size_t k, uint32_t j)
{
    assert_true(k < p->nsamples && j < p->samples[k].depth);
    const struct profile_func *f = profile_func(sess, p->frames[p->samples[k].frame_index + j]);
    assert_non_null(f);
    return f;
}

static void test_inlined_lines_become_frames_innermost_first(void **state)
{
    struct pb b;
    pb_example(&b);
    for (int gz = 0; gz < 2; gz++) {
        struct profile p;
        char err[256] = "";
        assert_int_equal(pb_load(sess, &b, gz, &p, err, sizeof(err)), 0);
        assert_string_equal(p.format, "pprof");
        assert_int_equal(p.nsamples, 3);
        assert_int_equal(p.samples[0].depth, 4);
        const char *want[] = {"memcpy", "helper", "work", "main"};
        for (uint32_t j = 0; j < 4; j++)
            assert_string_equal(frame(&p, 0, j)->name, want[j]);
        assert_string_equal(frame(&p, 0, 1)->file, "prog.c");
        assert_int_equal(frame(&p, 0, 1)->line, 40); /* the function's start_line */
        assert_int_equal(frame(&p, 0, 2)->line, 20);
        assert_null(frame(&p, 0, 0)->file);          /* "" is no file */
        assert_int_equal(frame(&p, 0, 0)->line, 10); /* no start_line: its smallest Line */
        assert_int_equal(p.period_ns, 10 * MS);
        assert_int_equal(p.duration_ns, 3000 * MS);
        assert_int_equal(p.total[PROFILE_SAMPLES], 8);
        assert_int_equal(p.total[PROFILE_CPU_NS], 80 * MS);
        profile_free(&p);
    }
    pb_release(&b);
}

static void test_names_fall_back_to_system_name_then_the_address(void **state)
{
    struct pb b;
    pb_example(&b);
    struct profile p;
    char err[256] = "";
    assert_int_equal(load(&b, &p, err, sizeof(err)), 0);
    assert_string_equal(frame(&p, 1, 0)->name, "cold_path");
    assert_true(frame(&p, 1, 0)->resolved);
    /* nameless function at 0x403000, no Lines at 0x1234, neither at 0 */
    const char *want[] = {"0x403000", "0x1234", "0x0", "main"};
    for (uint32_t j = 0; j < 4; j++)
        assert_string_equal(frame(&p, 2, j)->name, want[j]);
    for (uint32_t j = 0; j < 3; j++)
        assert_false(frame(&p, 2, j)->resolved);
    profile_free(&p);
    pb_release(&b);
}

/* A symbol version ("memcpy@GLIBC_2.14") is cut from a name; a name that
 * starts with '@' is kept whole (fuzz_profile_pprof found one cut to ""). */
static void test_version_suffixes_are_cut_but_no_name_is_emptied(void **state)
{
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "samples", "count");
    pb_function(&b, 1, "@anon", "", "", 0);
    pb_function(&b, 2, "memcpy@GLIBC_2.14", "", "", 0);
    pb_location(&b, 1, 0, 0x1000, (uint64_t[]){1}, 1);
    pb_location(&b, 2, 0, 0x2000, (uint64_t[]){2}, 1);
    pb_sample(&b, (int64_t[]){1}, 1, (uint64_t[]){2, 1}, 2);
    struct profile p;
    char err[256] = "";
    assert_int_equal(load(&b, &p, err, sizeof(err)), 0);
    assert_string_equal(frame(&p, 0, 0)->name, "memcpy");
    assert_string_equal(frame(&p, 0, 1)->name, "@anon");
    profile_free(&p);
    pb_release(&b);
}

static void test_native_own_code_is_the_main_executable(void **state)
{
    struct pb b;
    pb_example(&b);
    struct profile p;
    char err[256] = "";
    assert_int_equal(load(&b, &p, err, sizeof(err)), 0);
    assert_false(frame(&p, 0, 0)->own); /* memcpy, in libc */
    assert_true(frame(&p, 0, 1)->own);  /* helper, inlined, mapping 1 */
    assert_true(frame(&p, 0, 3)->own);  /* main */
    assert_true(frame(&p, 1, 0)->own);  /* cold_path: mapping 3, the same file as mapping 1 */
    profile_free(&p);
    pb_release(&b);
}

/* Go profiles: own code by package, whatever the mapping (all of a Go
 * program is one executable). Told apart by a runtime.* function, or, where
 * there is none (mutex profiles), by .go files. */
static void test_go_profiles_own_code_by_package(void **state)
{
    static const struct {
        const char *name, *file;
        bool own;
    } funcs[] = {
        {"main.handler", "example.com/app/main.go", true},
        {"example.com/app/store.(*DB).Get", "example.com/app/store/db.go", true},
        {"sync.(*Mutex).Unlock", "sync/mutex.go", false},
        {"net/http.(*Server).Serve", "net/http/server.go", false},
        {"runtime.main", "runtime/proc.go", false},
    };
    for (int with_runtime = 0; with_runtime < 2; with_runtime++) {
        teardown(state);
        setup(state);
        struct pb b;
        pb_init(&b, 16);
        pb_sample_type(&b, "contentions", "count");
        pb_sample_type(&b, "delay", "nanoseconds");
        pb_mapping(&b, 1, 0x400000, 0x800000, 0, "/srv/app");
        uint64_t locs[5];
        size_t n = with_runtime ? 5 : 4;
        for (size_t i = 0; i < n; i++) {
            pb_function(&b, i + 1, funcs[i].name, "", funcs[i].file, 1);
            pb_location(&b, i + 1, 1, 0x400000 + i, (uint64_t[]){i + 1}, 1);
            locs[i] = i + 1;
        }
        pb_sample(&b, (int64_t[]){1, 100}, 2, locs, n);
        struct profile p;
        char err[256] = "";
        assert_int_equal(load(&b, &p, err, sizeof(err)), 0);
        assert_int_equal(p.kind, PROFILE_CONTENTION);
        for (uint32_t j = 0; j < n; j++) {
            const struct profile_func *f = frame(&p, 0, j);
            assert_string_equal(f->name, funcs[j].name);
            if (f->own != funcs[j].own)
                fail_msg("%s: own %d, want %d (with runtime.*: %d)", f->name, f->own, funcs[j].own,
                         with_runtime);
        }
        profile_free(&p);
        pb_release(&b);
    }
}

/* pprof allows a sample without locations (an unknown stack); its values
 * count and its stack is empty, first or not. */
static void test_a_sample_with_an_empty_stack_counts(void **state)
{
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "goroutine", "count");
    pb_function(&b, 1, "main.main", "", "main.go", 3);
    pb_location(&b, 1, 0, 0x10, (uint64_t[]){1}, 1);
    pb_sample(&b, (int64_t[]){2}, 1, NULL, 0);
    pb_sample(&b, (int64_t[]){3}, 1, (uint64_t[]){1}, 1);
    struct profile p;
    char err[256] = "";
    assert_int_equal(load(&b, &p, err, sizeof(err)), 0);
    assert_int_equal(p.nsamples, 2);
    assert_int_equal(p.samples[0].depth, 0);
    assert_int_equal(p.samples[1].depth, 1);
    assert_string_equal(frame(&p, 1, 0)->name, "main.main");
    assert_int_equal(p.total[PROFILE_GOROUTINES], 5);
    profile_free(&p);
    pb_release(&b);
}

struct measure_case {
    const char *why;
    const char *types[3][2];
    size_t ntypes;
    const char *period[2];
    int64_t period_value;
    int64_t values[3];
    enum profile_kind kind;
    uint32_t measures;
    int64_t want[PROFILE_NMEASURES];
    int64_t period_ns;
};

#define M(m) (1u << (m))

static const struct measure_case measure_cases[] = {
    {"Go CPU: samples and cpu time",
     {{"samples", "count"}, {"cpu", "nanoseconds"}},
     2,
     {"cpu", "nanoseconds"},
     10 * MS,
     {3, 30 * MS},
     PROFILE_CPU,
     M(PROFILE_SAMPLES) | M(PROFILE_CPU_NS),
     {[PROFILE_SAMPLES] = 3, [PROFILE_CPU_NS] = 30 * MS},
     10 * MS},
    {"samples only, cpu period: CPU = count x period",
     {{"samples", "count"}},
     1,
     {"cpu", "nanoseconds"},
     10 * MS,
     {3},
     PROFILE_CPU,
     M(PROFILE_SAMPLES) | M(PROFILE_CPU_NS),
     {[PROFILE_SAMPLES] = 3, [PROFILE_CPU_NS] = 30 * MS},
     10 * MS},
    {"a period in microseconds",
     {{"samples", "count"}},
     1,
     {"cpu", "microseconds"},
     1000,
     {3},
     PROFILE_CPU,
     M(PROFILE_SAMPLES) | M(PROFILE_CPU_NS),
     {[PROFILE_SAMPLES] = 3, [PROFILE_CPU_NS] = 3 * MS},
     MS},
    {"cpu in milliseconds",
     {{"cpu", "milliseconds"}},
     1,
     {NULL, NULL},
     0,
     {7},
     PROFILE_CPU,
     M(PROFILE_CPU_NS),
     {[PROFILE_CPU_NS] = 7 * MS},
     0},
    {"cpu in seconds",
     {{"cpu", "seconds"}},
     1,
     {NULL, NULL},
     0,
     {2},
     PROFILE_CPU,
     M(PROFILE_CPU_NS),
     {[PROFILE_CPU_NS] = 2000 * MS},
     0},
    {"samples with a non-time period stay samples",
     {{"samples", "count"}},
     1,
     {"space", "bytes"},
     524288,
     {3},
     PROFILE_CPU,
     M(PROFILE_SAMPLES),
     {[PROFILE_SAMPLES] = 3},
     0},
    {"Go heap: four types",
     {{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_space", "bytes"}},
     3,
     {"space", "bytes"},
     524288,
     {10, 40960, 4096},
     PROFILE_HEAP,
     M(PROFILE_ALLOC_OBJECTS) | M(PROFILE_ALLOC_BYTES) | M(PROFILE_INUSE_BYTES),
     {[PROFILE_ALLOC_OBJECTS] = 10, [PROFILE_ALLOC_BYTES] = 40960, [PROFILE_INUSE_BYTES] = 4096},
     0},
    {"in-use objects alone are a heap profile",
     {{"inuse_objects", "count"}},
     1,
     {NULL, NULL},
     0,
     {6},
     PROFILE_HEAP,
     M(PROFILE_INUSE_OBJECTS),
     {[PROFILE_INUSE_OBJECTS] = 6},
     0},
    {"in-use space in kilobytes",
     {{"inuse_space", "kilobytes"}},
     1,
     {NULL, NULL},
     0,
     {3},
     PROFILE_HEAP,
     M(PROFILE_INUSE_BYTES),
     {[PROFILE_INUSE_BYTES] = 3072},
     0},
    {"goroutines",
     {{"goroutine", "count"}},
     1,
     {"goroutine", "count"},
     1,
     {7},
     PROFILE_GOROUTINE,
     M(PROFILE_GOROUTINES),
     {[PROFILE_GOROUTINES] = 7},
     0},
    {"mutex or block",
     {{"contentions", "count"}, {"delay", "nanoseconds"}},
     2,
     {"contentions", "count"},
     1,
     {4, 1000},
     PROFILE_CONTENTION,
     M(PROFILE_CONTENTIONS) | M(PROFILE_DELAY_NS),
     {[PROFILE_CONTENTIONS] = 4, [PROFILE_DELAY_NS] = 1000},
     0},
    {"delay in microseconds",
     {{"contentions", "count"}, {"delay", "microseconds"}},
     2,
     {NULL, NULL},
     0,
     {4, 3},
     PROFILE_CONTENTION,
     M(PROFILE_CONTENTIONS) | M(PROFILE_DELAY_NS),
     {[PROFILE_CONTENTIONS] = 4, [PROFILE_DELAY_NS] = 3000},
     0},
    {"types this reader does not know are ignored",
     {{"wall", "nanoseconds"}, {"foo", "count"}},
     2,
     {NULL, NULL},
     0,
     {5, 6},
     PROFILE_OTHER,
     0,
     {0},
     0},
    {"a known type in an unknown unit is ignored",
     {{"cpu", "bananas"}},
     1,
     {NULL, NULL},
     0,
     {5},
     PROFILE_OTHER,
     0,
     {0},
     0},
    {"the first type of a measure wins",
     {{"cpu", "nanoseconds"}, {"cpu", "milliseconds"}},
     2,
     {NULL, NULL},
     0,
     {5, 6},
     PROFILE_CPU,
     M(PROFILE_CPU_NS),
     {[PROFILE_CPU_NS] = 5},
     0},
    {"negative values are kept (pprof diff profiles)",
     {{"cpu", "nanoseconds"}},
     1,
     {NULL, NULL},
     0,
     {-5},
     PROFILE_CPU,
     M(PROFILE_CPU_NS),
     {[PROFILE_CPU_NS] = -5},
     0},
    {"no sample types", {{NULL, NULL}}, 0, {NULL, NULL}, 0, {0}, PROFILE_OTHER, 0, {0}, 0},
};

static void test_sample_types_map_to_measures(void **state)
{
    for (size_t i = 0; i < sizeof(measure_cases) / sizeof(measure_cases[0]); i++) {
        const struct measure_case *c = &measure_cases[i];
        struct pb b;
        pb_init(&b, 4);
        for (size_t t = 0; t < c->ntypes; t++)
            pb_sample_type(&b, c->types[t][0], c->types[t][1]);
        if (c->period[0])
            pb_period(&b, c->period[0], c->period[1], c->period_value);
        pb_function(&b, 1, "f", "", "", 0);
        pb_location(&b, 1, 0, 0x10, (uint64_t[]){1}, 1);
        pb_sample(&b, c->values, c->ntypes, (uint64_t[]){1}, 1);
        struct profile p;
        char err[256] = "";
        if (load(&b, &p, err, sizeof(err)) != 0)
            fail_msg("%s: %s", c->why, err);
        if (p.kind != c->kind || p.measures != c->measures || p.period_ns != c->period_ns)
            fail_msg("%s: kind %d measures %#x period %" PRId64 ", want %d %#x %" PRId64, c->why,
                     p.kind, p.measures, p.period_ns, c->kind, c->measures, c->period_ns);
        assert_int_equal(p.nsamples, 1);
        for (int m = 0; m < PROFILE_NMEASURES; m++)
            if (p.samples[0].v[m] != c->want[m] || p.total[m] != c->want[m])
                fail_msg("%s: %s = %" PRId64 " (total %" PRId64 "), want %" PRId64, c->why,
                         profile_measure_name((enum profile_measure)m), p.samples[0].v[m],
                         p.total[m], c->want[m]);
        profile_free(&p);
        pb_release(&b);
    }
}

/* ---- an address-only profile, symbolized through the session ---- */

static volatile unsigned known_sink;

/* The function the address-only profile points into. */
__attribute__((noinline)) static unsigned pprof_known_leaf(unsigned n)
{
    unsigned x = n;
    for (unsigned i = 0; i < n; i++)
        x = x * 2654435761u + i;
    return x;
}

/* The mapping of this process that holds addr: fills start, end, offset and
 * path from /proc/self/maps. */
static bool self_mapping(uint64_t addr, uint64_t *start, uint64_t *end, uint64_t *offset,
                         char *path, size_t pathlen)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long long s, e, off;
        char perms[8], file[1024] = "";
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %1023s", &s, &e, perms, &off, file) >= 4 &&
            s <= addr && addr < e) {
            *start = s, *end = e, *offset = off;
            snprintf(path, pathlen, "%s", file);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* No Function table: Mappings and addresses only, as profilers of native
 * code without symbols write them. Symbolized with the session's libdwfl
 * from this test binary's own file; offline, the frame stays "0x…". */
static void test_address_only_profile_is_symbolized_through_the_session(void **state)
{
    known_sink = pprof_known_leaf(3);
    uint64_t addr = (uint64_t)(uintptr_t)pprof_known_leaf + 4, start = 0, end = 0, offset = 0;
    char path[1024];
    assert_true(self_mapping(addr, &start, &end, &offset, path, sizeof(path)));
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "samples", "count");
    pb_sample_type(&b, "cpu", "nanoseconds");
    pb_mapping(&b, 1, start, end, offset, path);
    pb_location(&b, 1, 1, addr, NULL, 0);
    pb_location(&b, 2, 0, 0x10, NULL, 0); /* no mapping: nothing names it */
    pb_sample(&b, (int64_t[]){1, 10 * MS}, 2, (uint64_t[]){1, 2}, 2);
    for (int online = 0; online < 2; online++) {
        struct profile_options o = {.offline = !online};
        struct profile_session *s;
        char err[256] = "";
        assert_int_equal(profile_session_open(&s, &o, err, sizeof(err)), 0);
        struct profile p;
        if (pb_load(s, &b, true, &p, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        assert_int_equal(p.samples[0].depth, 2);
        const struct profile_func *leaf = profile_func(s, p.frames[0]);
        const struct profile_func *none = profile_func(s, p.frames[1]);
        char hex[32];
        snprintf(hex, sizeof(hex), "0x%" PRIx64, addr);
        if (online) {
            assert_string_equal(leaf->name, "pprof_known_leaf");
            assert_true(leaf->resolved);
            assert_true(leaf->own); /* in the main executable */
        } else {
            assert_string_equal(leaf->name, hex);
            assert_false(leaf->resolved);
        }
        assert_string_equal(none->name, "0x10");
        assert_false(none->resolved);
        profile_free(&p);
        profile_session_close(s);
    }
    pb_release(&b);
}

/* A stripped binary (Debian's haproxy and nginx keep only .dynsym) names
 * none of its static functions, but each has an FDE in .eh_frame: every
 * address in one is named by the binary and the function's start,
 * "copy+0x1234", so all of a function's samples add up as one. Checked on a
 * stripped copy of this test binary, with addresses at two points of
 * pprof_known_leaf: one name for both, at its symbol's offset. */
static void test_stripped_functions_are_named_by_their_cfi(void **state)
{
    known_sink = pprof_known_leaf(3);
    uint64_t fn = (uint64_t)(uintptr_t)pprof_known_leaf, start = 0, end = 0, offset = 0;
    char path[1024], copy[1100], cmd[2400];
    assert_true(self_mapping(fn, &start, &end, &offset, path, sizeof(path)));
    snprintf(copy, sizeof(copy), "/tmp/test_profile_pprof_stripped.%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s'", copy, path);
    if (system(cmd) != 0)
        fail_msg("%s failed (binutils' strip)", cmd);
    /* the function's vaddr in the file: its address less the load bias */
    uint64_t vaddr = fn - start + offset;
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "samples", "count");
    pb_sample_type(&b, "cpu", "nanoseconds");
    pb_mapping(&b, 1, start, end, offset, copy);
    pb_location(&b, 1, 1, fn + 4, NULL, 0);
    pb_location(&b, 2, 1, fn + 9, NULL, 0);
    pb_sample(&b, (int64_t[]){1, 10 * MS}, 2, (uint64_t[]){1}, 1);
    pb_sample(&b, (int64_t[]){1, 10 * MS}, 2, (uint64_t[]){2}, 1);
    struct profile_session *s;
    char err[256] = "";
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    if (pb_load(s, &b, true, &p, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    const struct profile_func *a = profile_func(s, p.frames[p.samples[0].frame_index]);
    const struct profile_func *z = profile_func(s, p.frames[p.samples[1].frame_index]);
    char want[1200];
    const char *base = strrchr(copy, '/');
    snprintf(want, sizeof(want), "%s+0x%" PRIx64, base + 1, vaddr);
    assert_string_equal(a->name, want);
    assert_ptr_equal(a, z); /* one function, whatever the address in it */
    assert_true(a->own);
    assert_false(a->resolved);
    profile_free(&p);
    profile_session_close(s);
    pb_release(&b);
    unlink(copy);
}

/* A process tree's profile (perf's) lists each process's executable segments
 * only; a process that exec'd maps the same file elsewhere. Each mapping then
 * fixes its own bias: two mappings of this binary at different addresses
 * (the second as if in another process) both resolve to the function. */
static void test_each_mapping_of_executable_segments_has_its_own_bias(void **state)
{
    known_sink = pprof_known_leaf(3);
    uint64_t fn = (uint64_t)(uintptr_t)pprof_known_leaf, start = 0, end = 0, offset = 0;
    char path[1024];
    assert_true(self_mapping(fn, &start, &end, &offset, path, sizeof(path)));
    const uint64_t elsewhere = 0x100000000000ULL; /* the other process's layout */
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "samples", "count");
    pb_sample_type(&b, "cpu", "nanoseconds");
    pb_mapping(&b, 1, start, end, offset, path);
    pb_mapping(&b, 2, start + elsewhere, end + elsewhere, offset, path);
    pb_location(&b, 1, 1, fn + 4, NULL, 0);
    pb_location(&b, 2, 2, fn + 4 + elsewhere, NULL, 0);
    pb_sample(&b, (int64_t[]){1, 10 * MS}, 2, (uint64_t[]){1}, 1);
    pb_sample(&b, (int64_t[]){1, 10 * MS}, 2, (uint64_t[]){2}, 1);
    struct profile_session *s;
    char err[256] = "";
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    if (pb_load(s, &b, true, &p, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (size_t k = 0; k < 2; k++)
        assert_string_equal(profile_func(s, p.frames[p.samples[k].frame_index])->name,
                            "pprof_known_leaf");
    profile_free(&p);
    profile_session_close(s);
    pb_release(&b);
}

/* Every mapping of the file that holds addr in this process, in maps order
 * (offset 0 first, as the kernel lists them). Returns how many (at most max). */
static size_t self_file_mappings(uint64_t addr, uint64_t *start, uint64_t *end, uint64_t *offset,
                                 size_t max, char *path, size_t pathlen)
{
    uint64_t s0, e0, o0;
    assert_true(self_mapping(addr, &s0, &e0, &o0, path, pathlen));
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    size_t n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        unsigned long long s, e, off;
        char perms[8], file[1024] = "";
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %1023s", &s, &e, perms, &off, file) == 5 &&
            strcmp(file, path) == 0) {
            start[n] = s, end[n] = e, offset[n] = off;
            n++;
        }
    }
    fclose(f);
    return n;
}

/* A profile of a process tree (perf's) holds the mappings of every process:
 * one that was exec'd, not forked, maps the same files at other addresses.
 * Each process's addresses translate with its own load bias (its first
 * mapping of the file), so the same function is named in both. */
static void test_each_process_of_a_tree_is_symbolized_with_its_own_layout(void **state)
{
    known_sink = pprof_known_leaf(3);
    uint64_t addr = (uint64_t)(uintptr_t)pprof_known_leaf + 4;
    uint64_t start[16], end[16], offset[16];
    char path[1024];
    size_t n = self_file_mappings(addr, start, end, offset, 16, path, sizeof(path));
    assert_true(n >= 1 && offset[0] == 0);
    const uint64_t shift = (uint64_t)1 << 36; /* the second process's ASLR base, further up */
    struct pb b;
    pb_init(&b, 40);
    pb_sample_type(&b, "samples", "count");
    for (size_t k = 0; k < 2 * n; k++) {
        uint64_t d = k < n ? 0 : shift;
        pb_mapping(&b, k + 1, start[k % n] + d, end[k % n] + d, offset[k % n], path);
    }
    size_t in = 0; /* the mapping holding addr */
    while (!(start[in] <= addr && addr < end[in]))
        in++;
    pb_location(&b, 1, in + 1, addr, NULL, 0);
    pb_location(&b, 2, n + in + 1, addr + shift, NULL, 0);
    pb_sample(&b, (int64_t[]){1}, 1, (uint64_t[]){1}, 1);
    pb_sample(&b, (int64_t[]){1}, 1, (uint64_t[]){2}, 1);
    struct profile_session *s;
    char err[256] = "";
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    struct profile p;
    if (pb_load(s, &b, false, &p, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(p.nsamples, 2);
    assert_string_equal(profile_func(s, p.frames[p.samples[0].frame_index])->name,
                        "pprof_known_leaf");
    assert_string_equal(profile_func(s, p.frames[p.samples[1].frame_index])->name,
                        "pprof_known_leaf");
    profile_free(&p);
    profile_session_close(s);
    pb_release(&b);
}

/* A mapping may name a file that is not a regular one (a FIFO, a device the
 * process mapped): the symbolizer must not open it (opening a FIFO blocks until
 * a writer comes, a device may act on open); its addresses stay "0x…". Bounded
 * by an alarm, so a regression fails instead of hanging. */
static void test_mappings_of_non_regular_files_are_not_opened(void **state)
{
    char dir[] = "/tmp/test_profile_pprof.XXXXXX", fifo[64];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct pb b;
    pb_init(&b, 4);
    pb_sample_type(&b, "samples", "count");
    pb_mapping(&b, 1, 0x400000, 0x500000, 0, fifo);
    pb_location(&b, 1, 1, 0x401000, NULL, 0);
    pb_sample(&b, (int64_t[]){1}, 1, (uint64_t[]){1}, 1);
    struct profile_session *s;
    char err[256] = "";
    assert_int_equal(profile_session_open(&s, NULL, err, sizeof(err)), 0);
    alarm(20);
    struct profile p;
    int rc = pb_load(s, &b, false, &p, err, sizeof(err));
    alarm(0);
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(profile_func(s, p.frames[0])->name, "0x401000");
    profile_free(&p);
    profile_session_close(s);
    pb_release(&b);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inlined_lines_become_frames_innermost_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_version_suffixes_are_cut_but_no_name_is_emptied, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_names_fall_back_to_system_name_then_the_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_native_own_code_is_the_main_executable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_go_profiles_own_code_by_package, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_sample_with_an_empty_stack_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_types_map_to_measures, setup, teardown),
        cmocka_unit_test(test_address_only_profile_is_symbolized_through_the_session),
        cmocka_unit_test(test_stripped_functions_are_named_by_their_cfi),
        cmocka_unit_test(test_each_mapping_of_executable_segments_has_its_own_bias),
        cmocka_unit_test(test_mappings_of_non_regular_files_are_not_opened),
        cmocka_unit_test(test_each_process_of_a_tree_is_symbolized_with_its_own_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
