/*
 * results: loading a results folder, with a small Prometheus text parser for
 * metrics.prom. Every file is read whole with a size cap; anything wrong with
 * a point becomes that point's status and reason, never an abort. The points
 * come from sweep.json (results_load) or, for a folder without one, from its
 * <N>_services[/run-<R>] folders (results_scan); either way each is read by
 * the same load_point.
 */
#include "results.h"

#include "load_rule.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_MAX (64u << 20)

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[16384];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(out, chunk, got) != 0) {
            rc = -1;
            break;
        }
    if (ferror(f))
        rc = -1;
    fclose(f);
    if (rc == 0 && !out->data)
        rc = buf_reserve(out, 1); /* an empty file still yields "" */
    return rc;
}

/* --- Prometheus text format --------------------------------------------- */

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int prom_line(const char *s, const char *end, struct prom_sample *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = s;
    while (p < end && (*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') ||
                       (*p >= 'A' && *p <= 'Z') || (p > s && *p >= '0' && *p <= '9')))
        p++;
    if (p == s)
        return -1;
    out->name = dupn(s, (size_t)(p - s));
    if (p < end && *p == '{') {
        p++;
        for (;;) {
            while (p < end && (*p == ' ' || *p == ','))
                p++;
            if (p < end && *p == '}') {
                p++;
                break;
            }
            const char *k = p;
            while (p < end && *p != '=' && *p != '}' && *p != ' ')
                p++;
            if (p >= end || *p != '=' || p == k || p + 1 >= end || p[1] != '"')
                return -1;
            size_t klen = (size_t)(p - k);
            p += 2;
            struct buf v;
            buf_init(&v, 1 << 16);
            while (p < end && *p != '"') {
                char ch = *p++;
                if (ch == '\\' && p < end) {
                    ch = *p++;
                    if (ch == 'n')
                        ch = '\n';
                }
                if (buf_append(&v, &ch, 1) != 0) {
                    buf_free(&v);
                    return -1;
                }
            }
            if (p >= end) {
                buf_free(&v);
                return -1;
            }
            p++; /* closing quote */
            struct prom_label *nl =
                realloc(out->labels, (out->nlabels + 1) * sizeof(struct prom_label));
            if (!nl) {
                buf_free(&v);
                return -1;
            }
            out->labels = nl;
            nl[out->nlabels].key = dupn(k, klen);
            nl[out->nlabels].value = v.data ? buf_detach(&v, NULL) : dupn("", 0);
            out->nlabels++;
        }
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char num[64];
    size_t nl = 0;
    while (p < end && *p != ' ' && *p != '\t' && nl < sizeof(num) - 1)
        num[nl++] = *p++;
    num[nl] = 0;
    if (nl == 0)
        return -1;
    char *ep;
    errno = 0;
    out->value = strtod(num, &ep); /* also takes NaN, +Inf, -Inf */
    if (*ep != 0)
        return -1;
    return 0;
}

static void sample_free(struct prom_sample *s)
{
    free(s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        free(s->labels[i].key);
        free(s->labels[i].value);
    }
    free(s->labels);
}

int prom_parse(const char *text, size_t len, struct prom_set *out, struct buf *err)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0, lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        lineno++;
        const char *s = p;
        p = eol + 1;
        while (s < eol && (*s == ' ' || *s == '\t'))
            s++;
        const char *e = eol;
        while (e > s && (e[-1] == '\r' || e[-1] == ' '))
            e--;
        if (s == e || *s == '#')
            continue;
        if (out->count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct prom_sample *ns = realloc(out->samples, ncap * sizeof(*ns));
            if (!ns)
                return -1;
            out->samples = ns;
            cap = ncap;
        }
        struct prom_sample smp;
        if (prom_line(s, e, &smp) != 0) {
            sample_free(&smp);
            if (err)
                buf_printf(err, "line %zu: not a Prometheus sample", lineno);
            return -1;
        }
        out->samples[out->count++] = smp;
    }
    return 0;
}

