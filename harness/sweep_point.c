/*
 * sweep_point: one point of a sweep, start to finish: copy (or rewrite) the
 * config into the point's folder and run the target from that copy, wait
 * until it answers, pick its profiler (profiler.h), warm up, profile over the
 * window while sampling /proc once a second, collect what the profiler takes
 * after the window and /metrics, stop the target, write the files. Whatever
 * goes wrong is recorded on the point and the sweep goes on; only a signal
 * stops the sweep. A point stands on its process measurements: a missing
 * profile is recorded, not a failure.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "loadgen.h"
#include "outfile.h"
#include "pointcfg.h"
#include "pointfile.h"
#include "procstat.h"
#include "profiler.h"
#include "progress.h"
#include "ready.h"
#include "sweep.h"
#include "target.h"

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
    const struct profiler *profiler;
    struct profiler_point pp;
    struct fetcher fetcher;   /* the window's transfers */
    uint64_t target_fd_limit; /* its RLIMIT_NOFILE when the load started; 0: unknown */
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

/* A results file the profiler could not write (disk full) fails the point: said once,
 * then cleared, so a later write failure is told apart and this one is not repeated. */
static void take_io_error(struct point_run *pr)
{
    char *io = pr->stats.profile.io_error;
    if (io[0]) {
        fail(pr, "%s", io);
        io[0] = '\0';
    }
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

/* 1 ready, 0 not (failed or timed out: recorded), -1 interrupted. What ready
 * means (the admin endpoint answers, or every service port accepts) is ready.c's. */
static int wait_ready(struct point_run *pr)
{
    double allowed = pr->ctx->run->ready_timeout_s > 0 ? pr->ctx->run->ready_timeout_s
                                                       : 30.0 + 0.001 * pr->p->services;
    double deadline = procstat_now() + allowed;
    struct ready r;
    ready_init(&r, pr->cfg.admin, pr->cfg.listen, pr->cfg.num_services);
    for (long attempt = 0; attempt < 100000; attempt++) {
        if (interrupted(pr))
            return -1;
        if (target_exited(&pr->target)) {
            fail_exited(pr, "before it was ready");
            return 0;
        }
        double now = procstat_now();
        if (now > deadline) {
            char what[512];
            ready_describe(&r, what, sizeof what);
            fail(pr, "target not ready after %.1f s: waited for %s", allowed, what);
            return 0;
        }
        show(pr, "starting", deadline - now);
        if (ready_probe(&r, 1000))
            return 1;
        sleep_ms(READY_POLL_MS);
    }
    return 0;
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

static void note(void *ctx, const char *fmt, ...)
{
    struct point_run *pr = ctx;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    progress_message(pr->ctx->progress, "%s", msg);
}

/* The profiler for this point: --profiler, or with auto what the target's
 * /debug/pprof/ index says it serves (none: perf, where the kernel allows). */
static void pick_profiler(struct point_run *pr)
{
    const char *want = pr->ctx->profiler ? pr->ctx->profiler : "auto";
    pr->profiler = strcmp(want, "auto") ? profiler_by_name(want) : NULL;
    if (!pr->profiler) {
        char *index = NULL;
        if (pr->cfg.admin) {
            char *u = url(pr, "/debug/pprof/");
            struct buf b;
            buf_init(&b, 1 << 20);
            long status = 0;
            char err[CURL_ERROR_SIZE + 256];
            if (fetch_get(u, 5000, 1 << 20, &b, &status, err, sizeof err) == 0 && status == 200)
                index = buf_detach(&b, NULL);
            buf_free(&b);
            free(u);
        }
        pr->profiler = profiler_pick(index ? index : NULL);
        free(index);
    }
    pr->stats.profile.profiler = pr->profiler->name;
    pr->pp = (struct profiler_point){
        .admin = pr->cfg.admin,
        .pid = pr->target.pid,
        .duration_s = pr->ctx->run->duration_s,
        .hz = pr->ctx->run->hz,
        .fetch_timeout_ms = (long)(pr->ctx->run->fetch_timeout_s * 1000),
        .dir = pr->dir,
        .want_heap = pr->cfg.heap_profile || pr->ctx->heap_by_command,
        .fetcher = &pr->fetcher,
        .signal = pr->ctx->signal,
        .out = &pr->stats.profile,
        .note = note,
        .note_ctx = pr,
    };
}

/* The window: the profiler's work in the background, one /proc sample a
 * second. 1 ok, 0 failed, -1 signal. */
static int run_window(struct point_run *pr, double duration)
{
    void *pstate = NULL;
    bool profiling = pr->profiler->window_start(&pr->pp, &pstate) == 0;
    if (!profiling)
        progress_message(pr->ctx->progress, "%s: no CPU profile: %s (process measurements go on)",
                         pr->p->dir, pr->stats.profile.reason);
    /* get the requests onto the wire before the first sample, so the profile's window and
     * ours start together (loopback: a few milliseconds) */
    for (int i = 0; i < 20 && fetcher_active(&pr->fetcher) > 0; i++)
        fetcher_run(&pr->fetcher, 1);
    size_t cap = (size_t)ceil(duration) + 2;
    pr->stats.samples = calloc(cap, sizeof *pr->stats.samples);
    if (!pr->stats.samples)
        abort();
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
        int wait_ms = wait > 0.1 ? 100 : (int)(wait * 1000) + 1;
        if (fetcher_active(&pr->fetcher) > 0)
            fetcher_run(&pr->fetcher, wait_ms);
        else
            sleep_ms(wait_ms);
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
    /* collect what the profiler fetches (bounded by each fetch's own timeout) */
    while (rc == 1 && fetcher_active(&pr->fetcher) > 0) {
        if (interrupted(pr)) {
            rc = -1;
            break;
        }
        show(pr, "fetching profile", -1);
        fetcher_run(&pr->fetcher, 100);
    }
    /* files only from a whole window: a profile of a target that died or of
     * an interrupted point would be taken for a measurement */
    pr->profiler->window_finish(&pr->pp, pstate, rc == 1);
    take_io_error(pr);
    return rc;
}

/* After the window: the profiler's own collection, then /metrics. Each
 * failure is noted, none is fatal alone. -1 when a signal came (the point is
 * then interrupted, like any other phase). */
static int collect_after(struct point_run *pr)
{
    show(pr, "collecting", -1);
    if (pr->profiler->collect_after(&pr->pp) < 0 || interrupted(pr))
        return -1;
    take_io_error(pr);
    if (!pr->cfg.admin)
        return 0;
    char why[512];
    int rc = profiler_fetch_file(&pr->pp, "/metrics", "metrics.prom", why, sizeof why);
    if (rc < 0)
        return -1;
    if (rc == 0)
        progress_message(pr->ctx->progress, "%s: /metrics: %s (recorded, not fatal)", pr->p->dir,
                         why);
    take_io_error(pr);
    return 0;
}

/* The config the target runs: the exact file is the point's config.<ext> (the
 * config's own extension), with the point file beside it as point.json. What
 * the sweep needs to know comes from the point file, or, without one, from the
 * config read as refproxy YAML. */
static int prepare_config(struct point_run *pr, char *config, size_t size)
{
    const char *base = strrchr(pr->p->config, '/');
    const char *ext = strrchr(base ? base + 1 : pr->p->config, '.');
    char name[64];
    snprintf(name, sizeof name, "config%s", ext && strlen(ext) < 32 ? ext : "");
    char *err = NULL;
    if (pr->p->point_file) {
        err = pointfile_read(pr->p->point_file, &pr->cfg);
        if (!err && outfile_copy(pr->p->point_file, pr->dir, "point.json") < 0 &&
            asprintf(&err, "copying %s: %s", pr->p->point_file, strerror(errno)) < 0)
            err = NULL;
    }
    if (!err && pr->ctx->origin_url) {
        struct buf b;
        buf_init(&b, (size_t)1 << 30);
        err = pointcfg_rewrite_upstream(pr->p->config, pr->ctx->origin_url, &b);
        if (!err && outfile_write(pr->dir, name, b.data, b.len) < 0 &&
            asprintf(&err, "writing %s: %s", name, strerror(errno)) < 0)
            err = NULL;
        buf_free(&b);
    } else if (!err && outfile_copy(pr->p->config, pr->dir, name) < 0 &&
               asprintf(&err, "copying %s: %s", pr->p->config, strerror(errno)) < 0) {
        err = NULL;
    }
    char abs_dir[PATH_MAX];
    if (!err && !realpath(pr->dir, abs_dir) &&
        asprintf(&err, "%s: %s", pr->dir, strerror(errno)) < 0)
        err = NULL;
    if (!err) {
        snprintf(config, size, "%s/%s", abs_dir, name);
        if (!pr->p->point_file)
            err = pointcfg_read(config, &pr->cfg);
    }
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

/* Connections the target can take from the load generator without running out of
 * files: half the room under its open-file limit, since a proxy may open an upstream
 * connection for each. 0 when unknown (no bound from the target's side). */
static size_t target_fd_room(pid_t pid, uint64_t *limit)
{
    struct rlimit rl;
    struct procstat s;
    if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        procstat_read(pid, &s, true) < 0)
        return 0;
    *limit = rl.rlim_cur;
    uint64_t used = s.fds + 64; /* and some for what it opens on its own (logs, admin) */
    return rl.rlim_cur > used + 32 ? (size_t)(rl.rlim_cur - used) / 2 : 16;
}

static void start_load(struct point_run *pr, double from, double until)
{
    char **urls = calloc(pr->cfg.num_services + 1, sizeof *urls);
    if (!urls)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < pr->cfg.num_services; i++)
        if (pr->cfg.listen[i] && asprintf(&urls[n], "http://%s/", pr->cfg.listen[i]) >= 0)
            n++;
    char *err = NULL;
    struct loadgen_opts lo = {.max_connections = loadgen_connection_budget()};
    size_t room = target_fd_room(pr->target.pid, &pr->target_fd_limit);
    if (room && room < lo.max_connections)
        lo.max_connections = room;
    if (n > 0 && lo.max_connections < n)
        progress_message(pr->ctx->progress,
                         "%s: %zu services but room for %zu load connections (the open-file "
                         "limits of the target and of scaleprof): the services past that get "
                         "a new connection per request",
                         pr->p->dir, n, lo.max_connections);
    if (n == 0)
        fail(pr, "--load: no service listen addresses in the config");
    else if (!(pr->load = loadgen_start(urls, n, pr->ctx->run->load_rps, from, until, &lo, &err)))
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
    pr.stats.profile.samples = pr.stats.profile.period_us = -1;
    pr.stats.profile.sampled_cpu_ns = pr.stats.profile.complete_share = -1;
    pr.stats.profile.lost = -1;
    double t0 = procstat_now();
    sweep_timestamp(p->started_at, sizeof p->started_at);
    snprintf(pr.dir, sizeof pr.dir, "%s/%s", run->out, p->dir);
    char config[PATH_MAX + 80], log_tmp[PATH_MAX];
    snprintf(log_tmp, sizeof log_tmp, "%s/.target.log.partial", pr.dir);
    int rc = 0, step = 0;
    if (fetcher_init(&pr.fetcher) < 0) {
        fail(&pr, "curl_multi_init failed");
        goto out;
    }

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
    if (pr.failed) { /* the load did not start: no window, so no stats.json of zeros */
        step = 0;
        goto stop;
    }
    if ((step = wait_until(&pr, window_start, "warm-up")) <= 0)
        goto stop;
    pick_profiler(&pr);
    if ((step = run_window(&pr, run->duration_s)) <= 0)
        goto stop;
    pr.stats.threads_after = pr.stats.last.threads;
    if (collect_after(&pr) < 0)
        step = -1;
stop:
    if (pr.load) {
        /* interrupted, or no window to measure (the target died in the warm-up): the
         * generator would go on sending until the window's end before finish returns */
        if (step <= 0)
            loadgen_cancel(pr.load);
        loadgen_finish(pr.load, &pr.stats.load);
        pr.stats.has_load = true;
        pr.load = NULL;
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
        /* the load was not what the point claims to measure: its own status, with the
         * figures, ahead of contamination (both keep it out of the fit) */
        if (pr.stats.has_load && pr.stats.load.underloaded && !pr.failed) {
            struct load_figures f;
            loadgen_figures(&pr.stats.load, &f);
            struct buf why;
            buf_init(&why, 1 << 12);
            load_rule_describe(&f, &why);
            if (pr.target_fd_limit && pr.stats.last.fds + 16 >= pr.target_fd_limit)
                buf_printf(&why, "; the target held %llu files of its limit of %llu",
                           (unsigned long long)pr.stats.last.fds,
                           (unsigned long long)pr.target_fd_limit);
            if (pr.reason.len)
                buf_printf(&why, "; also contaminated: %s", pr.reason.data);
            buf_reset(&pr.reason);
            buf_append(&pr.reason, why.data ? why.data : "", why.len);
            buf_free(&why);
            p->status = "underloaded";
            progress_message(ctx->progress, "%s underloaded: %s", p->dir, pr.reason.data);
        }
    }
    if (step < 0) {
        fail(&pr, "interrupted");
        rc = -1;
    }
out:
    if (pr.failed)
        p->status = "failed";
    else if (strcmp(p->status, "contaminated") && strcmp(p->status, "underloaded"))
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
    fetcher_free(&pr.fetcher);
    buf_free(&pr.reason);
    return rc;
}
