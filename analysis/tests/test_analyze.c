/*
 * Tests for reading results folders and `scaleprof analyze` end to end on
 * synthetic sweeps written by the test: excluded points are named, report.json
 * has the stable keys, task fits add up to the total, plots and pages are
 * written, gnuplot's absence is survived, and headless Chromium renders
 * index.html with the verdict and every plot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "analyze.h"
#include "commands.h"
#include "results.h"
#include "test_analyze_synth.h"

extern char **environ;

static const int counts5[] = {10, 20, 30, 40, 50};

static char *tmp_root(const char *tag)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 512, "/tmp/h6b_test_%s_%d", tag, (int)getpid());
    synth_rmtree(p);
    return p;
}

static int run_analyze(const char *root, const char *out)
{
    char *argv[] = {"analyze", (char *)root, "--out", (char *)out, NULL};
    return cmd_analyze(4, argv);
}

static void test_prom_parser_rows(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        size_t count;
        const char *why;
    } rows[] = {
        {"a 1\nb{x=\"y\"} 2.5\n", 0, 2, "plain and labelled samples"},
        {"# HELP a h\n# TYPE a counter\n\na 1 1700000000\n", 0, 1, "comments and timestamp"},
        {"a{x=\"q\\\"uote\\\\\",y=\"\"} NaN\n", 0, 1, "escapes, empty label, NaN"},
        {"a{x=\"unterminated} 1\n", -1, 0, "unterminated label value"},
        {"{x=\"y\"} 1\n", -1, 0, "no metric name"},
        {"a{x=\"y\"}\n", -1, 0, "no value"},
        {"a 1x\n", -1, 0, "trailing junk in the value"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct prom_set set;
        struct buf err;
        buf_init(&err, 256);
        int rc = prom_parse(rows[i].text, strlen(rows[i].text), &set, &err);
        if (rc != rows[i].rc || (rc == 0 && set.count != rows[i].count))
            fail_msg("row %zu (%s): rc %d count %zu", i, rows[i].why, rc, set.count);
        if (rc != 0)
            assert_non_null(strstr(err.data, "line 1"));
        prom_free(&set);
        buf_free(&err);
    }
    struct prom_set set;
    const char *t = "m{task=\"p\",service=\"a\"} 1.5\nm{task=\"p\",service=\"b\"} 2\n"
                    "m{task=\"q\",service=\"a\"} 7\n";
    assert_int_equal(prom_parse(t, strlen(t), &set, NULL), 0);
    double sum;
    assert_true(prom_sum(&set, "m", "task", "p", &sum));
    assert_true(fabs(sum - 3.5) < 1e-12);
    assert_false(prom_sum(&set, "m", "task", "zz", &sum));
    prom_free(&set);
}

/* The entry prefixes a target declares in metrics.prom (refproxy_task_info):
 * the first point to declare a task wins; an empty prefix, a value of 0 or a
 * missing label declares nothing; a task never declared has no mapping. */