void prom_free(struct prom_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        sample_free(&set->samples[i]);
    free(set->samples);
    memset(set, 0, sizeof(*set));
}

static const char *label_of(const struct prom_sample *s, const char *key)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].key, key) == 0)
            return s->labels[i].value;
    return NULL;
}

bool prom_sum(const struct prom_set *set, const char *name, const char *key, const char *value,
              double *sum)
{
    bool any = false;
    *sum = 0;
    for (size_t i = 0; i < set->count; i++) {
        const struct prom_sample *s = &set->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (key) {
            const char *v = label_of(s, key);
            if (!v || strcmp(v, value) != 0)
                continue;
        }
        *sum += s->value;
        any = true;
    }
    return any;
}

/* --- results folder ------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
    struct buf p;
    buf_init(&p, PATH_MAX * 2);
    if (buf_printf(&p, "%s/%s", a, b) != 0) {
        buf_free(&p);
        return NULL;
    }
    return buf_detach(&p, NULL);
}

static void point_fail(struct point *pt, const char *status, const char *fmt, const char *arg)
{
    snprintf(pt->status, sizeof(pt->status), "%s", status);
    struct buf m;
    buf_init(&m, 4096);
    buf_printf(&m, fmt, arg);
    free(pt->reason);
    pt->reason = m.data ? buf_detach(&m, NULL) : strdup("");
}

static double jnum(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* An int member: dflt when absent, not a number, or out of int's range (a
 * double past it cannot be converted: undefined behaviour). */
static int jint(json_t *o, const char *key, int dflt)
{
    double v = jnum(o, key, NAN);
    return v >= INT_MIN && v <= INT_MAX ? (int)v : dflt;
}

static int task_index(struct results *r, const char *name)
{
    for (size_t i = 0; i < r->ntasks; i++)
        if (strcmp(r->task_names[i], name) == 0)
            return (int)i;
    char **nt = realloc(r->task_names, (r->ntasks + 1) * sizeof(char *));
    if (!nt)
        return -1;
    r->task_names = nt;
    nt[r->ntasks] = strdup(name);
    return (int)r->ntasks++;
}

/* Records the task's entry prefix from a refproxy_task_info sample, unless
 * the task has one already. An empty prefix would match every call path: it
 * is no mapping. */
static void add_task_entry(struct results *r, const struct prom_sample *s)
{
    const char *task = label_of(s, "task"), *prefix = label_of(s, "entry_prefix");
    if (!task || !prefix || !*prefix || s->value == 0 || results_task_entry_prefix(r, task))
        return;
    struct task_entry *ne = realloc(r->task_entries, (r->ntask_entries + 1) * sizeof(*ne));
    if (!ne)
        return;
    r->task_entries = ne;
    ne[r->ntask_entries].task = strdup(task);
    ne[r->ntask_entries].prefix = strdup(prefix);
    if (ne[r->ntask_entries].task && ne[r->ntask_entries].prefix)
        r->ntask_entries++;
    else {
        free(ne[r->ntask_entries].task);
        free(ne[r->ntask_entries].prefix);
    }
}

const char *results_task_entry_prefix(const struct results *r, const char *task)
{
    for (size_t i = 0; i < r->ntask_entries; i++)
        if (strcmp(r->task_entries[i].task, task) == 0)
            return r->task_entries[i].prefix;
    return NULL;
}

/* Per-task CPU seconds per second. /metrics counters are cumulative since the
 * target started; with metrics_start.prom (fetched at the window's start) the
 * delta over the window is exact, otherwise the total is spread over warm-up
 * plus window, which is what the counter actually covers (roughly). */
