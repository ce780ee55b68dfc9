/*
 * sweep_point: one point of a sweep, start to finish: copy (or rewrite) the
 * config into the point's folder and run the target from that copy, wait
 * until it answers, warm up, fetch the CPU profile over the window while
 * sampling /proc once a second, fetch heap/threads/metrics, stop the target,
 * write the files. Whatever goes wrong is recorded on the point and the
 * sweep goes on; only a signal stops the sweep.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "loadgen.h"
#include "outfile.h"
#include "pointcfg.h"
#include "procstat.h"
#include "progress.h"
#include "sweep.h"
#include "target.h"

#define BODY_MAX ((size_t)512 << 20) /* profiles of big processes are large, but not this */
#define READY_POLL_MS 50
#define STOP_GRACE_S 10.0

struct point_run {
    struct sweep_ctx *ctx;
    struct sweep_point *p;
    int index;
    char dir[PATH_MAX - 64]; /* room for a file name in every PATH_MAX path built on it */
    struct pointcfg cfg;
    struct target target;
    struct loadgen *load;
    struct point_stats stats;
    struct buf reason;
    bool failed;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void fail(struct point_run *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct point_run *pr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (pr->reason.len)
        buf_puts(&pr->reason, "; ");
    buf_vprintf(&pr->reason, fmt, ap);
    va_end(ap);
    pr->failed = true;
}

static void show(struct point_run *pr, const char *phase, double left)
{
    struct sweep_run *run = pr->ctx->run;
    progress_update(pr->ctx->progress, pr->index + 1, (int)run->num_points, pr->p->services,
                    pr->p->repeat, phase, left);
}

/* The target died: record how, with the last lines of its log. */
static void fail_exited(struct point_run *pr, const char *when)
{
    char how[128], log[PATH_MAX];
    target_describe_exit(&pr->target, how, sizeof how);
    snprintf(log, sizeof log, "%s/.target.log.partial", pr->dir);
    char *tail = outfile_tail(log, 20);
    fail(pr, "target %s %s; last lines of target.log:\n%s", how, when, tail ? tail : "");
    free(tail);
}

static bool interrupted(struct point_run *pr)
{
    return *pr->ctx->signal != 0;
}

static char *url(struct point_run *pr, const char *path)
{
    char *u = NULL;
    if (asprintf(&u, "http://%s%s", pr->cfg.admin, path) < 0)
        abort();
    return u;
}

/* 1 ready, 0 not (failed or timed out: recorded), -1 interrupted. */
static int wait_ready(struct point_run *pr)
{
    double allowed = pr->ctx->run->ready_timeout_s > 0 ? pr->ctx->run->ready_timeout_s
                                                       : 30.0 + 0.001 * pr->p->services;
    double deadline = procstat_now() + allowed;
    char *health = url(pr, "/healthz"), *index = url(pr, "/debug/pprof/");
    int rc = 0;
    char err[CURL_ERROR_SIZE + 256];
    for (long attempt = 0; attempt < 100000; attempt++) {
        if (interrupted(pr)) {
            rc = -1;
            break;
        }
        if (target_exited(&pr->target)) {
            fail_exited(pr, "before it was ready");
            break;
        }
        double now = procstat_now();
        if (now > deadline) {
            fail(pr, "target not ready at %s after %.1f s (never answered 200)", health, allowed);
            break;
        }
        show(pr, "starting", deadline - now);
        long status = 0;
        if (fetch_get(health, 1000, 65536, NULL, &status, err, sizeof err) == 0) {
            if (status == 200) {
                rc = 1;
                break;
            }
            /* no /healthz: a pprof index that answers is ready enough */
            if (fetch_get(index, 1000, 1 << 20, NULL, &status, err, sizeof err) == 0 &&
                status == 200) {
                rc = 1;
                break;
            }
        }
        sleep_ms(READY_POLL_MS);
    }
    free(health);
    free(index);
    return rc;
}

/* Waits until the monotonic time `until`, watching the target. 1 ok, 0 died, -1 signal. */
static int wait_until(struct point_run *pr, double until, const char *phase)
{
    for (long i = 0; i < 10000000; i++) {
        if (interrupted(pr))
            return -1;
        if (target_exited(&pr->target)) {
            fail_exited(pr, phase[0] == 'w' ? "during the warm-up" : "during the window");
            return 0;
        }
        double left = until - procstat_now();
        if (left <= 0)
            return 1;
        show(pr, phase, left);
        sleep_ms(left < 0.2 ? (int)(left * 1000) + 1 : 200);
    }
    return 1;
}

/* Sums the sample counts of a gperftools CPU profile (header 0,3,0,period,0;
 * records count,depth,pcs...; trailer 0,1,0). */
static void count_profile(const struct buf *b, long *samples, long *period)
{
    *samples = *period = -1;
    const uintptr_t *w = (const uintptr_t *)(const void *)b->data;
    size_t n = b->len / sizeof *w;
    if (!b->data || n < 5 || w[0] != 0 || w[1] != 3 || w[2] != 0)
        return;
    *period = (long)w[3];
    long total = 0;
    size_t i = 2 + w[1]; /* header is 2 + header-words-count words */
    while (i + 2 <= n) {
        uintptr_t count = w[i], depth = w[i + 1];
        if (count == 0 && depth == 1 && i + 2 < n && w[i + 2] == 0)
            break; /* trailer */
        if (depth > 1024 || i + 2 + depth > n)
            return;
        total += (long)count;
        i += 2 + depth;
    }
    *samples = total;
}

static void save(struct point_run *pr, const char *name, const struct buf *b)
{
    if (outfile_write(pr->dir, name, b->data ? b->data : "", b->len) < 0)
        fail(pr, "writing %s/%s: %s", pr->dir, name, strerror(errno));
}

/* The window: profile fetch in the background, one /proc sample a second.
 * 1 ok, 0 failed, -1 signal. */
static int run_window(struct point_run *pr, double duration, struct buf *profile)
{
    struct fetcher f;
    struct fetch fx;
    if (fetcher_init(&f) < 0) {
        fail(pr, "curl_multi_init failed");
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/debug/pprof/profile?seconds=%.0f", duration);
    char *u = url(pr, path);
    /* the target answers after `duration`; allow generously for a loaded machine */
    long timeout_ms = (long)((duration + pr->ctx->run->fetch_timeout_s) * 1000);
    fetch_start(&f, &fx, u, timeout_ms, BODY_MAX);
    /* get the request onto the wire before the first sample, so the profile's window and
     * ours start together (loopback: a few milliseconds) */
    for (int i = 0; i < 20 && !fx.done; i++) {
        fetcher_run(&f, 1);
        double sent = 0;
        curl_easy_getinfo(fx.easy, CURLINFO_PRETRANSFER_TIME, &sent);
        if (sent > 0)
            break;
    }
    size_t cap = (size_t)ceil(duration) + 2;
    pr->stats.samples = calloc(cap, sizeof *pr->stats.samples);
    struct point_stats *st = &pr->stats;
    int rc = 1;
    if (target_read(&pr->target, &st->first, true) < 0) {
        fail_exited(pr, "at the start of the window");
        rc = 0;
    } else {
        st->samples[st->num_samples++] = st->first;
    }
    /* the window is timed from the first sample, which is when the profile began too */
    double end = st->first.t + duration;
    double next = procstat_now() + 1.0;
    while (rc == 1) {
        if (interrupted(pr)) {
            rc = -1;
            break;
        }
        double now = procstat_now();
        if (now >= end)
            break;
        if (now >= next && st->num_samples < cap - 1) {
            struct procstat s;
            if (target_read(&pr->target, &s, false) == 0)
                st->samples[st->num_samples++] = s;
            next += 1.0;
        }
        if (target_exited(&pr->target)) {
            fail_exited(pr, "during the window");
            rc = 0;
            break;
        }
        show(pr, "profiling", end - now);
        double wait = fmin(next, end) - procstat_now();
        fetcher_run(&f, wait > 0.1 ? 100 : (int)(wait * 1000) + 1);
    }
    if (rc == 1) {
        if (target_read(&pr->target, &st->last, true) < 0) {
            fail_exited(pr, "at the end of the window");
            rc = 0;
        } else {
            st->samples[st->num_samples++] = st->last;
            st->window_s = st->last.t - st->first.t;
        }
    }
    /* collect the profile (bounded by the fetch's own timeout) */
    while (rc == 1 && !fx.done) {
        if (interrupted(pr)) {
            rc = -1;
            break;
        }
        show(pr, "fetching profile", -1);
        fetcher_run(&f, 100);
    }
    if (rc == 1) {
        if (fx.result == CURLE_OK && fx.status == 200) {
            buf_append(profile, fx.body.data ? fx.body.data : "", fx.body.len);
        } else {
            fail(pr, "CPU profile %s: %s", u, fetch_error(&fx));
        }
    }
    free(u);
    fetch_cleanup(&f, &fx);
    fetcher_free(&f);
    return rc;
}

/* heap (when on), threads, metrics: each failure is noted, none is fatal alone.
 * -1 when a signal came (the point is then interrupted, like any other phase). */
static int collect_after(struct point_run *pr)
{
    struct {
        const char *path, *file;
        bool needed;
    } items[] = {
        {"/debug/pprof/heap", "heap.prof", pr->cfg.heap_profile || pr->ctx->heap_by_command},
        {"/debug/pprof/threads", "threads.txt", true},
        {"/metrics", "metrics.prom", true},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (!items[i].needed)
            continue;
        show(pr, "collecting", -1);
        char *u = url(pr, items[i].path);
        struct buf b;
        buf_init(&b, BODY_MAX);
        long status = 0;
        char err[CURL_ERROR_SIZE + 256];
        long timeout_ms = (long)(pr->ctx->run->fetch_timeout_s * 1000);
        if (fetch_get(u, timeout_ms, BODY_MAX, &b, &status, err, sizeof err) < 0)
            progress_message(pr->ctx->progress, "%s: %s", pr->p->dir, err);
        else if (status != 200)
            progress_message(pr->ctx->progress, "%s: %s answered HTTP %ld (recorded, not fatal)",
                             pr->p->dir, u, status);
        else
            save(pr, items[i].file, &b);
        if (status != 200 && !strcmp(items[i].file, "heap.prof")) {
            pr->stats.heap_status = status;
        }
        buf_free(&b);
        free(u);
        if (interrupted(pr))
            return -1;
    }
    return 0;
}

/* The config the target runs: the exact file is the point's config.yaml. */
static int prepare_config(struct point_run *pr, char *config, size_t size)
{
    if (pr->ctx->origin_url) {
        struct buf b;
        buf_init(&b, (size_t)1 << 30);
        char *err = pointcfg_rewrite_upstream(pr->p->config, pr->ctx->origin_url, &b);
        if (!err && outfile_write(pr->dir, "config.yaml", b.data, b.len) < 0 &&
            asprintf(&err, "writing config.yaml: %s", strerror(errno)) < 0)
            err = NULL;
        buf_free(&b);
        if (err) {
            fail(pr, "%s", err);
            free(err);
            return -1;
        }
    } else if (outfile_copy(pr->p->config, pr->dir, "config.yaml") < 0) {
        fail(pr, "copying %s: %s", pr->p->config, strerror(errno));
        return -1;
    }
    char abs_dir[PATH_MAX];
    if (!realpath(pr->dir, abs_dir)) {
        fail(pr, "%s: %s", pr->dir, strerror(errno));
        return -1;
    }
    snprintf(config, size, "%s/config.yaml", abs_dir);
    char *err = pointcfg_read(config, &pr->cfg);
    if (err) {
        fail(pr, "%s", err);
        free(err);
        return -1;
    }
    if (pr->ctx->run->admin_override) {
        free(pr->cfg.admin);
        pr->cfg.admin = strdup(pr->ctx->run->admin_override);
    }
    return 0;
}

static void start_load(struct point_run *pr, double from, double until)
{
    char **urls = calloc(pr->cfg.num_services + 1, sizeof *urls);
    size_t n = 0;
    for (size_t i = 0; urls && i < pr->cfg.num_services; i++)
        if (pr->cfg.listen[i] && asprintf(&urls[n], "http://%s/", pr->cfg.listen[i]) >= 0)
            n++;
    char *err = NULL;
    if (n == 0)
        fail(pr, "--load: no service listen addresses in the config");
    else if (!(pr->load = loadgen_start(urls, n, pr->ctx->run->load_rps, from, until, &err)))
        fail(pr, "%s", err ? err : "load generator failed");
    free(err);
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
}

int sweep_run_point(struct sweep_ctx *ctx, struct sweep_point *p, int index)
{
    struct sweep_run *run = ctx->run;
    struct point_run pr = {.ctx = ctx, .p = p, .index = index};
    buf_init(&pr.reason, 1 << 16);
    pr.stats.services = p->services;
    pr.stats.repeat = p->repeat;
    pr.stats.contaminated_share = run->contaminated_share;
    pr.stats.profile_samples = pr.stats.profile_period_us = -1;
    double t0 = procstat_now();
    sweep_timestamp(p->started_at, sizeof p->started_at);
    snprintf(pr.dir, sizeof pr.dir, "%s/%s", run->out, p->dir);
    char config[PATH_MAX + 16], log_tmp[PATH_MAX];
    snprintf(log_tmp, sizeof log_tmp, "%s/.target.log.partial", pr.dir);
    int rc = 0, step = 0;
    struct buf profile;
    buf_init(&profile, BODY_MAX);

    if (outfile_mkdirs(pr.dir) < 0) {
        fail(&pr, "%s: %s", pr.dir, strerror(errno));
        goto out;
    }
    if (prepare_config(&pr, config, sizeof config) < 0)
        goto out;
    static const char *const env[] = {"CPUPROFILE_PER_THREAD_TIMERS=1", "CPUPROFILE_FREQUENCY=100",
                                      NULL};
    char *err = target_start(&pr.target, ctx->command, config, log_tmp, env);
    if (err) {
        fail(&pr, "starting the target: %s", err);
        free(err);
        goto out;
    }
    pr.stats.pid = pr.target.pid;
    if ((step = wait_ready(&pr)) <= 0)
        goto stop;
    double window_start = procstat_now() + run->warmup_s;
    if (run->load_rps > 0)
        start_load(&pr, window_start, window_start + run->duration_s);
    if (pr.failed || (step = wait_until(&pr, window_start, "warm-up")) <= 0)
        goto stop;
    if ((step = run_window(&pr, run->duration_s, &profile)) <= 0)
        goto stop;
    pr.stats.threads_after = pr.stats.last.threads;
    /* no profile (the fetch failed: recorded) means no cpu.prof, never an empty one the
     * analysis would take for a truncated profile */
    if (!pr.failed) {
        save(&pr, "cpu.prof", &profile);
        count_profile(&profile, &pr.stats.profile_samples, &pr.stats.profile_period_us);
    }
    if (collect_after(&pr) < 0)
        step = -1;
stop:
    if (pr.load) {
        if (step < 0)
            loadgen_cancel(pr.load);
        loadgen_finish(pr.load, &pr.stats.load);
        pr.stats.has_load = true;
        pr.load = NULL;
        if (step > 0 && pr.stats.load.short_of_target)
            progress_message(ctx->progress,
                             "%s: load generator reached %.1f of %.1f requests/s per service "
                             "(short by more than 5%%)",
                             p->dir, pr.stats.load.rps_achieved, pr.stats.load.rps_target);
    }
    show(&pr, "stopping", -1);
    target_stop(&pr.target, STOP_GRACE_S);
    {
        char log_final[PATH_MAX];
        snprintf(log_final, sizeof log_final, "%s/target.log", pr.dir);
        rename(log_tmp, log_final);
    }
    if (step > 0) {
        char count[32];
        snprintf(count, sizeof count, "%llu\n", (unsigned long long)pr.stats.threads_after);
        if (outfile_write_str(pr.dir, "thread_count.txt", count) < 0)
            fail(&pr, "writing thread_count.txt: %s", strerror(errno));
        bool contaminated = false;
        if (sweep_write_stats(pr.dir, &pr.stats, &contaminated) < 0)
            fail(&pr, "writing stats.json: %s", strerror(errno));
        if (contaminated && !pr.failed) {
            buf_printf(&pr.reason,
                       "run delay above %.2f of its CPU time while other processes used over "
                       "%.0f%% of the machine",
                       run->contaminated_share, SWEEP_OTHER_LOAD_SHARE * 100);
            p->status = "contaminated";
        }
    }
    if (step < 0) {
        fail(&pr, "interrupted");
        rc = -1;
    }
out:
    if (pr.failed)
        p->status = "failed";
    else if (strcmp(p->status, "contaminated"))
        p->status = "ok";
    free(p->reason);
    p->reason = buf_detach(&pr.reason, NULL);
    if (!p->reason)
        p->reason = strdup("");
    sweep_timestamp(p->finished_at, sizeof p->finished_at);
    p->wall_s = procstat_now() - t0;
    target_free(&pr.target);
    pointcfg_free(&pr.cfg);
    free(pr.stats.samples);
    buf_free(&profile);
    buf_free(&pr.reason);
    return rc;
}