static void test_results_read_task_entry_prefixes(void **state)
{
    (void)state;
    char *root = tmp_root("info");
    mkdir(root, 0755);
    char path[700];
    snprintf(path, sizeof(path), "%s/sweep.json", root);
    synth_write(path, "{\"status\":\"complete\",\"points\":["
                      "{\"services\":10,\"dir\":\"10_services\",\"status\":\"ok\"},"
                      "{\"services\":20,\"dir\":\"20_services\",\"status\":\"ok\"}]}\n");
    static const char *const metrics[2] = {
        "refproxy_task_cpu_seconds_total{task=\"portlist\",service=\"s1\"} 1\n"
        "refproxy_task_info{task=\"portlist\",entry_prefix=\"portlist_\"} 1\n"
        "refproxy_task_info{task=\"mine\",entry_prefix=\"my_\"} 1\n"
        "refproxy_task_info{task=\"blank\",entry_prefix=\"\"} 1\n"
        "refproxy_task_info{task=\"zero\",entry_prefix=\"zero_\"} 0\n"
        "refproxy_task_info{entry_prefix=\"orphan_\"} 1\n",
        "refproxy_task_info{task=\"mine\",entry_prefix=\"other_\"} 1\n"
        "refproxy_task_info{task=\"later\",entry_prefix=\"later_\"} 1\n",
    };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%d_services", root, 10 * (i + 1));
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%d_services/stats.json", root, 10 * (i + 1));
        synth_write(path, "{\"window_s\": 1.0, \"cpu_ns\": 1000000}\n");
        snprintf(path, sizeof(path), "%s/%d_services/metrics.prom", root, 10 * (i + 1));
        synth_write(path, metrics[i]);
    }
    static const struct {
        const char *task, *prefix, *why;
    } rows[] = {
        {"portlist", "portlist_", "declared"},
        {"mine", "my_", "the first point's declaration wins"},
        {"later", "later_", "declared by a later point only"},
        {"blank", NULL, "an empty prefix would match every path"},
        {"zero", NULL, "a value of 0 declares nothing"},
        {"timers", NULL, "never declared: no mapping"},
        {"", NULL, "a line without a task label"},
    };
    struct results r;
    struct buf err;
    buf_init(&err, 1024);
    assert_int_equal(results_load(root, &r, &err), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = results_task_entry_prefix(&r, rows[i].task);
        if (rows[i].prefix ? !got || strcmp(got, rows[i].prefix) : got != NULL)
            fail_msg("row %zu (%s): got %s", i, rows[i].why, got ? got : "NULL");
    }
    results_free(&r);
    buf_free(&err);
    synth_rmtree(root);
}

/* Failed, contaminated, missing and corrupt points are excluded from the
 * model, named with a reason, and the rest is still analysed. */
static void test_bad_points_are_excluded_and_named(void **state)
{
    (void)state;
    char *root = tmp_root("bad");
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 3,
                      .a = 2,
                      .b = 0.1,
                      .c = 0.001,
                      .cv = 0.02,
                      .seed = 11,
                      .failed_index = 1,
                      .contaminated_index = 7,
                      .missing_index = 12,
                      .tasks = false};
    synth_results(root, &s);
    char path[700];
    snprintf(path, sizeof(path), "%s/40_services/run-1/stats.json", root); /* index 3 */
    synth_write(path, "{\"services\": 40, \"window_s\": ");
    /* valid JSON naming its profile, without a window: corrupt, and nothing of
     * it kept (the profile's name was leaked on this path) */
    snprintf(path, sizeof(path), "%s/50_services/run-2/stats.json", root); /* index 9 */
    synth_write(path, "{\"services\": 50, \"cpu_ns\": 5, \"cpu_profile\": \"cpu.pb.gz\"}");
    struct analysis an;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(analysis_run(root, 0.2, FIT_DEFAULT_CONFIDENCE, &an, &err), 0);
    assert_int_equal(an.res.count, 15);
    assert_int_equal(an.res.usable, 10);
    assert_int_equal(an.nobs, 10);
    const char *want[][2] = {{"20", "failed"},
                             {"30", "contaminated"},
                             {"30", "missing"},
                             {"40", "corrupt"},
                             {"50", "corrupt"}};
    int idx[] = {1, 7, 12, 3, 9};
    assert_null(an.res.points[9].cpu_prof);
    for (int k = 0; k < 5; k++) {
        const struct point *p = &an.res.points[idx[k]];
        assert_int_equal(p->services, atoi(want[k][0]));
        assert_string_equal(p->status, want[k][1]);
        assert_true(p->reason && p->reason[0]);
    }
    assert_int_equal(an.verdict.kind, MODEL_SUPERLINEAR);
    analysis_free(&an);
    /* The report names them too. */
    char out[600];
    snprintf(out, sizeof(out), "%s/report", root);
    assert_int_equal(run_analyze(root, out), 0);
    snprintf(path, sizeof(path), "%s/report.md", out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char md[65536];
    size_t got = fread(md, 1, sizeof(md) - 1, f);
    md[got] = 0;
    fclose(f);
    assert_non_null(strstr(md, "N=20 repeat 1: failed"));
    assert_non_null(strstr(md, "N=30 repeat 2: contaminated"));
    assert_non_null(strstr(md, "N=30 repeat 3: missing"));
    assert_non_null(strstr(md, "N=40 repeat 1: corrupt"));
    assert_non_null(strstr(md, "N=50 repeat 2: corrupt"));
    buf_free(&err);
    synth_rmtree(root);
}