static void load_metrics(struct results *r, struct point *pt, size_t *task_cap)
{
    char *path = path_join(pt->dir, "metrics.prom");
    char *path0 = path_join(pt->dir, "metrics_start.prom");
    struct buf text, text0, err;
    buf_init(&text, FILE_MAX);
    buf_init(&text0, FILE_MAX);
    buf_init(&err, 256);
    struct prom_set set = {0}, set0 = {0};
    bool have0 = false;
    if (!path || !path0 || read_file(path, &text) != 0)
        goto out;
    if (prom_parse(text.data, text.len, &set, &err) != 0)
        goto out; /* a corrupt metrics file leaves the point usable, without tasks */
    if (read_file(path0, &text0) == 0 && prom_parse(text0.data, text0.len, &set0, NULL) == 0)
        have0 = true;
    pt->has_metrics = true;
    pt->metrics_is_delta = have0;
    double span = have0 ? pt->window_s : r->warmup_s + pt->window_s;
    if (!(span > 0))
        span = pt->window_s > 0 ? pt->window_s : 1.0;
    const char *fam = "refproxy_task_cpu_seconds_total";
    for (size_t i = 0; i < set.count; i++) {
        if (strcmp(set.samples[i].name, "refproxy_task_info") == 0)
            add_task_entry(r, &set.samples[i]);
        if (strcmp(set.samples[i].name, fam) != 0)
            continue;
        const char *task = label_of(&set.samples[i], "task");
        if (!task)
            continue;
        int ti = task_index(r, task);
        if (ti < 0)
            continue;
        if ((size_t)ti >= *task_cap) {
            /* Grow every point's array so all share the task index space. */
            size_t ncap = (size_t)ti + 8;
            for (size_t k = 0; k < r->count; k++) {
                double *nt = realloc(r->points[k].task_cpu, ncap * sizeof(double));
                if (!nt)
                    goto out;
                for (size_t j = *task_cap; j < ncap; j++)
                    nt[j] = 0;
                r->points[k].task_cpu = nt;
            }
            *task_cap = ncap;
        }
        pt->task_cpu[ti] += set.samples[i].value / span;
    }
    if (have0)
        for (size_t i = 0; i < set0.count; i++) {
            if (strcmp(set0.samples[i].name, fam) != 0)
                continue;
            const char *task = label_of(&set0.samples[i], "task");
            for (size_t t = 0; task && t < r->ntasks && t < *task_cap; t++)
                if (strcmp(r->task_names[t], task) == 0)
                    pt->task_cpu[t] -= set0.samples[i].value / span;
        }
out:
    prom_free(&set);
    prom_free(&set0);
    buf_free(&text);
    buf_free(&text0);
    buf_free(&err);
    free(path);
    free(path0);
}

