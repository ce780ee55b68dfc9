/*
 * sweep: `scaleprof sweep` — the command line, the results folder (refuse or
 * move aside an earlier run), the order of points, the --load origin, signal
 * handling, and the manifest after every point. One point's work is in
 * sweep_point.c.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "buildid.h"
#include "fetch.h"
#include "gen.h"
#include "opts.h"
#include "outfile.h"
#include "pointcfg.h"
#include "pointfile.h"
#include "procstat.h"
#include "profiler.h"
#include "progress.h"
#include "sequential.h"
#include "sweep.h"
#include "target.h"

static volatile int g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

static const char sweep_usage[] =
    "usage: scaleprof sweep --configs DIR --out DIR [--warmup S] [--duration S]\n"
    "                       [--repeat R] [--order interleaved|shuffled] [--seed S]\n"
    "                       [--load RPS] [--target-cmd 'CMD {config}'] [--admin ADDR]\n"
    "                       [--contaminated-share X] [--retry-contaminated K]\n"
    "                       [--ready-timeout S] [--hz HZ]\n"
    "                       [--fetch-timeout S] [--profiler NAME] [--force]\n"
    "                       [--until-decided [--max-rounds M] [--budget S] [--confidence P]]\n"
    "\n"
    "  --configs DIR     scaleprof gen's <N>_services.* configs and point files, or\n"
    "                    <N>_services.yaml refproxy configs written by hand\n"
    "  --out DIR         results folder; one holding an earlier run is refused, or\n"
    "                    with --force moved aside to DIR.<its start time>\n"
    "  --warmup S        seconds between ready and the window (default 30)\n"
    "  --duration S      window in whole seconds: CPU profile and /proc samples (default 30)\n"
    "  --repeat R        run every count R times, 1..1000 (default 1)\n"
    "  --order O         interleaved (rounds of ascending counts, default) or shuffled\n"
    "  --seed S          seed of the shuffled order (default: the time)\n"
    "  --load RPS        requests per second to every service from an open-loop\n"
    "                    generator, against a respond origin the sweep starts; a point\n"
    "                    that got under 95% of it or over 0.1% errors is underloaded\n"
    "  --target-cmd CMD  default: the point files' command, else (refproxy YAML)\n"
    "                    <build>/proxy/refproxy --config {config}\n"
    "  --admin ADDR      admin host:port (default: the point file's, else\n"
    "                    prometheusAddr of each config)\n"
    "  --contaminated-share X  run delay, as a share of the target's CPU time, above\n"
    "                    which a point counts as contaminated by other load (default 0.25)\n"
    "  --retry-contaminated K  measure a contaminated point again at once, up to K\n"
    "                    times (default 0); each attempt is kept as <dir>.contaminated-<k>\n"
    "  --ready-timeout S how long a target may take to answer /healthz (or, with no\n"
    "                    admin endpoint, to accept connections on every service port)\n"
    "                    (default 30 s + 1 ms per service)\n"
    "  --fetch-timeout S time allowed for each fetch beyond the window (default 30)\n"
    "  --profiler NAME   auto (default: what the target's /debug/pprof/ index serves,\n"
    "                    else perf),\n"
    "                    gperftools (the target serves /debug/pprof/profile), go\n"
    "                    (net/http/pprof: CPU, heap, allocs, goroutine, mutex, block),\n"
    "                    perf (scaleprof samples the process tree at 99 Hz: any binary,\n"
    "                    no frame pointers needed) or none (process measurements only)\n"
    "  --hz HZ           perf's samples per CPU-second, 1..1000 (default 99): more for\n"
    "                    a light target or a short window, whose profiles are thin\n"
    "  --until-decided   after the first pass (--repeat rounds, default 2 here), look at\n"
    "                    the verdict after every round and add rounds until it is\n"
    "                    superlinear or linear at the corrected level of every look\n"
    "                    (analysis/README.md), the last look is taken, or the budget\n"
    "                    would be overrun\n"
    "  --max-rounds M    rounds at the last look, >= --repeat (default 8)\n"
    "  --budget S        add no round that would end more than S seconds after the\n"
    "                    start (a round is estimated as the longest so far; default: none)\n"
    "  --confidence P    one-sided level the looks together hold, in [0.5, 1)\n"
    "                    (default 0.95, as analyze; the gate tests at 0.99)\n"
    "Exit: 0 every point ok, 1 some failed, 2 usage, 130/143 interrupted.\n";

static void loadavg(double v[3])
{
    v[0] = v[1] = v[2] = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &v[0], &v[1], &v[2]) != 3)
            v[0] = v[1] = v[2] = 0;
        fclose(f);
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The counts of the <N>_services.point.json and <N>_services.yaml files in dir,
 * ascending, each once. 0, or -1 (errno) when dir cannot be read or memory ran out:
 * never a silent subset of the counts. */
