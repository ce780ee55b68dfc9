/*
 * Synthetic results folders and a seeded PRNG for the analysis tests: writes
 * sweep.json and each point's stats.json / metrics_start.prom / metrics.prom
 * in the layout of results/README.md, with CPU = a + bN + cN² percent of one
 * core times (1 + cv·normal noise). Included by the test files (static).
 */
#ifndef TEST_ANALYZE_SYNTH_H
#define TEST_ANALYZE_SYNTH_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t synth_rng;
static uint64_t synth_next(void)
{
    uint64_t z = (synth_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double synth_uniform(void)
{
    return ((synth_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double synth_normal(void)
{
    double u1 = synth_uniform(), u2 = synth_uniform();
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

struct synth {
    const int *counts;
    size_t ncounts;
    int repeats;
    double a, b, c; /* CPU percent of one core */
    double cv;      /* relative noise */
    uint64_t seed;
    int failed_index;       /* sweep order index recorded as failed, or -1 */
    int contaminated_index; /* index whose stats.json says contaminated, or -1 */
    int missing_index;      /* index whose folder is absent, or -1 */
    bool tasks;             /* write metrics with a quadratic "portlist" and linear "timers" */
    /* --load sweeps: every stats.json gets a "load" object, delivered in full except
     * at two indexes (-1: none), whose target then did a tenth of the work: */
    bool with_load;
    int short_index;            /* the figures (0.1 of 2 requests/s, 51158 of 54199
                                 * failed); sweep.json says "ok", as before the rule */
    int errors_index;           /* the rate was met but 0.3% were answered 5xx; sweep.json
                                 * says "underloaded", as the harness writes it now */
    bool pss;                   /* stats.json has pss_bytes = 1e6 + 20000 N (RSS: 4e6 + 60000 N) */
    const char *manifest_extra; /* more members of sweep.json ("\"sequential\":{...}"), or NULL */
};

/* The "load" member of a stats.json (with its leading comma) for point idx. */
static void synth_load(const struct synth *s, int idx, char *out, size_t size)
{
    out[0] = '\0';
    if (!s->with_load)
        return;
    double achieved = 2.0, requests = 60000, errors = 0, not_sent = 0, timeout = 0, e5xx = 0;
    if (idx == s->short_index) {
        achieved = 0.1;
        requests = 54199;
        errors = 51158;
        not_sent = 51000;
        timeout = 158;
    } else if (idx == s->errors_index) {
        achieved = 1.99;
        errors = e5xx = 180;
    }
    snprintf(out, size,
             ",\"load\":{\"rps_target\":2,\"rps_achieved\":%g,\"requests\":%.0f,"
             "\"errors\":%.0f,\"errors_by_kind\":{\"connect\":0,\"timeout\":%.0f,"
             "\"status_5xx\":%.0f,\"status_other\":0,\"transport\":0,\"not_sent\":%.0f}}",
             achieved, requests, errors, timeout, e5xx, not_sent);
}

static void synth_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
}

/* Writes a results folder at root (created). */
static void synth_results(const char *root, const struct synth *s)
{
    char path[1024], text[8192];
    mkdir(root, 0755);
    synth_rng = s->seed;
    FILE *sw;
    snprintf(path, sizeof(path), "%s/sweep.json", root);
    sw = fopen(path, "w");
    if (!sw)
        abort();
    fprintf(sw,
            "{\"scaleprof_version\":\"0.1.0\",\"status\":\"complete\","
            "\"target\":{\"name\":\"synthetic\"},"
            "\"flags\":{\"warmup_s\":5,\"duration_s\":10,\"repeat\":%d},%s%s\"points\":[",
            s->repeats, s->manifest_extra ? s->manifest_extra : "", s->manifest_extra ? "," : "");
    int idx = 0;
    const double window = 10.0;
    for (int r = 1; r <= s->repeats; r++) {
        for (size_t k = 0; k < s->ncounts; k++, idx++) {
            int n = s->counts[k];
            char dir[256];
            if (s->repeats > 1)
                snprintf(dir, sizeof(dir), "%d_services/run-%d", n, r);
            else
                snprintf(dir, sizeof(dir), "%d_services", n);
            bool failed = idx == s->failed_index;
            bool under = s->with_load && idx == s->errors_index;
            fprintf(sw,
                    "%s{\"services\":%d,\"repeat\":%d,\"sequence\":%d,\"dir\":\"%s\","
                    "\"status\":\"%s\",\"reason\":\"%s\"}",
                    idx ? "," : "", n, r, idx, dir,
                    failed  ? "failed"
                    : under ? "underloaded"
                            : "ok",
                    failed  ? "target exited with status 1"
                    : under ? "load reached 1.99 of 2 requests/s per service; 180 answered 5xx"
                            : "");
            double noise = 1.0 + s->cv * synth_normal();
            double quad = s->c * n * n * noise, lin = (s->a + s->b * n) * noise;
            double cpu = quad + lin; /* percent of one core */
            if (s->with_load && (idx == s->short_index || idx == s->errors_index))
                cpu /= 10; /* the work that was not offered was not done */
            char load[512];
            synth_load(s, idx, load, sizeof load);
            if (failed || idx == s->missing_index)
                continue;
            snprintf(path, sizeof(path), "%s/%d_services", root, n);
            mkdir(path, 0755);
            snprintf(path, sizeof(path), "%s/%s", root, dir);
            mkdir(path, 0755);
            bool cont = idx == s->contaminated_index;
            char pss[64] = "";
            if (s->pss)
                snprintf(pss, sizeof(pss), "\"pss_bytes\":%.0f,", 1e6 + 20000.0 * n);
            snprintf(text, sizeof(text),
                     "{\"services\":%d,\"repeat\":%d,\"pid\":1,\"window_s\":%g,"
                     "\"cpu_ns\":%.0f,\"cpu_percent\":%.9g,\"rss_bytes\":%.0f,%s"
                     "\"threads\":%d,\"wakeups_per_s\":%g,\"run_delay_ns\":0,"
                     "\"run_delay_share\":%g,\"contaminated\":%s%s}\n",
                     n, r, window, cpu / 100.0 * window * 1e9, cpu, 4e6 + 60000.0 * n, pss,
                     3 + 2 * n, 1.5 * n, cont ? 0.4 : 0.01, cont ? "true" : "false", load);
            snprintf(path, sizeof(path), "%s/%s/stats.json", root, dir);
            synth_write(path, text);
            snprintf(path, sizeof(path), "%s/%s/thread_count.txt", root, dir);
            synth_write(path, "7\n");
            if (!s->tasks)
                continue;
            /* The quadratic part is the portlist task's; half of the linear
             * part is the timers task's; the rest is in no counter. */
            double before_p = 100.0, before_t = 50.0;
            snprintf(text, sizeof(text),
                     "# TYPE refproxy_task_cpu_seconds_total counter\n"
                     "refproxy_task_cpu_seconds_total{task=\"portlist\",service=\"s1\"} %.9f\n"
                     "refproxy_task_cpu_seconds_total{task=\"timers\",service=\"s1\"} %.9f\n",
                     before_p, before_t);
            snprintf(path, sizeof(path), "%s/%s/metrics_start.prom", root, dir);
            synth_write(path, text);
            double p_s = quad / 100.0 * window, t_s = 0.5 * s->b * n * noise / 100.0 * window;
            snprintf(text, sizeof(text),
                     "# HELP refproxy_task_cpu_seconds_total Thread CPU time.\n"
                     "# TYPE refproxy_task_cpu_seconds_total counter\n"
                     "refproxy_task_cpu_seconds_total{task=\"portlist\",service=\"s1\"} %.9f\n"
                     "refproxy_task_cpu_seconds_total{task=\"portlist\",service=\"s2\"} 0\n"
                     "refproxy_task_cpu_seconds_total{task=\"timers\",service=\"s1\"} %.9f\n"
                     "refproxy_task_runs_total{task=\"timers\",service=\"a \\\"q\\\"\"} 12\n",
                     before_p + p_s, before_t + t_s);
            snprintf(path, sizeof(path), "%s/%s/metrics.prom", root, dir);
            synth_write(path, text);
        }
    }
    fputs("]}\n", sw);
    fclose(sw);
}

/* rm -r without a shell: nftw. */
#include <ftw.h>
static int synth_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}
static void synth_rmtree(const char *root)
{
    nftw(root, synth_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