/* Issue 17: a point whose offered load fell short (the issue's own figures, in a
 * results folder whose sweep.json still says "ok") or whose requests were answered
 * 5xx is underloaded: named with its figures, and left out of the fit exactly as
 * if it had never been run. */
static void test_underloaded_points_are_left_out_of_the_fit_and_named(void **state)
{
    (void)state;
    char *with = tmp_root("under"), *without = tmp_root("under-gone");
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 3,
                      .a = 2,
                      .b = 0.1,
                      .c = 0.001,
                      .cv = 0.02,
                      .seed = 17,
                      .failed_index = -1,
                      .contaminated_index = -1,
                      .missing_index = -1,
                      .with_load = true,
                      .short_index = 14, /* N=50 repeat 3 */
                      .errors_index = 8, /* N=40 repeat 2 */
                      .tasks = false};
    synth_results(with, &s);
    synth_results(without, &s); /* same seed: the same noise at every other point */
    char path[700];
    snprintf(path, sizeof(path), "%s/50_services/run-3", without);
    synth_rmtree(path);
    snprintf(path, sizeof(path), "%s/40_services/run-2", without);
    synth_rmtree(path);

    struct analysis an, gone;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(analysis_run(with, 0.2, FIT_DEFAULT_CONFIDENCE, &an, &err), 0);
    assert_int_equal(analysis_run(without, 0.2, FIT_DEFAULT_CONFIDENCE, &gone, &err), 0);
    assert_int_equal(an.res.count, 15);
    assert_int_equal(an.res.usable, 13);
    assert_int_equal(an.nobs, 13);
    const struct point *p = &an.res.points[14];
    assert_int_equal(p->services, 50);
    assert_string_equal(p->status, "underloaded");
    assert_non_null(strstr(p->reason, "0.1 of 2 requests/s per service (5%, below 95%)"));
    assert_non_null(strstr(p->reason, "51158 of 54199 requests failed"));
    assert_non_null(strstr(p->reason, "51000 were never sent"));
    p = &an.res.points[8];
    assert_int_equal(p->services, 40);
    assert_string_equal(p->status, "underloaded");
    assert_non_null(strstr(p->reason, "180 answered 5xx"));
    /* left out of the fit: the same coefficients as without those runs at all */
    assert_string_equal(gone.res.points[14].status, "missing");
    assert_int_equal(gone.nobs, 13);
    assert_true(fabs(an.fit.c - gone.fit.c) <= 1e-9 * fabs(gone.fit.c));
    assert_true(fabs(an.fit.b - gone.fit.b) <= 1e-9 * fabs(gone.fit.b));
    assert_true(fabs(an.fit.c_t - gone.fit.c_t) <= 1e-9 * fabs(gone.fit.c_t));
    assert_int_equal(an.verdict.kind, gone.verdict.kind);
    assert_int_equal(an.verdict.kind, MODEL_SUPERLINEAR);
    analysis_free(&an);
    analysis_free(&gone);
    /* and the report names both, with the figures */
    char out[600];
    snprintf(out, sizeof(out), "%s/report", with);
    assert_int_equal(run_analyze(with, out), 0);
    snprintf(path, sizeof(path), "%s/report.md", out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char md[1 << 17];
    size_t got = fread(md, 1, sizeof(md) - 1, f);
    md[got] = 0;
    fclose(f);
    assert_non_null(strstr(md, "N=50 repeat 3: underloaded"));
    assert_non_null(strstr(md, "51158 of 54199 requests failed"));
    assert_non_null(strstr(md, "N=40 repeat 2: underloaded"));
    buf_free(&err);
    synth_rmtree(with);
    synth_rmtree(without);
}

/* results_scan: a folder without sweep.json, one row per point folder (or
 * name that is not one) with its stats.json and what the point must be. */