static void load_point(struct results *r, struct point *pt, size_t *task_cap)
{
    char *path = path_join(pt->dir, "stats.json");
    struct stat st;
    if (stat(pt->dir, &st) != 0) {
        point_fail(pt, "missing", "folder %s is missing", pt->dir);
        free(path);
        return;
    }
    json_error_t jerr;
    json_t *s = path ? json_load_file(path, 0, &jerr) : NULL;
    if (!s) {
        bool absent = path && stat(path, &st) != 0;
        point_fail(pt, absent ? "missing" : "corrupt",
                   absent ? "%s/stats.json is missing" : "%s/stats.json is not valid JSON",
                   pt->dir);
        free(path);
        return;
    }
    free(path);
    pt->window_s = jnum(s, "window_s", NAN);
    pt->cpu_ns = jnum(s, "cpu_ns", NAN);
    pt->cpu_percent = jnum(s, "cpu_percent", NAN);
    pt->rss_bytes = jnum(s, "rss_bytes", NAN);
    pt->pss_bytes = jnum(s, "pss_bytes", NAN);
    pt->threads = jnum(s, "threads", NAN);
    pt->wakeups_per_s = jnum(s, "wakeups_per_s", NAN);
    pt->run_delay_share = jnum(s, "run_delay_share", NAN);
    json_t *load = json_object_get(s, "load");
    struct load_figures lf = {0};
    if (json_is_object(load)) {
        pt->has_load = true;
        pt->load_rps_target = jnum(load, "rps_target", NAN);
        pt->load_rps_achieved = jnum(load, "rps_achieved", NAN);
        pt->load_requests = jnum(load, "requests", NAN);
        pt->load_errors = jnum(load, "errors", NAN);
        lf.rps_target = pt->load_rps_target;
        lf.rps_achieved = pt->load_rps_achieved;
        lf.requests = pt->load_requests;
        lf.errors = pt->load_errors;
        json_t *kinds = json_object_get(load, "errors_by_kind");
        for (int k = 0; k < LOAD_ERR_KINDS; k++)
            lf.by_kind[k] = jnum(kinds, load_error_kind_name(k), NAN);
    }
    bool contaminated = json_is_true(json_object_get(s, "contaminated"));
    /* the profiler names the CPU profile it wrote (any format profile.h
     * reads); older folders hold cpu.prof */
    json_t *cpu_file = json_object_get(s, "cpu_profile");
    char *cpu_name = json_is_string(cpu_file) ? strdup(json_string_value(cpu_file)) : NULL;
    json_t *no_prof = json_object_get(s, "profile_reason");
    pt->profile_reason = json_is_string(no_prof) ? strdup(json_string_value(no_prof)) : NULL;
    json_t *notes = json_object_get(s, "profile_notes");
    pt->profile_notes = json_is_string(notes) ? strdup(json_string_value(notes)) : NULL;
    json_t *prof_kind = json_object_get(s, "profiler");
    pt->profiler = json_is_string(prof_kind) ? strdup(json_string_value(prof_kind)) : NULL;
    json_decref(s);
    /* A folder without a manifest may hold profiles only (attribution tests,
     * hand-made sweeps): there cpu_ns is optional and cpu_s_per_s is NaN. */
    bool need_cpu = r->has_manifest;
    if (!(pt->window_s > 0) || (need_cpu && !(pt->cpu_ns >= 0))) {
        point_fail(pt, "corrupt",
                   need_cpu ? "%s/stats.json lacks window_s or cpu_ns"
                            : "%s/stats.json lacks window_s",
                   pt->dir);
        free(cpu_name);
        return;
    }
    if (!(pt->cpu_ns >= 0))
        pt->cpu_ns = NAN;
    pt->cpu_s_per_s = pt->cpu_ns / 1e9 / pt->window_s;
    if (isnan(pt->cpu_percent))
        pt->cpu_percent = 100.0 * pt->cpu_s_per_s;
    if (isnan(pt->threads)) {
        char *tc = path_join(pt->dir, "thread_count.txt");
        FILE *f = tc ? fopen(tc, "r") : NULL;
        long v;
        if (f && fscanf(f, "%ld", &v) == 1)
            pt->threads = (double)v;
        if (f)
            fclose(f);
        free(tc);
    }
    /* the sweep's verdict is not trusted blindly: the figures decide (results written
     * before the rule said "ok" for a point whose load had failed) */
    if (pt->has_load && strcmp(pt->status, POINT_OK) == 0 && load_rule_underloaded(&lf)) {
        struct buf why;
        buf_init(&why, 4096);
        load_rule_describe(&lf, &why);
        point_fail(pt, "underloaded", "%s", why.data ? why.data : "the load fell short");
        buf_free(&why);
    }
    if (contaminated && strcmp(pt->status, POINT_OK) == 0) {
        char why[96];
        snprintf(why, sizeof(why), "run delay share %.2f", pt->run_delay_share);
        point_fail(pt, "contaminated", "%s: other load on the machine", why);
    }
    static const char *const cpu_names[] = {"cpu.prof", "cpu.pb.gz"};
    for (size_t k = 0; k < (cpu_name ? 1 : 2) && !pt->cpu_prof; k++) {
        char *prof = path_join(pt->dir, cpu_name ? cpu_name : cpu_names[k]);
        if (prof && stat(prof, &st) == 0)
            pt->cpu_prof = prof;
        else
            free(prof);
    }
    free(cpu_name);
    load_metrics(r, pt, task_cap);
}

