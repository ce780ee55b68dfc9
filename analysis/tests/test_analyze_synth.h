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
    int failed_index;           /* sweep order index recorded as failed, or -1 */
    int contaminated_index;     /* index whose stats.json says contaminated, or -1 */
    int missing_index;          /* index whose folder is absent, or -1 */
    bool tasks;                 /* write metrics with a quadratic "portlist" and linear "timers" */
    const char *manifest_extra; /* more members of sweep.json ("\"sequential\":{...}"), or NULL */
};

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
            fprintf(sw,
                    "%s{\"services\":%d,\"repeat\":%d,\"sequence\":%d,\"dir\":\"%s\","
                    "\"status\":\"%s\",\"reason\":\"%s\"}",
                    idx ? "," : "", n, r, idx, dir, failed ? "failed" : "ok",
                    failed ? "target exited with status 1" : "");
            double noise = 1.0 + s->cv * synth_normal();
            double quad = s->c * n * n * noise, lin = (s->a + s->b * n) * noise;
            double cpu = quad + lin; /* percent of one core */
            if (failed || idx == s->missing_index)
                continue;
            snprintf(path, sizeof(path), "%s/%d_services", root, n);
            mkdir(path, 0755);
            snprintf(path, sizeof(path), "%s/%s", root, dir);
            mkdir(path, 0755);
            bool cont = idx == s->contaminated_index;
            snprintf(text, sizeof(text),
                     "{\"services\":%d,\"repeat\":%d,\"pid\":1,\"window_s\":%g,"
                     "\"cpu_ns\":%.0f,\"cpu_percent\":%.9g,\"rss_bytes\":%.0f,"
                     "\"threads\":%d,\"wakeups_per_s\":%g,\"run_delay_ns\":0,"
                     "\"run_delay_share\":%g,\"contaminated\":%s}\n",
                     n, r, window, cpu / 100.0 * window * 1e9, cpu, 4e6 + 60000.0 * n, 3 + 2 * n,
                     1.5 * n, cont ? 0.4 : 0.01, cont ? "true" : "false");
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