static void test_results_scan_reads_folders_without_manifest(void **state)
{
    (void)state;
    static const struct {
        const char *dir;   /* under root */
        const char *stats; /* stats.json, NULL: none */
        int services, repeat;
        const char *status; /* NULL: not a point, must not be listed */
        const char *why;
    } rows[] = {
        {"10_services", "{\"window_s\": 2, \"cpu_ns\": 1e9}", 10, 1, "ok",
         "a point without repeats is the N folder itself, repeat 1"},
        {"20_services/run-2", "{\"window_s\": 1}", 20, 2, "ok",
         "profiles-only folders: cpu_ns may be absent"},
        {"20_services/run-1", "{\"window_s\": 1, \"contaminated\": true}", 20, 1, "contaminated",
         "contaminated as with a manifest"},
        {"20_services/run-x", "{\"window_s\": 1}", 0, 0, NULL, "run-x is not a repeat"},
        {"30_services/run-1", NULL, 30, 1, "missing", "no stats.json"},
        {"30_services/run-10", "{\"window_s\": ", 30, 10, "corrupt", "stats.json cut short"},
        {"40_services", "{\"cpu_ns\": 1e9}", 40, 1, "corrupt", "window_s is still required"},
        {"5_services/run-1", "{\"window_s\": 1, \"cpu_ns\": 0}", 5, 1, "ok",
         "sorted by N (5 before 10), not by name"},
        {"report", "{\"window_s\": 1}", 0, 0, NULL, "the report folder"},
        {"x_services", "{\"window_s\": 1}", 0, 0, NULL, "N is not a number"},
        {"0_services", "{\"window_s\": 1}", 0, 0, NULL, "N must be > 0"},
        {"60_servicesx", "{\"window_s\": 1}", 0, 0, NULL, "trailing characters"},
    };
    /* the listed points in the order results_scan must give them */
    static const int order[] = {7, 0, 2, 1, 4, 5, 6};
    char *root = tmp_root("scan");
    mkdir(root, 0755);
    char path[800];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char parent[700];
        snprintf(parent, sizeof(parent), "%s/%s", root, rows[i].dir);
        char *slash = strchr(parent + strlen(root) + 1, '/');
        if (slash) {
            *slash = '\0';
            mkdir(parent, 0755);
        }
        snprintf(path, sizeof(path), "%s/%s", root, rows[i].dir);
        mkdir(path, 0755);
        if (rows[i].stats) {
            snprintf(path, sizeof(path), "%s/%s/stats.json", root, rows[i].dir);
            synth_write(path, rows[i].stats);
        }
    }
    snprintf(path, sizeof(path), "%s/20_services/run-2/cpu.prof", root);
    synth_write(path, "");
    snprintf(path, sizeof(path), "%s/50_services", root); /* a file, not a point folder */
    synth_write(path, "");

    struct results r;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(results_load(root, &r, &err), -1); /* analyze and gate need sweep.json */
    results_free(&r);
    assert_int_equal(results_scan(root, &r, &err), 0);
    assert_false(r.has_manifest);
    assert_int_equal(r.count, sizeof(order) / sizeof(order[0]));
    for (size_t k = 0; k < r.count; k++) {
        const struct point *p = &r.points[k];
        size_t i = (size_t)order[k];
        if (p->services != rows[i].services || p->repeat != rows[i].repeat ||
            strcmp(p->status, rows[i].status) != 0)
            fail_msg("point %zu: N=%d repeat %d %s (%s); want row %zu: N=%d repeat %d %s (%s)", k,
                     p->services, p->repeat, p->status, p->reason, i, rows[i].services,
                     rows[i].repeat, rows[i].status, rows[i].why);
        assert_int_equal(p->sequence, (int)k);
        assert_true(point_usable(p) ? p->reason[0] == '\0' : p->reason[0] != '\0');
        snprintf(path, sizeof(path), "/%s", rows[i].dir);
        assert_non_null(strstr(p->dir, path));
    }
    assert_int_equal(r.usable, 3);
    assert_true(fabs(r.points[1].cpu_s_per_s - 0.5) < 1e-12); /* 10_services: 1e9 ns / 2 s */
    assert_true(isnan(r.points[3].cpu_s_per_s));              /* 20/run-2: no cpu_ns */
    assert_non_null(r.points[3].cpu_prof);
    assert_null(r.points[1].cpu_prof);
    assert_int_equal(r.repeat_flag, 10);
    results_free(&r);

    snprintf(path, sizeof(path), "%s/absent", root);
    buf_reset(&err);
    assert_int_equal(results_scan(path, &r, &err), -1);
    assert_non_null(strstr(err.data, "absent"));
    buf_free(&err);
    synth_rmtree(root);
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

