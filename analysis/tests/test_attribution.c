/*
 * test_attribution: per-function scaling fits on real profiles of
 * tests/scaling.c (one function ∝ N², one ∝ N, one constant) over five N with
 * two repeats each, written as a results folder with generated stats.json;
 * then the folded file, the flame graph, and `diff` against a sweep with the
 * N² function switched off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attribution.h"
#include "commands.h"

static char tmpdir[256];
static const int ns[] = {10, 20, 30, 40, 50};
#define NN 5
#define REPEATS 2

/* Runs scaling N QUAD with CPUPROFILE=prof; bounded wait, killed past 120 s. */
static int run_scaling(int n, int quad, const char *prof)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char a[16], b[4];
        snprintf(a, sizeof(a), "%d", n);
        snprintf(b, sizeof(b), "%d", quad);
        setenv("CPUPROFILE", prof, 1);
        setenv("CPUPROFILE_FREQUENCY", "1000", 1);
        execl(SCALING_BIN, SCALING_BIN, a, b, (char *)NULL);
        _exit(127);
    }
    int status;
    for (int i = 0; i < 12000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* Writes a results folder <tmpdir>/<name>: N_services/run-R/{cpu.prof,stats.json}. */
static void make_sweep(const char *name, int quad)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    for (int r = 1; r <= REPEATS; r++) {
        for (int i = 0; i < NN; i++) { /* interleaved, as sweep runs them */
            char pdir[600], rdir[700], path[800];
            snprintf(pdir, sizeof(pdir), "%s/%d_services", dir, ns[i]);
            mkdir(pdir, 0755);
            snprintf(rdir, sizeof(rdir), "%s/run-%d", pdir, r);
            assert_int_equal(mkdir(rdir, 0755), 0);
            snprintf(path, sizeof(path), "%s/cpu.prof", rdir);
            assert_int_equal(run_scaling(ns[i], quad, path), 0);
            /* a fixed amount of work per run: the "window" is the run, 1 s */
            snprintf(path, sizeof(path), "%s/stats.json", rdir);
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            fprintf(f, "{\"services\": %d, \"repeat\": %d, \"window_s\": 1.0, "
                       "\"contaminated\": false}\n", ns[i], r);
            fclose(f);
        }
    }
}

struct loaded {
    struct attr_point *pts;
    size_t count;
    struct fit_design d;
    struct attribution a;
};

static void load(const char *name, struct loaded *l)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(attribution_scan(dir, &l->pts, &l->count, &err), 0);
    assert_int_equal(l->count, NN * REPEATS);
    double n[NN * REPEATS];
    for (size_t i = 0; i < l->count; i++)
        n[i] = l->pts[i].services;
    assert_int_equal(fit_prepare(&l->d, n, NULL, l->count), 0);
    if (attribution_build(&l->a, l->pts, l->count, &l->d, NULL, &err))
        fail_msg("%s", err.data);
    buf_free(&err);
}

