/*
 * sweep_json: the two JSON files of a results folder, stats.json (one point)
 * and sweep.json (the manifest), with jansson. Key names are the contract
 * with analysis/ and are listed in results/README.md: change them only
 * additively and update that README.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "outfile.h"
#include "sweep.h"
#include "version.h"

void sweep_timestamp(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_json(const char *dir, const char *name, json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    size_t len = strlen(text);
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        errno = ENOMEM;
        return -1;
    }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    int rc = outfile_write(dir, name, withnl, len + 1);
    free(withnl);
    return rc;
}

static uint64_t delta(uint64_t end, uint64_t start)
{
    return end > start ? end - start : 0;
}

int sweep_write_stats(const char *dir, const struct point_stats *s, bool *contaminated)
{
    const struct procstat *a = &s->first, *b = &s->last;
    double window = s->window_s > 0 ? s->window_s : 1e-9;
    uint64_t cpu = delta(b->cpu_ns, a->cpu_ns);
    uint64_t delay = delta(b->run_delay_ns, a->run_delay_ns);
    /* timeslices of threads that exited in the window are lost; fall back to switches */
    uint64_t wakeups = b->timeslices >= a->timeslices
                           ? b->timeslices - a->timeslices
                           : delta(b->voluntary_ctxt_switches, a->voluntary_ctxt_switches);
    double share = cpu ? (double)delay / (double)cpu : 0.0;
    /* What the rest of the machine used meanwhile: a target with more runnable threads
     * than CPUs delays itself, and that delay is part of its cost, not contamination. */
    double capacity = window * 1e9 * (double)sysconf(_SC_NPROCESSORS_ONLN);
    double other = (double)delta(b->machine_busy_ns, a->machine_busy_ns) - (double)cpu;
    double other_share = other > 0 && capacity > 0 ? other / capacity : 0.0;
    /* contaminated: the run delay is large against the CPU time, other load was there to
     * cause it, and the delay is not a few microseconds on a nearly idle target */
    *contaminated = share > s->contaminated_share && other_share > SWEEP_OTHER_LOAD_SHARE &&
                    (double)delay > window * 1e6;

    json_t *j = json_object();
    json_object_set_new(j, "services", json_integer(s->services));
    json_object_set_new(j, "repeat", json_integer(s->repeat));
    json_object_set_new(j, "pid", json_integer(s->pid));
    json_object_set_new(j, "window_s", json_real(s->window_s));
    json_object_set_new(j, "cpu_ns", json_integer((json_int_t)cpu));
    json_object_set_new(j, "cpu_percent", json_real((double)cpu / (window * 1e9) * 100.0));
    /* the target's process tree (harness/proctree.h): cpu_ns is the whole tree's */
    json_object_set_new(j, "processes", json_integer((json_int_t)b->processes));
    json_object_set_new(j, "root_cpu_ns",
                        json_integer((json_int_t)delta(b->root_cpu_ns, a->root_cpu_ns)));
    json_object_set_new(j, "exited_cpu_ns",
                        json_integer((json_int_t)delta(b->exited_cpu_ns, a->exited_cpu_ns)));
    json_object_set_new(j, "rss_bytes", json_integer((json_int_t)b->rss_bytes));
    json_object_set_new(j, "rss_anon_bytes", json_integer((json_int_t)b->rss_anon_bytes));
    if (b->pss_ok)
        json_object_set_new(j, "pss_bytes", json_integer((json_int_t)b->pss_bytes));
    else
        json_object_set_new(j, "pss_note",
                            json_string(b->pss_note[0] ? b->pss_note : "PSS was not read"));
    json_object_set_new(j, "threads", json_integer((json_int_t)b->threads));
    json_object_set_new(j, "fds", json_integer((json_int_t)b->fds));
    json_object_set_new(
        j, "voluntary_ctxt_switches",
        json_integer((json_int_t)delta(b->voluntary_ctxt_switches, a->voluntary_ctxt_switches)));
    json_object_set_new(j, "nonvoluntary_ctxt_switches",
                        json_integer((json_int_t)delta(b->nonvoluntary_ctxt_switches,
                                                       a->nonvoluntary_ctxt_switches)));
    json_object_set_new(j, "wakeups_per_s", json_real((double)wakeups / window));
    json_object_set_new(j, "run_delay_ns", json_integer((json_int_t)delay));
    json_object_set_new(j, "run_delay_share", json_real(share));
    json_object_set_new(j, "other_cpu_share", json_real(other_share));
    json_object_set_new(j, "contaminated", json_boolean(*contaminated));
    json_object_set_new(j, "syscr", json_integer((json_int_t)delta(b->syscr, a->syscr)));
    json_object_set_new(j, "syscw", json_integer((json_int_t)delta(b->syscw, a->syscw)));
    const struct point_profile *pf = &s->profile;
    json_object_set_new(j, "profiler", pf->profiler ? json_string(pf->profiler) : json_null());
    json_object_set_new(j, "cpu_profile",
                        pf->cpu_file[0] ? json_string(pf->cpu_file) : json_null());
    if (pf->reason[0])
        json_object_set_new(j, "profile_reason", json_string(pf->reason));
    if (pf->notes[0])
        json_object_set_new(j, "profile_notes", json_string(pf->notes));
    json_object_set_new(j, "profile_samples", json_integer(pf->samples));
    json_object_set_new(j, "profile_period_us", json_integer(pf->period_us));
    if (pf->sampled_cpu_ns >= 0)
        json_object_set_new(j, "profile_cpu_ns", json_integer((json_int_t)pf->sampled_cpu_ns));
    if (pf->complete_share >= 0)
        json_object_set_new(j, "profile_complete_share", json_real(pf->complete_share));
    if (pf->lost >= 0)
        json_object_set_new(j, "profile_lost", json_integer(pf->lost));
    json_object_set_new(j, "threads_after", json_integer((json_int_t)s->threads_after));
    json_object_set_new(j, "stat_ticks",
                        json_integer((json_int_t)delta(b->stat_ticks, a->stat_ticks)));
    json_object_set_new(j, "clock_ticks_per_s", json_integer(sysconf(_SC_CLK_TCK)));
    json_t *samples = json_array();
    for (size_t i = 0; i < s->num_samples; i++) {
        const struct procstat *p = &s->samples[i];
        json_t *o = json_object();
        json_object_set_new(o, "t", json_real(p->t - a->t));
        json_object_set_new(o, "cpu_ns", json_integer((json_int_t)delta(p->cpu_ns, a->cpu_ns)));
        json_object_set_new(o, "rss_bytes", json_integer((json_int_t)p->rss_bytes));
        json_object_set_new(o, "threads", json_integer((json_int_t)p->threads));
        json_object_set_new(o, "processes", json_integer((json_int_t)p->processes));
        json_array_append_new(samples, o);
    }
    json_object_set_new(j, "samples", samples);
    if (s->has_load) {
        const struct loadgen_result *l = &s->load;
        json_t *o = json_object();
        json_object_set_new(o, "rps_target", json_real(l->rps_target));
        json_object_set_new(o, "rps_achieved", json_real(l->rps_achieved));
        json_object_set_new(o, "requests", json_integer((json_int_t)l->requests));
        json_object_set_new(o, "errors", json_integer((json_int_t)l->errors));
        json_object_set_new(o, "p50_us", json_integer((json_int_t)l->p50_us));
        json_object_set_new(o, "p90_us", json_integer((json_int_t)l->p90_us));
        json_object_set_new(o, "p99_us", json_integer((json_int_t)l->p99_us));
        json_object_set_new(o, "max_us", json_integer((json_int_t)l->max_us));
        json_object_set_new(o, "short_of_target", json_boolean(l->short_of_target));
        json_object_set_new(o, "underloaded", json_boolean(l->underloaded));
        json_t *kinds = json_object();
        for (int k = 0; k < LOAD_ERR_KINDS; k++)
            json_object_set_new(kinds, load_error_kind_name(k),
                                json_integer((json_int_t)l->errors_by_kind[k]));
        json_object_set_new(o, "errors_by_kind", kinds);
        json_object_set_new(o, "connections_opened",
                            json_integer((json_int_t)l->connections_opened));
        json_object_set_new(o, "connections_peak", json_integer((json_int_t)l->connections_peak));
        json_object_set_new(o, "connection_budget", json_integer((json_int_t)l->connection_budget));
        json_object_set_new(o, "kept_alive", json_integer((json_int_t)l->kept_alive));
        json_object_set_new(j, "load", o);
    }
    return write_json(dir, "stats.json", j);
}