static bool nonempty(const char *dir, const char *name)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 200;
}

static char *slurp(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 256u << 20);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, got);
    fclose(f);
    return buf_detach(&b, NULL);
}

static const char *const plot_names[] = {"cpu_per_service", "total_cpu", "tasks_stacked",
                                         "threads_rss"};

static void test_analyze_writes_stable_report(void **state)
{
    (void)state;
    char *root = tmp_root("e2e");
    const double a = 2, b = 0.1, c = 0.0015;
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 3,
                      .a = a,
                      .b = b,
                      .c = c,
                      .cv = 0.02,
                      .seed = 21,
                      .failed_index = -1,
                      .contaminated_index = -1,
                      .missing_index = -1,
                      .tasks = true};
    synth_results(root, &s);
    char out[600];
    snprintf(out, sizeof(out), "%s/report", root);
    assert_int_equal(run_analyze(root, out), 0);

    json_t *rep = load_json(out, "report.json");
    assert_string_equal(json_string_value(json_object_get(rep, "verdict")), "superlinear");
    json_t *fit = json_object_get(rep, "fit");
    static const char *const fit_keys[] = {
        "a",   "b",        "c",           "a_se",        "b_se",          "c_se",
        "c_t", "exponent", "exponent_lo", "exponent_hi", "material_share"};
    for (size_t i = 0; i < sizeof(fit_keys) / sizeof(fit_keys[0]); i++)
        if (!json_is_number(json_object_get(fit, fit_keys[i])))
            fail_msg("fit.%s missing or not a number", fit_keys[i]);
    double fc = json_number_value(json_object_get(fit, "c"));
    double fcse = json_number_value(json_object_get(fit, "c_se"));
    assert_true(fabs(fc - c) < 3 * fcse);
    double k = json_number_value(json_object_get(fit, "exponent"));
    assert_true(k > 1.0 && k < 2.0);
    assert_true(json_is_number(json_object_get(rep, "per_service_cpu_ratio")));
    json_t *points = json_object_get(rep, "points");
    assert_int_equal(json_array_size(points), 15);
    static const char *const pkeys[] = {"services",  "repeat",  "cpu_percent",   "cpu_per_service",
                                        "rss_bytes", "threads", "wakeups_per_s", "status"};
    for (size_t i = 0; i < json_array_size(points); i++)
        for (size_t j = 0; j < sizeof(pkeys) / sizeof(pkeys[0]); j++)
            if (!json_object_get(json_array_get(points, i), pkeys[j]))
                fail_msg("points[%zu].%s missing", i, pkeys[j]);
    /* Task fits share the design: portlist + timers + remainder = total c. */
    json_t *tasks = json_object_get(rep, "tasks");
    assert_int_equal(json_array_size(tasks), 3);
    double csum = 0, portlist_share = 0;
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *t = json_array_get(tasks, i);
        static const char *const tkeys[] = {"name", "c", "c_se", "share"};
        for (size_t j = 0; j < 4; j++)
            assert_non_null(json_object_get(t, tkeys[j]));
        csum += json_number_value(json_object_get(t, "c"));
        if (strcmp(json_string_value(json_object_get(t, "name")), "portlist") == 0)
            portlist_share = json_number_value(json_object_get(t, "share"));
    }
    assert_true(fabs(csum - fc) < 1e-9 * fabs(fc) + 1e-15);
    assert_true(portlist_share > 0.95 && portlist_share < 1.05);
    assert_true(json_is_array(json_object_get(rep, "functions")));
    json_decref(rep);

    for (size_t i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s.svg", plot_names[i]);
        assert_true(nonempty(out, name));
        snprintf(name, sizeof(name), "%s.png", plot_names[i]);
        assert_true(nonempty(out, name));
    }
    char *md = slurp(out, "report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, "**superlinear**"));
    free(md);
    char *html = slurp(out, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "id=\"verdict\""));
    for (size_t i = 0; i < 4; i++) {
        char id[80];
        snprintf(id, sizeof(id), "<figure id=\"plot-%s\" class=\"plot\"><svg", plot_names[i]);
        if (!strstr(html, id))
            fail_msg("index.html lacks inline plot %s", plot_names[i]);
    }
    free(html);
    synth_rmtree(root);
}