/* What both loaders end with: every point gets a task array (points skipped
 * before any task was seen have none yet), the usable ones are counted, and
 * one memory measure is chosen for all of them. */
static void results_finish(struct results *r, size_t task_cap)
{
    for (size_t i = 0; i < r->count; i++)
        if (!r->points[i].task_cpu)
            r->points[i].task_cpu = calloc(task_cap ? task_cap : 1, sizeof(double));
    bool all_pss = true;
    for (size_t i = 0; i < r->count; i++) {
        bool usable = point_usable(&r->points[i]);
        r->usable += usable;
        if (usable && !(r->points[i].pss_bytes >= 0))
            all_pss = false;
    }
    all_pss = all_pss && r->usable > 0;
    r->mem_source = all_pss ? "PSS" : "RSS";
    for (size_t i = 0; i < r->count; i++)
        r->points[i].mem_bytes = all_pss ? r->points[i].pss_bytes : r->points[i].rss_bytes;
}

/* sweep.json "sequential" into r->seq. Returns 0, or -1 naming the field at
 * fault: a design the analysis cannot apply must not be judged as a fixed one. */
static int load_sequential(json_t *sw, struct results *r, struct buf *err)
{
    json_t *s = json_object_get(sw, "sequential"), *v;
    if (!s || json_is_null(s))
        return 0;
    const char *bad = NULL;
    const char *method = json_string_value(json_object_get(s, "method"));
    r->seq.first_rounds = (int)jnum(s, "first_rounds", -1);
    r->seq.max_rounds = (int)jnum(s, "max_rounds", -1);
    r->seq.confidence = jnum(s, "confidence", NAN);
    r->seq.rounds = (int)jnum(s, "rounds", 0);
    if (!json_is_object(s))
        bad = "sequential: not an object";
    else if (!method || strcmp(method, "pocock") != 0)
        bad = "sequential.method: not \"pocock\"";
    else if (r->seq.first_rounds < 1)
        bad = "sequential.first_rounds: missing or below 1";
    else if (r->seq.max_rounds < r->seq.first_rounds)
        bad = "sequential.max_rounds: missing or below first_rounds";
    else if (!(r->seq.confidence >= 0.5 && r->seq.confidence < 1))
        bad = "sequential.confidence: missing or outside [0.5, 1)";
    if (bad) {
        buf_printf(err, "%s/sweep.json: %s", r->root, bad);
        return -1;
    }
    r->seq.on = true;
    snprintf(r->seq.stopped, sizeof(r->seq.stopped), "%s",
             json_is_string(v = json_object_get(s, "stopped")) ? json_string_value(v) : "unknown");
    json_t *looks = json_object_get(s, "looks");
    r->seq.looks = json_is_array(looks) ? json_array_size(looks) : 0;
    if (r->seq.looks) {
        v = json_object_get(json_array_get(looks, r->seq.looks - 1), "verdict");
        snprintf(r->seq.last_verdict, sizeof(r->seq.last_verdict), "%s",
                 json_is_string(v) ? json_string_value(v) : "");
    }
    return 0;
}

