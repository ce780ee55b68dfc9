/*
 * test_report_sections: the report's sections beside the CPU model, end to
 * end through `scaleprof analyze` on synthetic sweeps (test_analyze_synth.h)
 * with files the test writes into the points' folders: threads and
 * goroutines by role (report_roles.c), mutex contention against N
 * (report_contention.c), and the functions of CPU profiles: culprit, groups,
 * profiles that cannot be attributed (report_functions.c, attribution.c),
 * heap per service (report_heap.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>

#include "analyze.h"
#include "commands.h"
#include "pprof_builder.h"
#include "test_analyze_synth.h"

static const int counts5[] = {10, 20, 30, 40, 50};

static char *tmp_root(const char *tag)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 512, "/tmp/test_report_sections_%s_%d", tag, (int)getpid());
    synth_rmtree(p);
    return p;
}

/* Runs `scaleprof analyze ROOT --out ROOT/report [extra...]` with stdout in
 * ROOT/analyze.txt; returns its exit status. */
static int analyze(const char *root, const char *extra1, const char *extra2)
{
    char out[600], log[600];
    snprintf(out, sizeof(out), "%s/report", root);
    snprintf(log, sizeof(log), "%s/analyze.txt", root);
    char *argv[] = {"analyze", (char *)root, "--out", out, (char *)extra1, (char *)extra2, NULL};
    int argc = extra1 ? (extra2 ? 6 : 5) : 4;
    fflush(stdout);
    int saved = dup(1), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = cmd_analyze(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

static json_t *report(const char *root)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/report/report.json", root);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

/* The folder of point (n, repeat r) as synth_results writes it. */
static void point_dir(const char *root, const struct synth *s, int n, int r, char *out, size_t len)
{
    if (s->repeats > 1)
        snprintf(out, len, "%s/%d_services/run-%d", root, n, r);
    else
        snprintf(out, len, "%s/%d_services", root, n);
}

/* The entry of arr whose key is name, or NULL. */
static json_t *named(json_t *arr, const char *key, const char *name)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        const char *v = json_string_value(json_object_get(e, key));
        if (v && strcmp(v, name) == 0)
            return e;
    }
    return NULL;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("%s is not a number", key);
    return json_number_value(v);
}

/* A sweep whose CPU fit is weighted (3 repeats at every N) and has its fixed
 * cost held at 0 (the free fit's a is negative). */
static struct synth cpu_held_at_zero(void)
{
    return (struct synth){.counts = counts5,
                          .ncounts = 5,
                          .repeats = 3,
                          .a = -1.5,
                          .b = 0.8,
                          .c = 0.002,
                          .cv = 0.005,
                          .seed = 41,
                          .failed_index = -1,
                          .contaminated_index = -1,
                          .missing_index = -1};
}

/* threads.txt at every point: main, two workers, two idle threads per
 * service, and `extra` fixed threads each of a role of its own. */
static void write_threads(const char *root, const struct synth *s, int extra)
{
    for (int r = 1; r <= s->repeats; r++)
        for (size_t k = 0; k < s->ncounts; k++) {
            int n = s->counts[k];
            char dir[600], path[700];
            point_dir(root, s, n, r, dir, sizeof(dir));
            snprintf(path, sizeof(path), "%s/threads.txt", dir);
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            fprintf(f, "# threads\n1\tmain\tS\n2\tw0\tS\n3\tw1\tS\n");
            for (int i = 0; i < n; i++)
                fprintf(f, "%d\tsvc%d/idle\tS\n%d\tsvc%d/idle2\tS\n", 10 + 2 * i, i, 11 + 2 * i, i);
            for (int i = 0; i < extra; i++) /* roles "xaa", "xab", …: no digits to drop */
                fprintf(f, "%d\tx%c%c\tS\n", 100000 + i, 'a' + i / 26, 'a' + i % 26);
            fprintf(f, "# by prefix\n");
            fclose(f);
        }
}

/* Thread counts are exact: fitted unweighted with a free, whatever the CPU
 * model did. Here CPU's a is held at 0 and its fit weighted; the workers are
 * still 2 fixed threads (a = 2, b = 0) and the idle threads 2 per service. */