/* Memory per service: PSS when every usable point has pss_bytes (a process tree's
 * memory with shared pages counted once), RSS for all points otherwise, so that one
 * measure runs across N; the reports say which. */
static void test_memory_per_service_is_pss_only_when_every_point_has_it(void **state)
{
    (void)state;
    struct {
        bool pss;
        const char *drop_from; /* a usable point's stats.json that loses pss_bytes */
        const char *want;
    } rows[] = {
        {true, NULL, "PSS"},
        {false, NULL, "RSS"},
        {true, "30_services/stats.json", "RSS"},
    };
    for (size_t row = 0; row < sizeof(rows) / sizeof(rows[0]); row++) {
        char *root = tmp_root("mem");
        struct synth s = {.counts = counts5,
                          .ncounts = 5,
                          .repeats = 1,
                          .a = 2,
                          .b = 0.1,
                          .c = 0,
                          .cv = 0.01,
                          .seed = 5,
                          .failed_index = -1,
                          .contaminated_index = -1,
                          .missing_index = -1,
                          .pss = rows[row].pss};
        synth_results(root, &s);
        char path[700];
        if (rows[row].drop_from) {
            snprintf(path, sizeof(path), "%s/%s", root, rows[row].drop_from);
            json_t *j = json_load_file(path, 0, NULL);
            assert_non_null(j);
            assert_int_equal(json_object_del(j, "pss_bytes"), 0);
            assert_int_equal(json_dump_file(j, path, 0), 0);
            json_decref(j);
        }
        struct analysis an;
        struct buf err;
        buf_init(&err, 4096);
        assert_int_equal(analysis_run(root, 0.2, FIT_DEFAULT_CONFIDENCE, &an, &err), 0);
        assert_string_equal(an.res.mem_source, rows[row].want);
        bool pss = !strcmp(rows[row].want, "PSS");
        for (size_t l = 0; l < an.nlevels; l++) {
            double n = an.levels[l].n, bytes = pss ? 1e6 + 20000 * n : 4e6 + 60000 * n;
            assert_true(fabs(an.levels[l].mem_per_service - bytes / n) < 1e-6 * bytes);
        }
        analysis_free(&an);
        buf_free(&err);
        char out[600], head[64];
        snprintf(out, sizeof(out), "%s/report", root);
        assert_int_equal(run_analyze(root, out), 0);
        snprintf(head, sizeof(head), "| %s/service |", rows[row].want);
        char *md = slurp(out, "report.md"), *html = slurp(out, "index.html");
        assert_non_null(md);
        assert_non_null(html);
        assert_non_null(strstr(md, head));
        assert_non_null(
            strstr(md, pss ? "Memory per service is PSS" : "Memory per service is RSS"));
        assert_non_null(
            strstr(html, pss ? "Memory per service is PSS" : "Memory per service is RSS"));
        json_t *rep = load_json(out, "report.json");
        assert_string_equal(json_string_value(json_object_get(rep, "memory_source")),
                            rows[row].want);
        json_decref(rep);
        free(md);
        free(html);
        synth_rmtree(root);
    }
}