int results_load(const char *root, struct results *r, struct buf *err)
{
    memset(r, 0, sizeof(*r));
    r->has_manifest = true;
    char abs[PATH_MAX];
    r->root = strdup(realpath(root, abs) ? abs : root);
    char *mpath = path_join(r->root, "sweep.json");
    json_error_t jerr;
    json_t *sw = mpath ? json_load_file(mpath, 0, &jerr) : NULL;
    if (!sw) {
        buf_printf(err, "%s: %s", mpath ? mpath : root, mpath ? jerr.text : "bad path");
        free(mpath);
        return -1;
    }
    free(mpath);
    json_t *v;
    r->sweep_status = strdup(
        json_is_string(v = json_object_get(sw, "status")) ? json_string_value(v) : "unknown");
    json_t *target = json_object_get(sw, "target");
    r->target_name = strdup(
        json_is_string(v = json_object_get(target, "name")) ? json_string_value(v) : "target");
    if (json_is_string(v = json_object_get(target, "binary")))
        r->target_binary = strdup(json_string_value(v));
    json_t *flags = json_object_get(sw, "flags");
    r->warmup_s = jnum(flags, "warmup_s", 0);
    r->duration_s = jnum(flags, "duration_s", 0);
    r->load_rps = jnum(flags, "load_rps", 0);
    r->repeat_flag = jint(flags, "repeat", 1);
    if (load_sequential(sw, r, err) != 0) {
        json_decref(sw);
        return -1;
    }
    json_t *pts = json_object_get(sw, "points");
    if (!json_is_array(pts)) {
        buf_printf(err, "%s/sweep.json: no \"points\" array", r->root);
        json_decref(sw);
        return -1;
    }
    size_t n = json_array_size(pts);
    r->points = calloc(n ? n : 1, sizeof(struct point));
    if (!r->points) {
        json_decref(sw);
        return -1;
    }
    r->count = n;
    size_t task_cap = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(pts, i);
        struct point *pt = &r->points[i];
        pt->services = jint(p, "services", -1);
        pt->repeat = jint(p, "repeat", 1);
        pt->sequence = jint(p, "sequence", i < INT_MAX ? (int)i : INT_MAX);
        const char *dir = json_string_value(json_object_get(p, "dir"));
        const char *status = json_string_value(json_object_get(p, "status"));
        const char *reason = json_string_value(json_object_get(p, "reason"));
        pt->dir = path_join(r->root, dir ? dir : "");
        snprintf(pt->status, sizeof(pt->status), "%s", status ? status : "corrupt");
        pt->reason = strdup(reason ? reason : "");
        if (pt->services <= 0 || !dir) {
            point_fail(pt, "corrupt", "%s", "sweep.json entry lacks services or dir");
            continue;
        }
        if (task_cap && !pt->task_cpu) /* normally grown already by load_metrics */
            pt->task_cpu = calloc(task_cap, sizeof(double));
        /* contaminated and underloaded points have their data (shown, not fitted) */
        if (strcmp(pt->status, POINT_OK) != 0 && strcmp(pt->status, "contaminated") != 0 &&
            strcmp(pt->status, "underloaded") != 0) {
            if (!pt->reason[0])
                point_fail(pt, pt->status, "%s", "the sweep recorded it as not ok");
            continue; /* failed points have no usable data */
        }
        load_point(r, pt, &task_cap);
    }
    results_finish(r, task_cap);
    json_decref(sw);
    return 0;
}

/* A whole decimal > 0 that fits an int, ending where the name does or at
 * suffix; -1 otherwise ("10_services" with suffix "_services" → 10). */
static int name_number(const char *name, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return -1;
    const char *p = name + pl;
    long v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (*p - '0')) > INT_MAX)
            return -1;
    return strcmp(p, suffix) == 0 && v > 0 ? (int)v : -1;
}

struct found {
    int services, repeat;
    char *rel; /* "<N>_services" or "<N>_services/run-<R>" */
};

static int found_cmp(const void *pa, const void *pb)
{
    const struct found *a = pa, *b = pb;
    if (a->services != b->services)
        return a->services < b->services ? -1 : 1;
    return (a->repeat > b->repeat) - (a->repeat < b->repeat);
}

static int found_add(struct found **f, size_t *n, size_t *cap, int services, int repeat,
                     const char *rel)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct found *nf = realloc(*f, ncap * sizeof(*nf));
        if (!nf)
            return -1;
        *f = nf;
        *cap = ncap;
    }
    char *copy = strdup(rel);
    if (!copy)
        return -1;
    (*f)[(*n)++] = (struct found){services, repeat, copy};
    return 0;
}

/* The point folders under root in the layout of results/README.md: each
 * <N>_services/run-<R>, or <N>_services itself when it has no run-<R>. */