static void unload(struct loaded *l)
{
    attribution_free(&l->a);
    fit_design_free(&l->d);
    attribution_points_free(l->pts, l->count);
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_attribution.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    make_sweep("quad_on", 1);
    make_sweep("quad_off", 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The N² function ranks first, holds > 80% of c, exponent near 2; the linear
 * one's c is not significant; the constant one has no material share. */
static void test_quadratic_function_ranks_first(void **state)
{
    struct loaded l;
    load("quad_on", &l);
    const struct attribution *a = &l.a;
    assert_true(a->nfuncs >= 3);
    assert_string_equal(a->funcs[0].name, "work_quad");
    assert_true(a->funcs[0].self_share > 0.8);
    assert_true(a->funcs[0].fit.c_significant);
    assert_true(a->funcs[0].has_exponent);
    if (!(fabs(a->funcs[0].exponent.k - 2.0) < 0.3))
        fail_msg("exponent %.3f [%.3f, %.3f] offset %g", a->funcs[0].exponent.k,
                 a->funcs[0].exponent.k_lo, a->funcs[0].exponent.k_hi, a->funcs[0].exponent.offset);
    assert_non_null(a->funcs[0].file);
    assert_non_null(strstr(a->funcs[0].file, "scaling.c"));

    const struct attr_func *lin = attribution_find(a, "work_lin");
    assert_non_null(lin);
    /* not significant even at a strict level (the 95% test alone would fail
     * one run in twenty by design) and no material share */
    assert_true(lin->fit.c_t < t_quantile(0.999, lin->fit.dof));
    assert_true(fabs(lin->self_share) < 0.1);
    assert_true(lin->fit.b > 0);
    assert_true(lin->has_exponent && fabs(lin->exponent.k - 1.0) < 0.3);
    const struct attr_func *k = attribution_find(a, "work_const");
    assert_non_null(k);
    assert_true(fabs(k->self_share) < 0.1);

    /* least squares is linear: the functions' c add up to the total's */
    double sum = 0;
    for (size_t i = 0; i < a->nfuncs; i++)
        sum += a->funcs[i].fit.c;
    assert_true(fabs(sum - a->total_fit.c) <= 1e-9 * fabs(a->total_fit.c));
    /* the call tree descends to the N² function */
    assert_non_null(a->culprit);
    assert_string_equal(a->culprit, "work_quad");
    assert_true(a->culprit_share > 0.8);
    assert_non_null(strstr(a->culprit_path, "main;work_quad"));
    /* work_quad and its caller main do not move together with work_const */
    assert_true(k->group != a->funcs[0].group);
    unload(&l);
}

static void test_folded_and_flamegraph_written(void **state)
{
    struct loaded l;
    load("quad_on", &l);
    char folded[512], svg[512], line[4096];
    snprintf(folded, sizeof(folded), "%s/scaling.folded", tmpdir);
    snprintf(svg, sizeof(svg), "%s/scaling.svg", tmpdir);
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(attribution_write_folded(&l.a, folded, &err), 0);
    assert_int_equal(attribution_write_flamegraph(&l.a, svg, "scaling test", &err), 0);
    buf_free(&err);
    FILE *f = fopen(folded, "r");
    assert_non_null(f);
    bool quad = false;
    while (fgets(line, sizeof(line), f)) {
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        assert_true(strtod(sp + 1, NULL) > 0);
        *sp = '\0';
        size_t len = strlen(line);
        if (len >= 9 && strcmp(line + len - 9, "work_quad") == 0)
            quad = true;
    }
    fclose(f);
    assert_true(quad);
    f = fopen(svg, "r");
    assert_non_null(f);
    bool svg_open = false, has_quad = false, svg_close = false;
    while (fgets(line, sizeof(line), f)) {
        svg_open |= strstr(line, "<svg") != NULL;
        has_quad |= strstr(line, "<title>work_quad") != NULL;
        svg_close |= strstr(line, "</svg>") != NULL;
    }
    fclose(f);
    assert_true(svg_open && has_quad && svg_close);
    unload(&l);
}

/* Switching the N² function off is named as the cause of the change. */
static void test_diff_names_the_switched_off_function(void **state)
{
    char a[512], b[512], out[512], line[512];
    snprintf(a, sizeof(a), "%s/quad_on", tmpdir);
    snprintf(b, sizeof(b), "%s/quad_off", tmpdir);
    snprintf(out, sizeof(out), "%s/diff.txt", tmpdir);
    fflush(stdout);
    int saved = dup(1), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    char *argv[] = {"diff", a, b, "--at", "100", NULL};
    int rc = cmd_diff(5, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    bool cause = false, extrapolated = false;
    while (fgets(line, sizeof(line), f)) {
        cause |= strcmp(line, "cause: work_quad\n") == 0;
        extrapolated |= strstr(line, "extrapolated N=100") != NULL;
    }
    fclose(f);
    assert_true(cause);
    assert_true(extrapolated);
    char *bad[] = {"diff", a, NULL};
    assert_int_equal(cmd_diff(2, bad), 2);
}

/* A truncated profile in a sweep is an error naming the file, not a crash. */
static void test_truncated_profile_in_sweep_is_an_error(void **state)
{
    char dir[512], src[800], dst[800];
    snprintf(dir, sizeof(dir), "%s/quad_on/10_services/run-1", tmpdir);
    snprintf(src, sizeof(src), "%s/cpu.prof", dir);
    snprintf(dst, sizeof(dst), "%s/cut.prof", tmpdir);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_true(in && out);
    char buf[100];
    assert_int_equal(fread(buf, 1, sizeof(buf), in), sizeof(buf));
    fwrite(buf, 1, sizeof(buf), out);
    fclose(in);
    fclose(out);
    struct attr_point pts[3] = {{10, 1, dst}, {20, 1, src}, {30, 1, src}};
    double n[3] = {10, 20, 30};
    struct fit_design d;
    assert_int_equal(fit_prepare(&d, n, NULL, 3), 0);
    struct attribution a;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(attribution_build(&a, pts, 3, &d, NULL, &err), -1);
    assert_non_null(strstr(err.data, "cut.prof"));
    buf_reset(&err);
    assert_int_equal(attribution_build(&a, pts, 2, &d, NULL, &err), -1); /* design mismatch */
    buf_free(&err);
    fit_design_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quadratic_function_ranks_first),
        cmocka_unit_test(test_folded_and_flamegraph_written),
        cmocka_unit_test(test_diff_names_the_switched_off_function),
        cmocka_unit_test(test_truncated_profile_in_sweep_is_an_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