static void test_role_counts_are_fitted_with_their_own_fixed_part(void **state)
{
    char *root = tmp_root("roles");
    struct synth s = cpu_held_at_zero();
    synth_results(root, &s);
    write_threads(root, &s, 0);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    assert_true(json_is_true(json_object_get(json_object_get(doc, "fit"), "a_held_at_zero")));
    assert_true(json_is_true(json_object_get(json_object_get(doc, "fit"), "weighted")));
    json_t *roles = json_object_get(doc, "threads_by_role");
    json_t *w = named(roles, "role", "w"), *idle = named(roles, "role", "svc*/idle");
    assert_non_null(w);
    assert_non_null(idle);
    assert_true(fabs(num(w, "a") - 2) < 1e-6 && fabs(num(w, "b")) < 1e-9);
    assert_true(fabs(num(idle, "a")) < 1e-6 && fabs(num(idle, "b") - 2) < 1e-9);
    json_t *all = json_object_get(doc, "threads_per_service");
    assert_true(fabs(num(all, "a") - 3) < 1e-6 && fabs(num(all, "b") - 2) < 1e-9);
    json_decref(doc);
    synth_rmtree(root);
}

/* More roles than the table holds: the ones past it are counted under
 * "(other roles)", so the total (fixed and per service) is still every
 * thread. */
static void test_roles_past_the_table_are_counted_as_other_roles(void **state)
{
    char *root = tmp_root("many");
    struct synth s = cpu_held_at_zero();
    s.repeats = 1;
    synth_results(root, &s);
    write_threads(root, &s, 300);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *all = json_object_get(doc, "threads_per_service");
    assert_true(fabs(num(all, "a") - 303) < 1e-6 && fabs(num(all, "b") - 2) < 1e-9);
    json_t *other = named(json_object_get(doc, "threads_by_role"), "role", "(other roles)");
    assert_non_null(other);
    assert_true(num(other, "a") > 40); /* 300 + 3 roles and svc*: 256 slots */
    json_decref(doc);
    synth_rmtree(root);
}

/* goroutine.pb.gz at every point: 3 goroutines per service started through
 * sync.(*WaitGroup).Go's closure into mypkg.work, and 5 of main.loop. */
static void write_goroutines(const char *root, const struct synth *s)
{
    for (int r = 1; r <= s->repeats; r++)
        for (size_t k = 0; k < s->ncounts; k++) {
            int n = s->counts[k];
            struct pb b;
            pb_init(&b, 16);
            pb_sample_type(&b, "goroutine", "count");
            pb_function(&b, 1, "runtime.gopark", "", "runtime/proc.go", 1);
            pb_function(&b, 2, "mypkg.work", "", "mypkg/work.go", 1);
            pb_function(&b, 3, "sync.(*WaitGroup).Go.func1", "", "sync/waitgroup.go", 1);
            pb_function(&b, 4, "runtime.goexit", "", "runtime/asm_amd64.s", 1);
            pb_function(&b, 5, "main.loop", "", "main.go", 1);
            for (uint64_t id = 1; id <= 5; id++)
                pb_location(&b, id, 0, 0x1000 * id, (uint64_t[]){id}, 1);
            pb_sample(&b, (int64_t[]){3 * n}, 1, (uint64_t[]){1, 2, 3, 4}, 4);
            pb_sample(&b, (int64_t[]){5}, 1, (uint64_t[]){1, 5, 4}, 3);
            size_t len, gzlen;
            unsigned char *raw = pb_pack(&b, &len), *gz = pb_gzip(raw, len, &gzlen);
            char dir[600], path[700];
            point_dir(root, s, n, r, dir, sizeof(dir));
            snprintf(path, sizeof(path), "%s/goroutine.pb.gz", dir);
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(gz, 1, gzlen, f), gzlen);
            fclose(f);
            free(raw);
            free(gz);
            pb_release(&b);
        }
}

/* A goroutine started through a wrapper (a closure) gets the role of the
 * function the wrapper runs when that is the program's own code, and --own
 * decides what is: mypkg (no dot in its path) is not own by Go's rule, so the
 * role is the wrapper; with --own '^mypkg\.' it is mypkg.work. */