static int scan_configs(const char *dir, int **counts, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 16;
    *counts = malloc(cap * sizeof **counts);
    if (!*counts) {
        closedir(d);
        errno = ENOMEM;
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        int count, used = 0, point = 0;
        if ((sscanf(e->d_name, "%d_services.yaml%n", &count, &used) == 1 &&
             used == (int)strlen(e->d_name) && count > 0) ||
            (sscanf(e->d_name, "%d_services.point.jso%n", &count, &point) == 1 &&
             !strcmp(e->d_name + point, "n") && count > 0)) {
            if (*n == cap) {
                int *grown = realloc(*counts, (cap *= 2) * sizeof **counts);
                if (!grown) {
                    closedir(d);
                    errno = ENOMEM;
                    return -1;
                }
                *counts = grown;
            }
            (*counts)[(*n)++] = count;
        }
    }
    closedir(d);
    qsort(*counts, *n, sizeof **counts, cmp_int);
    size_t unique = 0;
    for (size_t i = 0; i < *n; i++)
        if (unique == 0 || (*counts)[unique - 1] != (*counts)[i])
            (*counts)[unique++] = (*counts)[i];
    *n = unique;
    return 0;
}

/* The point file of count n in dir (malloc'd), or NULL when there is none. */
static char *point_file_of(const char *dir, int n)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%d%s", dir, n, POINTFILE_SUFFIX) < 0)
        abort();
    if (outfile_exists(path))
        return path;
    free(path);
    return NULL;
}

/* The configs are refproxy YAML: the sweep can read them and rewrite them for --load. */
static bool refproxy_yaml(const struct sweep_run *run)
{
    return !run->point_format || !strcmp(run->point_format, POINTCFG_REFPROXY_YAML);
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* What the sweep needs before any point runs, from the point files: the
 * target, its command, the upstream (the --load origin listens there) and the
 * config format. Every count must agree; configs without a point file count
 * as refproxy YAML with no command and no upstream. -1 after printing why. */
static int read_point_facts(struct sweep_run *run)
{
    const char *first = NULL;
    for (size_t i = 0; i < run->num_counts; i++) {
        char *path = point_file_of(run->configs, run->counts[i]), *err = NULL;
        struct pointcfg pc = {0};
        if (path && (err = pointfile_read(path, &pc))) {
            fprintf(stderr, "scaleprof sweep: %s\n", err);
            free(err);
            free(path);
            return -1;
        }
        const char *format = path ? pc.format : POINTCFG_REFPROXY_YAML;
        if (i == 0) {
            run->point_target = pc.target ? strdup(pc.target) : NULL;
            run->point_command = pc.command ? strdup(pc.command) : NULL;
            run->point_upstream = pc.upstream ? strdup(pc.upstream) : NULL;
            run->point_format = strdup(format);
            first = path ? path : "(no point file)";
            first = strdup(first);
        } else if (!same(format, run->point_format) || !same(pc.command, run->point_command) ||
                   !same(pc.upstream, run->point_upstream)) {
            fprintf(stderr,
                    "scaleprof sweep: the configs in %s are not one target's: %s says "
                    "format %s, command %s, upstream %s; %s says %s, %s, %s (gen them again)\n",
                    run->configs, first, run->point_format,
                    run->point_command ? run->point_command : "none",
                    run->point_upstream ? run->point_upstream : "none",
                    path ? path : "a config without a point file", format,
                    pc.command ? pc.command : "none", pc.upstream ? pc.upstream : "none");
            pointcfg_free(&pc);
            free(path);
            free((char *)first);
            return -1;
        }
        pointcfg_free(&pc);
        free(path);
    }
    free((char *)first);
    return 0;
}

static bool is_run_entry(const char *name)
{
    int count, used = 0;
    return !strcmp(name, "sweep.json") || !strcmp(name, "report") || !strncmp(name, "origin.", 7) ||
           (sscanf(name, "%d_services%n", &count, &used) == 1 && used == (int)strlen(name));
}

/* 0: no earlier run; 1: there is one (*started = its start, malloc'd). */
static int earlier_run(const char *out, char **started)
{
    *started = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sweep.json", out);
    if (outfile_exists(path)) {
        *started = sweep_read_started_at(path);
        return 1;
    }
    DIR *d = opendir(out);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) && !found)
        found = strcmp(e->d_name, "sweep.json") && is_run_entry(e->d_name);
    closedir(d);
    return found;
}

/* Moves the earlier run's entries (not unrelated files such as README.md) to
 * out.<started>; returns the folder used (malloc'd) or NULL. */
static char *move_aside(const char *out, const char *started)
{
    char stamp[64], aside[PATH_MAX];
    if (started)
        snprintf(stamp, sizeof stamp, "%s", started);
    else
        sweep_timestamp(stamp, sizeof stamp);
    for (int k = 0; k < 100; k++) {
        if (k == 0)
            snprintf(aside, sizeof aside, "%s.%s", out, stamp);
        else
            snprintf(aside, sizeof aside, "%s.%s-%d", out, stamp, k);
        if (mkdir(aside, 0755) == 0)
            break;
        if (errno != EEXIST || k == 99)
            return NULL;
    }
    DIR *d = opendir(out);
    if (!d)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_run_entry(e->d_name))
            continue;
        char from[PATH_MAX + 256], to[PATH_MAX + 256];
        snprintf(from, sizeof from, "%s/%s", out, e->d_name);
        snprintf(to, sizeof to, "%s/%s", aside, e->d_name);
        if (rename(from, to) < 0) {
            closedir(d);
            return NULL;
        }
    }
    closedir(d);
    return strdup(aside);
}