static json_t *loadavg_json(const double v[3])
{
    json_t *a = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *real_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* --until-decided: the design (what analyze and gate need to judge the sweep
 * with the same correction) and every look so far. */
static json_t *sequential_json(const struct sweep_run *run)
{
    json_t *s = json_object();
    json_object_set_new(s, "method", json_string("pocock"));
    json_object_set_new(s, "first_rounds", json_integer(run->repeat));
    json_object_set_new(s, "max_rounds", json_integer(run->max_rounds));
    json_object_set_new(s, "max_looks", json_integer(run->max_rounds - run->repeat + 1));
    json_object_set_new(s, "confidence", json_real(run->confidence));
    json_object_set_new(s, "look_confidence", real_or_null(run->look_confidence));
    json_object_set_new(s, "budget_s", run->budget_s > 0 ? json_real(run->budget_s) : json_null());
    json_object_set_new(s, "rounds", json_integer(run->rounds_done));
    json_object_set_new(s, "stopped", json_string(run->stopped ? run->stopped : "running"));
    json_t *looks = json_array();
    for (size_t i = 0; i < run->num_looks; i++) {
        const struct sweep_look *l = &run->looks[i];
        json_t *o = json_object();
        json_object_set_new(o, "rounds", json_integer(l->rounds));
        json_object_set_new(o, "verdict", json_string(l->verdict));
        json_object_set_new(o, "c_t", real_or_null(l->c_t));
        json_object_set_new(o, "t_crit", real_or_null(l->t_crit));
        json_object_set_new(o, "elapsed_s", real_or_null(l->elapsed_s));
        json_array_append_new(looks, o);
    }
    json_object_set_new(s, "looks", looks);
    return s;
}

int sweep_write_manifest(const struct sweep_run *run)
{
    json_t *j = json_object();
    json_object_set_new(j, "scaleprof_version", json_string(SCALEPROF_VERSION));
    json_object_set_new(j, "status", json_string(run->status));
    json_object_set_new(j, "started_at", json_string(run->started_at));
    json_object_set_new(j, "finished_at", json_string(run->finished_at));

    json_t *m = json_object();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    json_object_set_new(m, "hostname", json_string(host));
    json_object_set_new(m, "kernel", json_string(u.release));
    json_object_set_new(m, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(m, "mem_bytes", json_integer((json_int_t)si.totalram * si.mem_unit));
    json_object_set_new(m, "loadavg_start", loadavg_json(run->loadavg_start));
    json_object_set_new(m, "loadavg_end", loadavg_json(run->loadavg_end));
    json_object_set_new(j, "machine", m);

    json_t *t = json_object();
    json_object_set_new(t, "name", json_string(run->target_name));
    json_object_set_new(t, "command", json_string(run->target_cmd));
    json_object_set_new(t, "binary", str_or_null(run->binary));
    json_object_set_new(t, "build_id", str_or_null(run->build_id));
    json_object_set_new(j, "target", t);

    json_t *f = json_object();
    json_object_set_new(f, "configs", json_string(run->configs));
    json_object_set_new(f, "warmup_s", json_real(run->warmup_s));
    json_object_set_new(f, "duration_s", json_real(run->duration_s));
    json_object_set_new(f, "repeat", json_integer(run->repeat));
    json_object_set_new(f, "order", json_string(run->order));
    json_object_set_new(f, "seed", json_integer((json_int_t)run->seed));
    json_object_set_new(f, "load_rps", json_real(run->load_rps));
    json_object_set_new(f, "contaminated_share", json_real(run->contaminated_share));
    json_object_set_new(f, "retry_contaminated", json_integer(run->retry_contaminated));
    json_object_set_new(f, "hz", json_integer(run->hz));
    json_t *counts = json_array();
    for (size_t i = 0; i < run->num_counts; i++)
        json_array_append_new(counts, json_integer(run->counts[i]));
    json_object_set_new(f, "counts", counts);
    json_object_set_new(f, "until_decided", json_boolean(run->until_decided));
    json_object_set_new(j, "flags", f);
    if (run->load_checked) {
        json_t *pf = json_object();
        json_object_set_new(pf, "asked_rps", json_real(run->load_asked_rps));
        json_object_set_new(pf, "offered_rps", json_real(run->load_offered_rps));
        json_object_set_new(pf, "connection_budget",
                            json_integer((json_int_t)run->load_connection_budget));
        json_object_set_new(j, "load_preflight", pf);
    }
    if (run->until_decided)
        json_object_set_new(j, "sequential", sequential_json(run));

    json_t *pts = json_array();
    for (size_t i = 0; i < run->num_points; i++) {
        const struct sweep_point *p = &run->points[i];
        json_t *o = json_object();
        json_object_set_new(o, "services", json_integer(p->services));
        json_object_set_new(o, "repeat", json_integer(p->repeat));
        json_object_set_new(o, "sequence", json_integer(p->sequence));
        json_object_set_new(o, "dir", json_string(p->dir));
        json_object_set_new(o, "status", json_string(p->status));
        json_object_set_new(o, "reason", json_string(p->reason ? p->reason : ""));
        json_object_set_new(o, "started_at", json_string(p->started_at));
        json_object_set_new(o, "finished_at", json_string(p->finished_at));
        json_object_set_new(o, "wall_s", json_real(p->wall_s));
        if (p->remeasured) /* contaminated attempts kept as <dir>.contaminated-<k> */
            json_object_set_new(o, "remeasured", json_integer(p->remeasured));
        json_array_append_new(pts, o);
    }
    json_object_set_new(j, "points", pts);
    return write_json(run->out, "sweep.json", j);
}

char *sweep_read_started_at(const char *manifest_path)
{
    json_error_t e;
    json_t *j = json_load_file(manifest_path, 0, &e);
    if (!j)
        return NULL;
    const char *s = json_string_value(json_object_get(j, "started_at"));
    char *out = s && *s ? strdup(s) : NULL;
    json_decref(j);
    return out;
}