static void test_goroutine_roles_follow_own_regex_through_wrappers(void **state)
{
    char *root = tmp_root("goroutines");
    struct synth s = cpu_held_at_zero();
    s.repeats = 1;
    synth_results(root, &s);
    write_goroutines(root, &s);
    static const struct {
        const char *own, *role;
    } rows[] = {
        {NULL, "sync.(*WaitGroup).Go.func1"},
        {"^mypkg\\.", "mypkg.work"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(analyze(root, rows[i].own ? "--own" : NULL, rows[i].own), 0);
        json_t *doc = report(root);
        json_t *role = named(json_object_get(doc, "goroutines_by_role"), "role", rows[i].role);
        if (!role)
            fail_msg("row %zu: no role %s", i, rows[i].role);
        assert_true(fabs(num(role, "b") - 3) < 1e-9 && fabs(num(role, "a")) < 1e-6);
        json_t *main_loop = named(json_object_get(doc, "goroutines_by_role"), "role", "main.loop");
        assert_non_null(main_loop);
        assert_true(fabs(num(main_loop, "a") - 5) < 1e-6);
        json_decref(doc);
    }
    synth_rmtree(root);
}

/* mutex.pb.gz at the points whose N is at most n_upto: per window, N
 * contentions and 1e7·N + 2e6·N² ns of delay in main.lockHeavy, unlocking
 * through sync.(*Mutex).Unlock (as Go's mutex profile charges it). */
static void write_mutex(const char *root, const struct synth *s, int n_upto)
{
    for (int r = 1; r <= s->repeats; r++)
        for (size_t k = 0; k < s->ncounts; k++) {
            int n = s->counts[k];
            if (n > n_upto)
                continue;
            struct pb b;
            pb_init(&b, 8);
            pb_sample_type(&b, "contentions", "count");
            pb_sample_type(&b, "delay", "nanoseconds");
            pb_function(&b, 1, "sync.(*Mutex).Unlock", "", "sync/mutex.go", 1);
            pb_function(&b, 2, "main.lockHeavy", "", "main.go", 1);
            pb_function(&b, 3, "runtime.goexit", "", "runtime/asm_amd64.s", 1);
            for (uint64_t id = 1; id <= 3; id++)
                pb_location(&b, id, 0, 0x1000 * id, (uint64_t[]){id}, 1);
            pb_sample(&b, (int64_t[]){n, 10000000LL * n + 2000000LL * n * n}, 2,
                      (uint64_t[]){1, 2, 3}, 3);
            size_t len;
            unsigned char *raw = pb_pack(&b, &len);
            char dir[600], path[700];
            point_dir(root, s, n, r, dir, sizeof(dir));
            snprintf(path, sizeof(path), "%s/mutex.pb.gz", dir);
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(raw, 1, len, f), len);
            fclose(f);
            free(raw);
            pb_release(&b);
        }
}

/* Delay that grows as N² has its own verdict, fit and culprit: the program's
 * function that waits, not the runtime's Unlock below it. */
static void test_contention_growing_as_n_squared_is_superlinear(void **state)
{
    char *root = tmp_root("mutex");
    struct synth s = cpu_held_at_zero();
    s.repeats = 1;
    synth_results(root, &s);
    write_mutex(root, &s, 50);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *mutex = json_object_get(json_object_get(doc, "contention"), "mutex");
    assert_non_null(mutex);
    assert_string_equal(json_string_value(json_object_get(mutex, "verdict")), "superlinear");
    json_t *fit = json_object_get(mutex, "fit");
    /* seconds of waiting per second over the 10 s window: c = 2e6 ns / 10 s */
    assert_true(fabs(num(fit, "c") - 2e-4) < 1e-9 && fabs(num(fit, "b") - 1e-3) < 1e-9);
    assert_int_equal(json_array_size(json_object_get(mutex, "points_delay")), 5);
    json_t *culprit = json_object_get(mutex, "culprit");
    assert_string_equal(json_string_value(json_object_get(culprit, "function")), "main.lockHeavy");
    /* no block.pb.gz at any point: nothing said about it */
    assert_null(json_object_get(json_object_get(doc, "contention"), "block"));
    json_decref(doc);
    synth_rmtree(root);
}

/* Profiles at fewer than 3 distinct N: said, not fitted, no verdict line. */
static void test_contention_at_two_service_counts_is_not_judged(void **state)
{
    char *root = tmp_root("mutex2");
    struct synth s = cpu_held_at_zero();
    s.repeats = 1;
    synth_results(root, &s);
    write_mutex(root, &s, 20);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *mutex = json_object_get(json_object_get(doc, "contention"), "mutex");
    assert_non_null(mutex);
    assert_int_equal(num(mutex, "points"), 2);
    assert_null(json_object_get(mutex, "verdict"));
    assert_null(json_object_get(mutex, "fit"));
    json_decref(doc);
    char md[700], text[65536] = "";
    snprintf(md, sizeof(md), "%s/report/report.md", root);
    FILE *f = fopen(md, "r");
    assert_non_null(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "Not fitted: the 2 points with a readable profile span fewer"));
    synth_rmtree(root);
}