static void test_linear_sweep_reads_linear(void **state)
{
    (void)state;
    char *root = tmp_root("lin");
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 3,
                      .a = 2,
                      .b = 0.1,
                      .c = 0,
                      .cv = 0.01,
                      .seed = 31,
                      .failed_index = -1,
                      .contaminated_index = -1,
                      .missing_index = -1,
                      .tasks = true};
    synth_results(root, &s);
    struct analysis an;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(analysis_run(root, 0.2, FIT_DEFAULT_CONFIDENCE, &an, &err), 0);
    assert_string_equal(an.verdict.name, "linear");
    assert_true(an.cpu_ratio < 1.0); /* overhead: CPU/N falls */
    assert_non_null(strstr(an.sentence, "linearly"));
    analysis_free(&an);
    buf_free(&err);
    synth_rmtree(root);
}

/* A sweep whose free fit puts the fixed cost below 0 is refitted with a = 0;
 * the report says so, and the tasks' fits still add up to the total's. */
static void test_negative_fixed_cost_is_held_at_zero(void **state)
{
    (void)state;
    char *root = tmp_root("zeroa");
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 3,
                      .a = -1.5,
                      .b = 0.8,
                      .c = 0.002,
                      .cv = 0.005,
                      .seed = 37,
                      .failed_index = -1,
                      .contaminated_index = -1,
                      .missing_index = -1,
                      .tasks = true};
    synth_results(root, &s);
    struct analysis an;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(analysis_run(root, 0.2, FIT_DEFAULT_CONFIDENCE, &an, &err), 0);
    assert_true(an.a_held_at_zero);
    assert_true(an.free_a < -0.5);
    assert_true(an.fit.a == 0 && an.fit.a_se == 0);
    assert_true(an.fit.dof == 15 - 2);
    double sum_c = 0;
    for (size_t t = 0; t < an.ntasks; t++)
        sum_c += an.tasks[t].fit.c;
    assert_true(an.ntasks >= 2);
    assert_true(fabs(sum_c - an.fit.c) < 1e-9 * fabs(an.fit.c) + 1e-15);
    analysis_free(&an);
    buf_free(&err);
    char out[1100];
    snprintf(out, sizeof(out), "%s/report", root);
    assert_int_equal(run_analyze(root, out), 0);
    char *md = slurp(out, "report.md");
    assert_non_null(strstr(md, "a is held at 0"));
    free(md);
    json_t *j = load_json(out, "report.json");
    assert_true(json_is_true(json_object_get(json_object_get(j, "fit"), "a_held_at_zero")));
    json_decref(j);
    synth_rmtree(root);
}

static void test_analyze_without_gnuplot_still_reports(void **state)
{
    (void)state;
    char *root = tmp_root("nognuplot");
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 1,
                      .a = 2,
                      .b = 0.1,
                      .c = 0.001,
                      .cv = 0.02,
                      .seed = 41,
                      .failed_index = -1,
                      .contaminated_index = -1,
                      .missing_index = -1,
                      .tasks = false};
    synth_results(root, &s);
    char out[600];
    snprintf(out, sizeof(out), "%s/report", root);
    setenv("SCALEPROF_GNUPLOT", "/nonexistent/gnuplot", 1);
    int rc = run_analyze(root, out);
    unsetenv("SCALEPROF_GNUPLOT");
    assert_int_equal(rc, 0);
    json_t *rep = load_json(out, "report.json");
    assert_non_null(
        strstr(json_string_value(json_object_get(rep, "plots_skipped")), "not installed"));
    json_decref(rep);
    char *html = slurp(out, "index.html");
    assert_non_null(strstr(html, "id=\"plots-skipped\""));
    free(html);
    assert_false(nonempty(out, "total_cpu.svg"));
    synth_rmtree(root);
}

static void test_unreadable_results_exit_2(void **state)
{
    (void)state;
    char *root = tmp_root("none");
    mkdir(root, 0755);
    char out[600];
    snprintf(out, sizeof(out), "%s/report", root);
    assert_int_equal(run_analyze(root, out), 2);
    char *argv[] = {"analyze", NULL};
    assert_int_equal(cmd_analyze(1, argv), 2);
    synth_rmtree(root);
}

/* Runs argv with stdout to outpath; bounded to 90 s; returns exit status. */
static int run_to_file(char *const argv[], const char *outpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Its own process group, so a timeout kills chromium's helpers too. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return -1;
    struct timespec t0, t1, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 90) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -2;
        }
        nanosleep(&nap, NULL);
    }
}