/* Moves a contaminated point's folder to <dir>.contaminated-<k> before it is
 * measured again. 0, or -1 (said) when it cannot be moved. */
static int keep_aside(struct sweep_run *run, struct sweep_point *p)
{
    char from[PATH_MAX], to[PATH_MAX + 32];
    snprintf(from, sizeof from, "%s/%s", run->out, p->dir);
    snprintf(to, sizeof to, "%s.contaminated-%d", from, p->remeasured + 1);
    if (rename(from, to) != 0) {
        fprintf(stderr, "scaleprof sweep: cannot keep %s aside as %s: %s\n", from, to,
                strerror(errno));
        return -1;
    }
    p->remeasured++;
    p->status = "pending"; /* the next attempt decides it afresh */
    return 0;
}

/* xorshift64*: a seeded, reproducible shuffle independent of libc's rand. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Appends one round (a pass over every count, ascending or shuffled) to
 * run->points. Returns 0, or -1 when out of memory. */
static int plan_round(struct sweep_run *run)
{
    size_t k = run->num_points;
    struct sweep_point *grown = realloc(run->points, (k + run->num_counts) * sizeof *run->points);
    int *order = malloc(run->num_counts * sizeof *order);
    if (!grown || !order) {
        free(order);
        if (grown)
            run->points = grown;
        return -1;
    }
    run->points = grown;
    int r = ++run->rounds_planned;
    memcpy(order, run->counts, run->num_counts * sizeof *order);
    if (!strcmp(run->order, "shuffled"))
        for (size_t i = run->num_counts; i > 1; i--) {
            size_t j = next_random(&run->shuffle_state) % i;
            int t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
    /* A sequential sweep may add rounds, so its points live in run-<R> from
     * the start, as a sweep with --repeat > 1 does. */
    bool per_run = run->repeat > 1 || run->until_decided;
    for (size_t i = 0; i < run->num_counts; i++, k++) {
        struct sweep_point *p = &run->points[k];
        memset(p, 0, sizeof *p);
        p->services = order[i];
        p->repeat = r;
        p->sequence = (int)k;
        p->status = "pending";
        p->reason = strdup("");
        if (per_run) {
            if (asprintf(&p->dir, "%d_services/run-%d", order[i], r) < 0)
                abort();
        } else if (asprintf(&p->dir, "%d_services", order[i]) < 0) {
            abort();
        }
        p->point_file = point_file_of(run->configs, order[i]);
        struct pointcfg pc;
        char *err = p->point_file ? pointfile_read(p->point_file, &pc) : NULL;
        /* the config the point file names (read again when the point runs) */
        if (p->point_file && !err) {
            if (asprintf(&p->config, "%s/%s", run->configs, pc.config) < 0)
                abort();
            pointcfg_free(&pc);
        } else if (asprintf(&p->config, "%s/%d_services.yaml", run->configs, order[i]) < 0) {
            abort();
        }
        free(err);
    }
    run->num_points = k;
    free(order);
    return 0;
}

/* A loopback TCP port nothing listens on right now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* refproxy next to this scaleprof: <build>/harness/scaleprof → <build>/proxy/refproxy. */
static char *default_refproxy(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char path[PATH_MAX + 32], *resolved;
    snprintf(path, sizeof path, "%s/../proxy/refproxy", dirname(self));
    resolved = realpath(path, NULL);
    return resolved;
}

/* --load: a respond-only refproxy the services proxy to, listening at the
 * upstream the point files record (so the configs run as they are), or on a
 * free loopback port when they record none (refproxy YAML, rewritten to point
 * at it). Returns its URL (malloc'd). */
static char *start_origin(struct sweep_run *run, const char *refproxy, struct target *t)
{
    int admin = free_port(), port = free_port();
    char host[256] = "127.0.0.1";
    if (run->point_upstream && gen_parse_url(run->point_upstream, host, sizeof host, &port) < 0) {
        fprintf(stderr,
                "scaleprof sweep: --load: the configs proxy to %s, where the origin cannot "
                "listen (it needs http://IP:PORT)\n",
                run->point_upstream);
        return NULL;
    }
    if (admin < 0 || port < 0 || admin == port) {
        fprintf(stderr, "scaleprof sweep: origin: no free loopback port for its admin (%s)\n",
                admin < 0 || port < 0 ? strerror(errno) : "it is the upstream's");
        return NULL;
    }
    char admin_addr[32];
    snprintf(admin_addr, sizeof admin_addr, "127.0.0.1:%d", admin);
    const struct gen_respond_config rc = {
        .comment = "the --load origin scaleprof sweep started: one respond service",
        .admin_addr = admin_addr,
        .host = host,
        .name = "origin",
        .ports = &port,
        .count = 1,
        .status = 200,
        .body = "ok\n",
    };
    struct buf yaml;
    buf_init(&yaml, 1 << 16);
    char *err = gen_render_respond(&rc, &yaml);
    int wrote = err ? -1 : outfile_write(run->out, "origin.yaml", yaml.data, yaml.len);
    buf_free(&yaml);
    if (err || wrote < 0) {
        fprintf(stderr, "scaleprof sweep: origin: %s/origin.yaml: %s\n", run->out,
                err ? err : strerror(errno));
        free(err);
        return NULL;
    }
    char config[PATH_MAX], log[PATH_MAX], health[64];
    snprintf(config, sizeof config, "%s/origin.yaml", run->out);
    snprintf(log, sizeof log, "%s/origin.log", run->out);
    char *cmd = NULL;
    char *quoted = target_shell_quote(refproxy);
    if (asprintf(&cmd, "%s --config {config}", quoted) < 0)
        abort();
    free(quoted);
    err = target_start(t, cmd, config, log, NULL);
    free(cmd);
    if (err) {
        fprintf(stderr, "scaleprof sweep: origin: %s\n", err);
        free(err);
        return NULL;
    }
    snprintf(health, sizeof health, "http://127.0.0.1:%d/healthz", admin);
    double deadline = procstat_now() + 10.0;
    while (!g_signal && procstat_now() < deadline) {
        long status = 0;
        char msg[CURL_ERROR_SIZE + 256];
        if (target_exited(t))
            break;
        if (fetch_get(health, 1000, 65536, NULL, &status, msg, sizeof msg) == 0 && status == 200) {
            char *url = NULL;
            if (asprintf(&url, "http://%s:%d", host, port) < 0)
                abort();
            return url;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!g_signal)
        fprintf(stderr, "scaleprof sweep: origin: %s\n",
                target_exited(t) ? "it exited before it answered"
                                 : "its /healthz did not answer 200 within 10 s");
    return NULL;
}

/* --load pre-flight: before the first point, can this machine offer the rate the
 * largest count asks for? Two limits: a keep-alive connection per service needs
 * that many fds, and the generator with the origin alone reaches some rate in a
 * second. Either shortfall is said now, with the figure, instead of showing up
 * only as underloaded points at the end. */
#define PREFLIGHT_MAX_RPS 1e6 /* no machine offers more; keeps the probe's schedule sane */
static void preflight_load(struct sweep_run *run, const char *origin_url, struct progress *pg)
{
    int max_n = run->counts[run->num_counts - 1];
    run->load_checked = true;
    run->load_asked_rps = run->load_rps * max_n;
    run->load_connection_budget = loadgen_connection_budget();
    if ((size_t)max_n > run->load_connection_budget)
        progress_message(pg,
                         "--load: %d services need a keep-alive connection each but the load "
                         "generator may hold %zu (the open-file limit, ulimit -n); past that "
                         "requests open new connections and may fall short",
                         max_n, run->load_connection_budget);
    char *url = NULL, *err = NULL;
    if (asprintf(&url, "%s/", origin_url) < 0)
        abort();
    double t = procstat_now();
    struct loadgen *lg = loadgen_start(&url, 1, fmin(run->load_asked_rps, PREFLIGHT_MAX_RPS),
                                       t + 0.25, t + 1.25, NULL, &err);
    free(url);
    if (!lg) {
        progress_message(pg, "--load pre-flight: %s", err ? err : "the load generator failed");
        free(err);
        return;
    }
    struct loadgen_result r;
    loadgen_finish(lg, &r);
    run->load_offered_rps = r.rps_achieved; /* one "service": the rate in all */
    if (r.short_of_target)
        progress_message(pg,
                         "--load %g at %d services asks for %.0f requests/s in all; this machine "
                         "offered %.0f/s (the load generator against the origin alone for 1 s), "
                         "so points above about %.0f services will fall short and be recorded "
                         "as underloaded",
                         run->load_rps, max_n, run->load_asked_rps, run->load_offered_rps,
                         floor(run->load_offered_rps / run->load_rps));
}

static char *find_binary(const char *cmd)
{
    size_t len = strcspn(cmd, " \t");
    char *word = strndup(cmd, len);
    if (!word)
        return NULL;
    if (word[0] == '\'' || word[0] == '"') { /* a quoted path: take it without quotes */
        char q = word[0];
        free(word);
        const char *end = strchr(cmd + 1, q);
        word = end ? strndup(cmd + 1, (size_t)(end - cmd - 1)) : NULL;
        if (!word)
            return NULL;
    }
    char *found = NULL;
    if (strchr(word, '/')) {
        found = realpath(word, NULL);
    } else if (getenv("PATH")) {
        char *path = strdup(getenv("PATH")), *save = NULL;
        for (char *dir = strtok_r(path, ":", &save); dir && !found;
             dir = strtok_r(NULL, ":", &save)) {
            char full[PATH_MAX];
            snprintf(full, sizeof full, "%s/%s", dir, word);
            if (access(full, X_OK) == 0)
                found = realpath(full, NULL);
        }
        free(path);
    }
    free(word);
    return found;
}

static void free_run(struct sweep_run *run)
{
    for (size_t i = 0; i < run->num_points; i++) {
        free(run->points[i].dir);
        free(run->points[i].config);
        free(run->points[i].point_file);
        free(run->points[i].reason);
    }
    free(run->points);
    free(run->counts);
    free(run->binary);
    free(run->build_id);
    free(run->point_target);
    free(run->point_command);
    free(run->point_upstream);
    free(run->point_format);
    free(run->looks);
}

static void finish_manifest(struct sweep_run *run, struct progress *pg)
{
    loadavg(run->loadavg_end);
    sweep_timestamp(run->finished_at, sizeof run->finished_at);
    if (sweep_write_manifest(run) < 0)
        progress_message(pg, "writing %s/sweep.json: %s", run->out, strerror(errno));
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --until-decided: the verdict on every round so far, from the files in the
 * results folder (the manifest was just written), recorded in run->looks;
 * then whether to add a round (analysis/sequential.h). */
static enum seq_stop sweep_look(struct sweep_run *run, struct progress *pg, int rounds,
                                bool round_failed, double elapsed_s, double longest_round_s)
{
    struct sweep_look *grown = realloc(run->looks, (run->num_looks + 1) * sizeof *run->looks);
    if (!grown)
        return SEQ_NO_VERDICT;
    run->looks = grown;
    struct sweep_look *look = &run->looks[run->num_looks++];
    memset(look, 0, sizeof *look);
    look->rounds = rounds;
    look->elapsed_s = elapsed_s;
    look->c_t = look->t_crit = NAN;
    snprintf(look->verdict, sizeof look->verdict, "none");
    struct analysis an;
    struct buf err;
    buf_init(&err, 4096);
    enum seq_stop stop;
    if (analysis_run(run->out, 0, run->confidence, &an, &err) != 0) {
        progress_message(pg, "look after round %d: no verdict (%s)", rounds,
                         err.data ? err.data : "the analysis failed");
        stop = SEQ_NO_VERDICT;
    } else {
        snprintf(look->verdict, sizeof look->verdict, "%s", an.verdict.name);
        look->c_t = an.fit.c_t;
        look->t_crit = an.fit.t_crit;
        stop = round_failed
                   ? SEQ_ROUND_FAILED
                   : seq_after_look(&(struct seq_design){run->repeat, run->max_rounds}, rounds,
                                    an.verdict.kind, elapsed_s, longest_round_s, run->budget_s);
        progress_message(pg, "look after round %d (one-sided %.2f%%): %s, %s; %s", rounds,
                         100 * an.look_confidence, an.verdict.name, an.verdict.reason,
                         stop == SEQ_CONTINUE ? "another round" : seq_stop_name(stop));
    }
    analysis_free(&an);
    buf_free(&err);
    return stop;
}

/* Runs every point (with --until-decided, round after round until the
 * verdict is decided); frees refproxy and default_cmd. */
static int sweep_execute(struct sweep_run *run, char *refproxy, char *default_cmd)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fetch_global_init();
    fetch_set_abort_flag(&g_signal);

    double t0 = monotonic_s();
    struct progress pg;
    progress_init(&pg, stderr);
    run->shuffle_state = run->seed ? run->seed : 0x9E3779B97F4A7C15ULL;
    for (int r = 0; r < run->repeat; r++)
        if (plan_round(run) < 0) {
            fprintf(stderr, "scaleprof sweep: out of memory planning %d rounds\n", run->repeat);
            free(refproxy);
            free(default_cmd);
            free_run(run);
            return 1;
        }
    run->status = "running";
    run->stopped = run->until_decided ? seq_stop_name(SEQ_CONTINUE) : NULL;
    sweep_timestamp(run->started_at, sizeof run->started_at);
    loadavg(run->loadavg_start);
    finish_manifest(run, &pg);

    struct sweep_ctx ctx = {.run = run,
                            .progress = &pg,
                            .command = run->target_cmd,
                            .heap_by_command = strstr(run->target_cmd, "--heap-profile") != NULL,
                            .profiler = run->profiler,
                            .signal = &g_signal};
    struct target origin = {0};
    char *origin_url = NULL;
    int status = 0;
    if (run->load_rps > 0) {
        origin_url = start_origin(run, refproxy, &origin);
        if (!origin_url) {
            progress_message(&pg, "the --load origin did not start (see %s/origin.log)", run->out);
            target_stop(&origin, 10.0);
            run->status = g_signal ? "interrupted" : "failed";
            if (run->until_decided)
                run->stopped = seq_stop_name(g_signal ? SEQ_INTERRUPTED : SEQ_ROUND_FAILED);
            finish_manifest(run, &pg);
            status = g_signal ? 128 + g_signal : 1;
            goto done;
        }
        /* configs that record no upstream are rewritten to point at the origin */
        ctx.origin_url = run->point_upstream ? NULL : origin_url;
        procstat_set_apparatus_pid(origin.pid);
        preflight_load(run, origin_url, &pg);
    }
    size_t failed = 0, contaminated = 0, underloaded = 0, failed_at_round_start = 0;
    double round_start = t0, longest_round = 0;
    for (size_t i = 0; i < run->num_points && !g_signal; i++) {
        struct sweep_point *p = &run->points[i];
        int rc = sweep_run_point(&ctx, p, (int)i);
        /* Other load on the machine distorted it: measure it again now, the
         * contaminated attempt kept aside (never fitted, never overwritten). */
        while (rc == 0 && !g_signal && !strcmp(p->status, "contaminated") &&
               p->remeasured < run->retry_contaminated) {
            if (keep_aside(run, p) < 0)
                break;
            progress_message(&pg, "%s contaminated (%s); measuring it again (%d of %d)", p->dir,
                             p->reason, p->remeasured, run->retry_contaminated);
            rc = sweep_run_point(&ctx, p, (int)i);
        }
        if (!strcmp(p->status, "failed")) {
            failed++;
            if (rc == 0)
                progress_message(&pg, "%s failed: %s", p->dir, p->reason);
        } else if (!strcmp(p->status, "contaminated")) {
            contaminated++;
            progress_message(&pg, "%s contaminated: %s", p->dir, p->reason);
        } else if (!strcmp(p->status, "underloaded")) {
            underloaded++; /* said with its figures when the point ended */
        }
        if (g_signal)
            break;
        finish_manifest(run, &pg);
        /* The end of a round: with --until-decided, look at the verdict once
         * the first pass is done, and add a round while it is undecided. */
        if (!run->until_decided || (i + 1) % run->num_counts != 0)
            continue;
        int rounds = run->rounds_done = (int)((i + 1) / run->num_counts);
        double now = monotonic_s();
        longest_round = fmax(longest_round, now - round_start);
        bool round_failed = failed - failed_at_round_start == run->num_counts;
        failed_at_round_start = failed;
        if (rounds >= run->repeat) {
            enum seq_stop stop =
                sweep_look(run, &pg, rounds, round_failed, now - t0, longest_round);
            if (stop == SEQ_CONTINUE && plan_round(run) < 0)
                stop = SEQ_NO_VERDICT;
            if (stop != SEQ_CONTINUE)
                run->stopped = seq_stop_name(stop);
            finish_manifest(run, &pg);
        }
        round_start = monotonic_s();
    }
    target_stop(&origin, 10.0);
    if (g_signal) {
        run->status = "interrupted";
        if (run->until_decided)
            run->stopped = seq_stop_name(SEQ_INTERRUPTED);
        status = 128 + g_signal;
    } else {
        run->status = failed == run->num_points ? "failed" : "complete";
        status = failed ? 1 : 0;
    }
    /* Points planned but never run (an interrupted round) stay "pending". */
    finish_manifest(run, &pg);
    progress_done(&pg);
    fprintf(stderr,
            "scaleprof sweep: %s: %zu of %zu points ok, %zu contaminated by other load, %zu "
            "underloaded (the load fell short), %zu failed; manifest %s/sweep.json\n",
            run->status, run->num_points - failed - contaminated - underloaded, run->num_points,
            contaminated, underloaded, failed, run->out);
    if (run->until_decided)
        fprintf(stderr,
                "scaleprof sweep: %d round(s) of at most %d (first look after %d), stopped: %s; "
                "last verdict %s at one-sided %.2f%% per look\n",
                run->rounds_done, run->max_rounds, run->repeat, run->stopped,
                run->num_looks ? run->looks[run->num_looks - 1].verdict : "none",
                100 * run->look_confidence);
done:
    target_free(&origin);
    free(origin_url);
    free(refproxy);
    free(default_cmd);
    free_run(run);
    return status;
}

enum {
    SWEEP_OPT_CONFIGS = 256,
    SWEEP_OPT_OUT,
    SWEEP_OPT_WARMUP,
    SWEEP_OPT_DURATION,
    SWEEP_OPT_REPEAT,
    SWEEP_OPT_ORDER,
    SWEEP_OPT_SEED,
    SWEEP_OPT_LOAD,
    SWEEP_OPT_TARGET_CMD,
    SWEEP_OPT_ADMIN,
    SWEEP_OPT_CONTAMINATED_SHARE,
    SWEEP_OPT_RETRY_CONTAMINATED,
    SWEEP_OPT_READY_TIMEOUT,
    SWEEP_OPT_FETCH_TIMEOUT,
    SWEEP_OPT_FORCE,
    SWEEP_OPT_PROFILER,
    SWEEP_OPT_HZ,
    SWEEP_OPT_UNTIL_DECIDED,
    SWEEP_OPT_MAX_ROUNDS,
    SWEEP_OPT_BUDGET,
    SWEEP_OPT_CONFIDENCE,
};

static const struct option sweep_options[] = {
    {"configs", required_argument, NULL, SWEEP_OPT_CONFIGS},
    {"out", required_argument, NULL, SWEEP_OPT_OUT},
    {"warmup", required_argument, NULL, SWEEP_OPT_WARMUP},
    {"duration", required_argument, NULL, SWEEP_OPT_DURATION},
    {"repeat", required_argument, NULL, SWEEP_OPT_REPEAT},
    {"order", required_argument, NULL, SWEEP_OPT_ORDER},
    {"seed", required_argument, NULL, SWEEP_OPT_SEED},
    {"load", required_argument, NULL, SWEEP_OPT_LOAD},
    {"target-cmd", required_argument, NULL, SWEEP_OPT_TARGET_CMD},
    {"admin", required_argument, NULL, SWEEP_OPT_ADMIN},
    {"contaminated-share", required_argument, NULL, SWEEP_OPT_CONTAMINATED_SHARE},
    {"retry-contaminated", required_argument, NULL, SWEEP_OPT_RETRY_CONTAMINATED},
    {"ready-timeout", required_argument, NULL, SWEEP_OPT_READY_TIMEOUT},
    {"fetch-timeout", required_argument, NULL, SWEEP_OPT_FETCH_TIMEOUT},
    {"force", no_argument, NULL, SWEEP_OPT_FORCE},
    {"profiler", required_argument, NULL, SWEEP_OPT_PROFILER},
    {"hz", required_argument, NULL, SWEEP_OPT_HZ},
    {"until-decided", no_argument, NULL, SWEEP_OPT_UNTIL_DECIDED},
    {"max-rounds", required_argument, NULL, SWEEP_OPT_MAX_ROUNDS},
    {"budget", required_argument, NULL, SWEEP_OPT_BUDGET},
    {"confidence", required_argument, NULL, SWEEP_OPT_CONFIDENCE},
    {NULL, 0, NULL, 0},
};

/* The flags into run. false: stop and exit with *status (0 after --help,
 * OPTS_USAGE after an error, already printed). */
static bool sweep_parse(struct sweep_run *run, bool *seed_given, int argc, char **argv, int *status)
{
    static const char *const orders[] = {"interleaved", "shuffled", NULL};
    const char *seq_flag = NULL; /* the first flag that needs --until-decided */
    bool repeat_given = false;
    struct opts o;
    opts_init(&o, "sweep", sweep_usage, sweep_options, NULL, argc, argv);
    for (int c; (c = opts_next(&o)) != OPTS_END;) {
        long whole;
        int index, rc = 0;
        switch (c) {
        case OPTS_STOP:
            *status = o.exit;
            return false;
        case OPTS_ARG:
            *status = opts_error(&o, "unexpected argument '%s'", o.arg);
            return false;
        case SWEEP_OPT_CONFIGS:
            run->configs = o.arg;
            break;
        case SWEEP_OPT_OUT:
            run->out = o.arg;
            break;
        case SWEEP_OPT_WARMUP:
            rc = opts_seconds(&o, 0, &run->warmup_s);
            break;
        case SWEEP_OPT_DURATION: /* whole: the profile's ?seconds= takes an integer */
            rc = opts_whole(&o, "whole seconds", 1, (long)OPTS_MAX_SECONDS, &whole);
            run->duration_s = rc == 0 ? (double)whole : run->duration_s;
            break;
        case SWEEP_OPT_REPEAT:
            rc = opts_whole(&o, "a count", 1, 1000, &whole);
            run->repeat = rc == 0 ? (int)whole : run->repeat;
            repeat_given = true;
            break;
        case SWEEP_OPT_ORDER:
            rc = opts_choice(&o, orders, &index);
            run->order = rc == 0 ? orders[index] : run->order;
            break;
        case SWEEP_OPT_SEED:
            rc = opts_ulong(&o, &run->seed);
            *seed_given = true;
            break;
        case SWEEP_OPT_LOAD:
            rc = opts_number(&o, "requests per second", 0, 100000, 0, &run->load_rps);
            break;
        case SWEEP_OPT_TARGET_CMD:
            run->target_cmd = o.arg;
            break;
        case SWEEP_OPT_ADMIN:
            run->admin_override = o.arg;
            break;
        case SWEEP_OPT_CONTAMINATED_SHARE:
            rc = opts_number(&o, "a share", 0, INFINITY, 0, &run->contaminated_share);
            break;
        case SWEEP_OPT_RETRY_CONTAMINATED:
            rc = opts_whole(&o, "a count", 0, 10, &whole);
            run->retry_contaminated = rc == 0 ? (int)whole : run->retry_contaminated;
            break;
        case SWEEP_OPT_READY_TIMEOUT:
            rc = opts_seconds(&o, 0.1, &run->ready_timeout_s);
            break;
        case SWEEP_OPT_FETCH_TIMEOUT:
            rc = opts_seconds(&o, 0.1, &run->fetch_timeout_s);
            break;
        case SWEEP_OPT_FORCE:
            run->force = true;
            break;
        case SWEEP_OPT_PROFILER:
            if (strcmp(o.arg, "auto") && !profiler_by_name(o.arg)) {
                *status =
                    opts_error(&o, "--profiler: expected %s, got '%s'", profiler_names(), o.arg);
                return false;
            }
            run->profiler = o.arg;
            break;
        case SWEEP_OPT_HZ:
            rc = opts_whole(&o, "samples per second", 1, 1000, &whole);
            run->hz = rc == 0 ? (unsigned)whole : run->hz;
            break;
        case SWEEP_OPT_UNTIL_DECIDED:
            run->until_decided = true;
            break;
        case SWEEP_OPT_MAX_ROUNDS:
            rc = opts_whole(&o, "a count", 1, 1000, &whole);
            run->max_rounds = rc == 0 ? (int)whole : run->max_rounds;
            seq_flag = seq_flag ? seq_flag : "--max-rounds";
            break;
        case SWEEP_OPT_BUDGET:
            rc = opts_seconds(&o, 1, &run->budget_s);
            seq_flag = seq_flag ? seq_flag : "--budget";
            break;
        case SWEEP_OPT_CONFIDENCE:
            rc = opts_number(&o, "a level", 0.5, 1, OPTS_OPEN_HI, &run->confidence);
            seq_flag = seq_flag ? seq_flag : "--confidence";
            break;
        }
        if (rc < 0) {
            *status = OPTS_USAGE;
            return false;
        }
    }
    if (!run->configs || !run->out) {
        *status = opts_error(&o, "--configs DIR and --out DIR are required");
        return false;
    }
    if (!run->until_decided) {
        if (seq_flag) {
            *status = opts_error(&o, "%s applies only with --until-decided", seq_flag);
            return false;
        }
        return true;
    }
    if (!repeat_given)
        run->repeat = SEQ_DEFAULT_FIRST_ROUNDS;
    if (!run->max_rounds)
        run->max_rounds = SEQ_DEFAULT_MAX_ROUNDS;
    struct seq_design d = {run->repeat, run->max_rounds};
    if (run->max_rounds < run->repeat || !seq_looks(&d)) {
        *status = opts_error(&o,
                             "--max-rounds %d with --repeat %d: the last look must come at or "
                             "after the first pass, and at most %d looks in all",
                             run->max_rounds, run->repeat, SEQ_MAX_LOOKS);
        return false;
    }
    run->look_confidence = seq_look_confidence(&d, run->confidence);
    return true;
}

int cmd_sweep(int argc, char **argv)
{
    struct sweep_run run = {.warmup_s = 30,
                            .duration_s = 30,
                            .repeat = 1,
                            .order = "interleaved",
                            .contaminated_share = 0.25,
                            .fetch_timeout_s = 30,
                            .hz = 99,
                            .confidence = FIT_DEFAULT_CONFIDENCE};
    bool seed_given = false;
    int status = OPTS_USAGE;
    if (!sweep_parse(&run, &seed_given, argc, argv, &status))
        return status;
    if (!seed_given)
        run.seed = (unsigned long)time(NULL);
    int scanned = scan_configs(run.configs, &run.counts, &run.num_counts);
    if (scanned < 0 || run.num_counts == 0) {
        /* errno only from a failed scan: an empty folder's may be anyone's */
        fprintf(stderr,
                "scaleprof sweep: %s: no <N>_services.yaml configs or point files (%s); "
                "scaleprof gen --out %s writes them\n",
                run.configs, scanned < 0 ? strerror(errno) : "none there", run.configs);
        free(run.counts);
        return 2;
    }
    char *refproxy = default_refproxy();
    char *default_cmd = NULL, *started = NULL;
    status = 2;
    if (read_point_facts(&run) < 0)
        goto fail;
    if (!run.target_cmd && run.point_command) {
        run.target_cmd = run.point_command;
        run.binary = find_binary(run.target_cmd);
        run.target_name = run.point_target;
    } else if (!run.target_cmd && !refproxy_yaml(&run)) {
        fprintf(stderr,
                "scaleprof sweep: %s: the point files name no command for target %s; pass "
                "--target-cmd 'CMD {config}'\n",
                run.configs, run.point_target ? run.point_target : "?");
        goto fail;
    } else if (!run.target_cmd) {
        if (!refproxy) {
            fprintf(stderr, "scaleprof sweep: refproxy is not built next to scaleprof "
                            "(../proxy/refproxy); build it or pass --target-cmd\n");
            goto fail;
        }
        char *q = target_shell_quote(refproxy);
        if (asprintf(&default_cmd, "%s --config {config}", q) < 0)
            abort();
        free(q);
        run.target_cmd = default_cmd;
        run.target_name = "refproxy";
        run.binary = strdup(refproxy);
    } else {
        run.binary = find_binary(run.target_cmd);
        run.target_name = run.binary ? strrchr(run.binary, '/') + 1 : "custom";
    }
    if (run.load_rps > 0 && !refproxy) {
        fprintf(stderr, "scaleprof sweep: --load needs refproxy (../proxy/refproxy) as origin\n");
        goto fail;
    }
    if (run.load_rps > 0 && !run.point_upstream && !refproxy_yaml(&run)) {
        fprintf(stderr,
                "scaleprof sweep: --load: the point files in %s record no upstream for the "
                "origin to listen at\n",
                run.configs);
        goto fail;
    }
    run.build_id = run.binary ? buildid_read(run.binary) : NULL;

    /* never silently overwrite an earlier run */
    if (earlier_run(run.out, &started)) {
        if (!run.force) {
            fprintf(stderr,
                    "scaleprof sweep: %s holds an earlier run (started %s); nothing "
                    "changed. --force moves it aside to %s.%s\n",
                    run.out, started ? started : "at an unknown time", run.out,
                    started ? started : "<now>");
            goto fail;
        }
        char *aside = move_aside(run.out, started);
        if (!aside) {
            fprintf(stderr, "scaleprof sweep: cannot move the earlier run in %s aside: %s\n",
                    run.out, strerror(errno));
            status = 1;
            goto fail;
        }
        fprintf(stderr, "scaleprof sweep: moved the earlier run in %s to %s\n", run.out, aside);
        free(aside);
    }
    if (outfile_mkdirs(run.out) < 0) {
        fprintf(stderr, "scaleprof sweep: %s: %s\n", run.out, strerror(errno));
        status = 1;
        goto fail;
    }
    free(started);
    return sweep_execute(&run, refproxy, default_cmd);
fail:
    free(started);
    free(refproxy);
    free(default_cmd);
    free_run(&run);
    return status;
}