/* One stack of a synthetic CPU profile, leaf first, and its CPU per window:
 * k0 + k1·N + k2·N² nanoseconds. */
struct cpu_row {
    const char *stack[3];
    double k0, k1, k2;
};

/* cpu.pb.gz at every point from rows; with_period false writes sample counts
 * only (samples/count, no period: CPU time unknown). Files end in ".go", so
 * own code is decided by Go's rule. */
static void write_cpu(const char *root, const struct synth *s, const struct cpu_row *rows,
                      size_t nrows, bool with_period)
{
    for (int r = 1; r <= s->repeats; r++)
        for (size_t k = 0; k < s->ncounts; k++) {
            int n = s->counts[k];
            struct pb b;
            pb_init(&b, 64);
            pb_sample_type(&b, "samples", "count");
            if (with_period) {
                pb_sample_type(&b, "cpu", "nanoseconds");
                pb_period(&b, "cpu", "nanoseconds", 10000000);
            }
            const char *names[32];
            size_t nn = 0;
            for (size_t i = 0; i < nrows; i++) {
                uint64_t locs[3];
                size_t depth = 0;
                for (; depth < 3 && rows[i].stack[depth]; depth++) {
                    size_t f = 0;
                    while (f < nn && strcmp(names[f], rows[i].stack[depth]) != 0)
                        f++;
                    if (f == nn) {
                        assert_true(nn < 32);
                        names[nn++] = rows[i].stack[depth];
                        pb_function(&b, f + 1, names[f], "", "x.go", 1);
                        pb_location(&b, f + 1, 0, 0x1000 * (f + 1), (uint64_t[]){f + 1}, 1);
                    }
                    locs[depth] = f + 1;
                }
                int64_t ns = (int64_t)(rows[i].k0 + rows[i].k1 * n + rows[i].k2 * n * n);
                int64_t v[2] = {ns / 10000000, ns};
                pb_sample(&b, v, with_period ? 2 : 1, locs, depth);
            }
            size_t len, gzlen;
            unsigned char *raw = pb_pack(&b, &len), *gz = pb_gzip(raw, len, &gzlen);
            char dir[600], path[700];
            point_dir(root, s, n, r, dir, sizeof(dir));
            snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(gz, 1, gzlen, f), gzlen);
            fclose(f);
            free(raw);
            free(gz);
            pb_release(&b);
        }
}

static struct synth one_repeat(void)
{
    struct synth s = cpu_held_at_zero();
    s.repeats = 1;
    return s;
}

/* The culprit is the lowest frame of the program's own code on the path that
 * carries c, whatever the length of its name (C++ and Go generic names run to
 * hundreds of characters): here a 600-character main.* function whose time is
 * in syscall.read. */
static void test_culprit_is_found_whatever_the_length_of_its_name(void **state)
{
    static char longname[601];
    memcpy(longname, "main.", 5);
    memset(longname + 5, 'x', sizeof(longname) - 6);
    char *root = tmp_root("longname");
    struct synth s = one_repeat();
    synth_results(root, &s);
    struct cpu_row rows[] = {{{"syscall.read", longname, NULL}, 0, 1e8, 4e6},
                             {{"main.other", NULL, NULL}, 5e8, 1e7, 0}};
    write_cpu(root, &s, rows, 2, true);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *culprit = json_object_get(doc, "culprit");
    assert_non_null(culprit);
    assert_string_equal(json_string_value(json_object_get(culprit, "function")), longname);
    assert_string_equal(json_string_value(json_object_get(culprit, "leaf")), "syscall.read");
    json_decref(doc);
    synth_rmtree(root);
}

/* A stack deeper than the function table's first allocation (256), made of
 * functions seen for the first time: the table grows while the stack is
 * being read (a Go server's profile does this at its first point). Every
 * frame must still be charged to its own function, the leaf with all the
 * self time (this read freed memory and crashed before; ASan in CI shows it). */