/* The page loads in a real browser with the verdict and every plot rendered
 * (the DOM after parsing holds each figure's <svg> with drawn paths). */
static void test_index_html_renders_in_headless_chromium(void **state)
{
    (void)state;
    char *root = tmp_root("chromium");
    struct synth s = {.counts = counts5,
                      .ncounts = 5,
                      .repeats = 3,
                      .a = 2,
                      .b = 0.1,
                      .c = 0.0015,
                      .cv = 0.02,
                      .seed = 51,
                      .failed_index = 4,
                      .contaminated_index = -1,
                      .missing_index = -1,
                      .tasks = true};
    synth_results(root, &s);
    char out[600], url[700], profile[700], dom[700], shot[700], shotarg[760];
    snprintf(out, sizeof(out), "%s/report", root);
    assert_int_equal(run_analyze(root, out), 0);
    snprintf(url, sizeof(url), "file://%s/index.html", out);
    snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium-profile", root);
    snprintf(dom, sizeof(dom), "%s/dom.html", root);
    char *argv[] = {"chromium",
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    profile,
                    "--dump-dom",
                    url,
                    NULL};
    int rc = run_to_file(argv, dom);
    if (rc == -1)
        fail_msg("chromium is not installed (apt-get install chromium)");
    assert_int_equal(rc, 0);
    char *d = slurp(root, "dom.html");
    assert_non_null(d);
    assert_non_null(strstr(d, "id=\"verdict\" class=\"verdict superlinear\""));
    assert_non_null(strstr(d, "grows faster than linearly"));
    for (size_t i = 0; i < 4; i++) {
        char id[80];
        snprintf(id, sizeof(id), "id=\"plot-%s\"", plot_names[i]);
        char *fig = strstr(d, id);
        if (!fig)
            fail_msg("rendered page lacks %s", id);
        char *end = strstr(fig, "</figure>");
        char *svg = strstr(fig, "<svg"), *path = strstr(fig, "<path");
        if (!end || !svg || svg > end || !path || path > end)
            fail_msg("figure %s has no rendered SVG", plot_names[i]);
    }
    assert_non_null(strstr(d, "N=50 repeat 1: failed"));
    free(d);
    /* A screenshot for a person to look at (kept in /tmp, path printed). */
    snprintf(shot, sizeof(shot), "/tmp/h6b_index_screenshot.png");
    snprintf(shotarg, sizeof(shotarg), "--screenshot=%s", shot);
    char *argv2[] = {"chromium",
                     "--headless",
                     "--no-sandbox",
                     "--disable-gpu",
                     "--disable-background-networking",
                     "--disable-component-update",
                     "--disable-sync",
                     "--no-first-run",
                     profile,
                     shotarg,
                     "--window-size=1200,3000",
                     url,
                     NULL};
    snprintf(dom, sizeof(dom), "%s/shot.log", root);
    assert_int_equal(run_to_file(argv2, dom), 0);
    struct stat st;
    assert_int_equal(stat(shot, &st), 0);
    assert_true(st.st_size > 10000);
    print_message("screenshot: %s\n", shot);
    synth_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_parser_rows),
        cmocka_unit_test(test_results_read_task_entry_prefixes),
        cmocka_unit_test(test_bad_points_are_excluded_and_named),
        cmocka_unit_test(test_underloaded_points_are_left_out_of_the_fit_and_named),
        cmocka_unit_test(test_results_scan_reads_folders_without_manifest),
        cmocka_unit_test(test_analyze_writes_stable_report),
        cmocka_unit_test(test_memory_per_service_is_pss_only_when_every_point_has_it),
        cmocka_unit_test(test_linear_sweep_reads_linear),
        cmocka_unit_test(test_negative_fixed_cost_is_held_at_zero),
        cmocka_unit_test(test_analyze_without_gnuplot_still_reports),
        cmocka_unit_test(test_unreadable_results_exit_2),
        cmocka_unit_test(test_index_html_renders_in_headless_chromium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