static int scan_points(const char *root, struct found **f, size_t *n, struct buf *err)
{
    DIR *d = opendir(root);
    if (!d) {
        buf_printf(err, "%s: cannot open results folder: %s", root, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        int services = name_number(e->d_name, "", "_services");
        if (services < 0)
            continue;
        char *dir = path_join(root, e->d_name);
        DIR *sd = dir ? opendir(dir) : NULL;
        if (!sd && errno == ENOTDIR) { /* a file with a point's name is not one */
            free(dir);
            continue;
        }
        size_t runs = 0;
        struct dirent *se;
        while (rc == 0 && sd && (se = readdir(sd))) {
            int repeat = name_number(se->d_name, "run-", "");
            char rel[NAME_MAX * 2 + 2];
            if (repeat < 0)
                continue;
            snprintf(rel, sizeof(rel), "%s/%s", e->d_name, se->d_name);
            rc = found_add(f, n, &cap, services, repeat, rel);
            runs++;
        }
        if (sd)
            closedir(sd);
        free(dir);
        if (rc == 0 && runs == 0) /* one point, or a folder that is not one: load_point says */
            rc = found_add(f, n, &cap, services, 1, e->d_name);
    }
    closedir(d);
    if (rc)
        buf_printf(err, "%s: out of memory", root);
    else
        qsort(*f, *n, sizeof(**f), found_cmp);
    return rc;
}

int results_scan(const char *root, struct results *r, struct buf *err)
{
    memset(r, 0, sizeof(*r));
    char abs[PATH_MAX];
    r->root = strdup(realpath(root, abs) ? abs : root);
    r->sweep_status = strdup("unknown");
    r->target_name = strdup("target");
    if (!r->root || !r->sweep_status || !r->target_name) {
        buf_printf(err, "%s: out of memory", root);
        results_free(r);
        return -1;
    }
    struct found *f = NULL;
    size_t n = 0;
    if (scan_points(r->root, &f, &n, err) != 0) {
        for (size_t i = 0; i < n; i++)
            free(f[i].rel);
        free(f);
        results_free(r);
        return -1;
    }
    r->points = calloc(n ? n : 1, sizeof(struct point));
    int rc = r->points ? 0 : -1;
    r->count = rc == 0 ? n : 0;
    r->repeat_flag = 1;
    size_t task_cap = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct point *pt = &r->points[i];
        pt->services = f[i].services;
        pt->repeat = f[i].repeat;
        pt->sequence = (int)i; /* the run order is not known: N, then repeat */
        pt->dir = path_join(r->root, f[i].rel);
        pt->reason = strdup("");
        snprintf(pt->status, sizeof(pt->status), "%s", POINT_OK);
        if (pt->repeat > r->repeat_flag)
            r->repeat_flag = pt->repeat;
        if (!pt->dir || !pt->reason) {
            rc = -1;
            break;
        }
        if (task_cap && !pt->task_cpu)
            pt->task_cpu = calloc(task_cap, sizeof(double));
        load_point(r, pt, &task_cap);
    }
    for (size_t i = 0; i < n; i++)
        free(f[i].rel);
    free(f);
    if (rc) {
        buf_printf(err, "%s: out of memory", root);
        results_free(r);
        return -1;
    }
    results_finish(r, task_cap);
    return 0;
}

bool point_usable(const struct point *p)
{
    return strcmp(p->status, POINT_OK) == 0;
}

void results_free(struct results *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->points[i].dir);
        free(r->points[i].reason);
        free(r->points[i].task_cpu);
        free(r->points[i].cpu_prof);
        free(r->points[i].profiler);
        free(r->points[i].profile_reason);
        free(r->points[i].profile_notes);
    }
    free(r->points);
    for (size_t i = 0; i < r->ntasks; i++)
        free(r->task_names[i]);
    free(r->task_names);
    for (size_t i = 0; i < r->ntask_entries; i++) {
        free(r->task_entries[i].task);
        free(r->task_entries[i].prefix);
    }
    free(r->task_entries);
    free(r->root);
    free(r->sweep_status);
    free(r->target_name);
    free(r->target_binary);
    memset(r, 0, sizeof(*r));
}