static void test_a_stack_that_grows_the_function_table_is_charged_right(void **state)
{
    enum { DEPTH = 600 };
    char *root = tmp_root("deep");
    struct synth s = one_repeat();
    synth_results(root, &s);
    static char names[DEPTH][24];
    for (int i = 0; i < DEPTH; i++)
        snprintf(names[i], sizeof(names[i]), "main.f%03d", i);
    for (size_t k = 0; k < s.ncounts; k++) {
        int n = s.counts[k];
        struct pb b;
        pb_init(&b, DEPTH + 8);
        pb_sample_type(&b, "samples", "count");
        pb_sample_type(&b, "cpu", "nanoseconds");
        pb_period(&b, "cpu", "nanoseconds", 10000000);
        uint64_t locs[DEPTH];
        for (int i = 0; i < DEPTH; i++) {
            pb_function(&b, (uint64_t)i + 1, names[i], "", "x.go", 1);
            pb_location(&b, (uint64_t)i + 1, 0, 0x1000 * ((uint64_t)i + 1),
                        (uint64_t[]){(uint64_t)i + 1}, 1);
            locs[i] = (uint64_t)i + 1; /* leaf first: main.f000 */
        }
        int64_t ns = (int64_t)(1e7 * n * n);
        pb_sample(&b, (int64_t[]){ns / 10000000, ns}, 2, locs, DEPTH);
        size_t len, gzlen;
        unsigned char *raw = pb_pack(&b, &len), *gz = pb_gzip(raw, len, &gzlen);
        char dir[600], path[700];
        point_dir(root, &s, n, 1, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(gz, 1, gzlen, f), gzlen);
        fclose(f);
        free(raw);
        free(gz);
        pb_release(&b);
    }
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *fns = json_object_get(doc, "functions");
    assert_int_equal(json_array_size(fns), DEPTH);
    json_t *leaf = named(fns, "name", "main.f000"), *root_fn = named(fns, "name", "main.f599");
    assert_non_null(leaf);
    assert_non_null(root_fn);
    assert_true(json_number_value(json_object_get(leaf, "self_share")) > 0.99);
    assert_true(json_number_value(json_object_get(root_fn, "cum_share")) > 0.99);
    json_decref(doc);
    synth_rmtree(root);
}

/* Functions whose curves move together (correlation above 0.98) share a
 * group, led by the one with the larger share; others lead their own (over
 * N = 10..50 a linear curve correlates 0.99 with N², so the others here are
 * one that falls with N and one that stays fixed). */
static void test_functions_that_move_together_share_a_group(void **state)
{
    char *root = tmp_root("groups");
    struct synth s = one_repeat();
    synth_results(root, &s);
    struct cpu_row rows[] = {{{"main.quadA", NULL, NULL}, 0, 0, 4e6},
                             {{"main.quadB", NULL, NULL}, 0, 0, 2e6},
                             {{"main.falling", NULL, NULL}, 9e8, -1e7, 0},
                             {{"main.fixed", NULL, NULL}, 9e8, 0, 0}};
    write_cpu(root, &s, rows, 4, true);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *fns = json_object_get(doc, "functions");
    json_t *qa = named(fns, "name", "main.quadA"), *qb = named(fns, "name", "main.quadB");
    json_t *lin = named(fns, "name", "main.falling"), *fixed = named(fns, "name", "main.fixed");
    assert_true(qa && qb && lin && fixed);
    assert_int_equal(num(qa, "group"), 1);
    assert_int_equal(num(qb, "group"), 1);
    assert_true(num(lin, "group") > 1 && num(fixed, "group") > 1);
    assert_true(num(lin, "group") != num(fixed, "group"));
    json_decref(doc);
    synth_rmtree(root);
}

/* A CPU profile that counts samples but gives no period has no CPU time to
 * fit: each is named with that reason, and no function is attributed. */
static void test_cpu_profiles_without_a_period_are_named_not_attributed(void **state)
{
    char *root = tmp_root("noperiod");
    struct synth s = one_repeat();
    synth_results(root, &s);
    struct cpu_row rows[] = {{{"main.quad", NULL, NULL}, 0, 1e8, 4e6}};
    write_cpu(root, &s, rows, 1, false);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *skipped = json_object_get(doc, "functions_skipped");
    assert_int_equal(json_array_size(skipped), 5);
    for (size_t i = 0; i < 5; i++)
        assert_non_null(strstr(json_string_value(json_array_get(skipped, i)),
                               "cpu.pb.gz: a CPU profile of sample counts with no sampling "
                               "period: its CPU time is unknown"));
    assert_int_equal(json_array_size(json_object_get(doc, "functions")), 0);
    json_decref(doc);
    synth_rmtree(root);
}

/* heap.prof (gperftools text, no maps: the frames stay addresses) at the
 * points whose N is at most n_upto: 0x10 holds 1000·N + 10·N² bytes. */
static void write_heap(const char *root, const struct synth *s, int n_upto)
{
    for (int r = 1; r <= s->repeats; r++)
        for (size_t k = 0; k < s->ncounts; k++) {
            int n = s->counts[k];
            if (n > n_upto)
                continue;
            char dir[600], path[700];
            point_dir(root, s, n, r, dir, sizeof(dir));
            snprintf(path, sizeof(path), "%s/heap.prof", dir);
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            long bytes = 1000L * n + 10L * n * n;
            fprintf(f, "heap profile: 1: %ld [1: %ld] @ heapprofile\n1: %ld [1: %ld] @ 0x10 0x20\n",
                    bytes, bytes, bytes, bytes);
            fclose(f);
        }
}

/* Bytes per added service "at Nmax" are at the largest N that has a heap
 * profile (b + 2c·30 here), not extrapolated to the sweep's largest (50). */
static void test_heap_per_service_is_at_the_largest_profiled_n(void **state)
{
    char *root = tmp_root("heap");
    struct synth s = one_repeat();
    synth_results(root, &s);
    write_heap(root, &s, 30);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    json_t *heap = json_object_get(doc, "heap");
    assert_non_null(heap);
    assert_int_equal(num(heap, "points"), 3);
    json_t *f0 = json_array_get(json_object_get(heap, "functions"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "name")), "0x10");
    assert_true(fabs(num(f0, "bytes_per_service_at_nmax") - (1000 + 2 * 10 * 30)) < 1e-6);
    json_decref(doc);
    synth_rmtree(root);
}

/* True when text has "nan" as a word (printf's not-a-number). */
static bool has_nan_word(const char *text)
{
    for (const char *p = text; (p = strstr(p, "nan")); p++) {
        bool before = p > text && isalpha((unsigned char)p[-1]);
        if (!before && !isalpha((unsigned char)p[3]))
            return true;
    }
    return false;
}

/* A figure that is not defined (2cNmax/b when b <= 0) reads "–" in report.md
 * and index.html, never "nan"; report.json has null. */
static void test_undefined_figures_read_as_a_dash_not_nan(void **state)
{
    char *root = tmp_root("nan");
    struct synth s = cpu_held_at_zero();
    s.a = 5;
    s.b = -0.05;
    s.c = 0.003;
    synth_results(root, &s);
    assert_int_equal(analyze(root, NULL, NULL), 0);
    json_t *doc = report(root);
    assert_true(json_is_null(json_object_get(json_object_get(doc, "fit"), "material_share")));
    json_decref(doc);
    static const char *const files[] = {"report.md", "index.html"};
    for (size_t i = 0; i < 2; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/report/%s", root, files[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        static char text[1 << 20];
        text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
        fclose(f);
        if (has_nan_word(text))
            fail_msg("%s says nan", files[i]);
    }
    synth_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_counts_are_fitted_with_their_own_fixed_part),
        cmocka_unit_test(test_roles_past_the_table_are_counted_as_other_roles),
        cmocka_unit_test(test_goroutine_roles_follow_own_regex_through_wrappers),
        cmocka_unit_test(test_contention_growing_as_n_squared_is_superlinear),
        cmocka_unit_test(test_contention_at_two_service_counts_is_not_judged),
        cmocka_unit_test(test_culprit_is_found_whatever_the_length_of_its_name),
        cmocka_unit_test(test_functions_that_move_together_share_a_group),
        cmocka_unit_test(test_a_stack_that_grows_the_function_table_is_charged_right),
        cmocka_unit_test(test_cpu_profiles_without_a_period_are_named_not_attributed),
        cmocka_unit_test(test_heap_per_service_is_at_the_largest_profiled_n),
        cmocka_unit_test(test_undefined_figures_read_as_a_dash_not_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
