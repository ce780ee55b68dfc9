/*
 * report_contention: lock contention against N, for targets that serve
 * mutex and block profiles (Go: mutex.pb.gz and block.pb.gz, deltas over the
 * window). Per point, the delay is seconds of waiting per second of window
 * (delay/nanoseconds summed over the profile, over window_s); it is fitted
 * as a + bN + cN² over the points that have the profile and judged with the
 * CPU verdict's rules (stats_model.h; the relative and share notions of
 * materiality only: waiting is not CPU, so no floor in % of a core), so
 * contention that grows faster than linearly gets its own verdict line; the
 * functions are attributed like CPU (attribution.h, measure DELAY_NS) and
 * the top ones listed with the culprit. A profile that is empty at every
 * point is said once: mutex profiling not enabled (when the profiler saw
 * "sampling period=0") or nothing contended. Adds "contention": {"mutex",
 * "block"} to report.json and a section per kind to the reports.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "attribution.h"
#include "profile.h"

#define CONTENTION_ROWS 5

struct kind {
    const char *name, *file, *not_enabled, *what;
};

static const struct kind kinds[] = {
    {"mutex", "mutex.pb.gz", "mutex profiling not enabled",
     "mutex profiling not enabled (runtime.SetMutexProfileFraction is 0), or no mutex was "
     "contended"},
    {"block", "block.pb.gz", "block profiling not enabled",
     "block profiling not enabled (runtime.SetBlockProfileRate is 0), or nothing blocked"},
};

/* Delay (s/s) and contentions of one profile; -1 when unreadable (err). */
static int read_delay(struct profile_session *s, const char *path, double window_s, double *delay,
                      double *events, char *err, size_t errlen)
{
    struct profile p;
    if (profile_load(s, path, &p, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (p.kind != PROFILE_CONTENTION) {
        snprintf(err, errlen, "%.400s: not a mutex or block profile", path);
        rc = -1;
    }
    *delay = (double)p.total[PROFILE_DELAY_NS] * 1e-9 / window_s;
    *events = (double)p.total[PROFILE_CONTENTIONS];
    profile_free(&p);
    return rc;
}

static void functions_of(const struct analysis *an, const struct attr_point *pts, size_t count,
                         const struct fit_design *d, json_t *o, struct buf *md, struct buf *html)
{
    struct attribution at;
    struct buf skipped, err;
    buf_init(&skipped, 1 << 16);
    buf_init(&err, 4096);
    struct attr_options ao = {.measure = PROFILE_DELAY_NS,
                              .per_second = true,
                              .binary = an->res.target_binary,
                              .own_regex = an->own_regex};
    if (attribution_build_measure(&at, pts, count, d, &ao, &skipped, &err) != 0) {
        buf_printf(md, "Functions: not attributed (%s).\n", err.data ? err.data : "?");
        buf_free(&skipped);
        buf_free(&err);
        return;
    }
    json_t *arr = json_array();
    buf_puts(md, "\n| function | file:line | share of c | c ± se (s/s per service²) |\n"
                 "|---|---|---|---|\n");
    buf_puts(html, "<table><tr><th>function</th><th>file:line</th><th>share of c</th>"
                   "<th>c</th></tr>\n");
    for (size_t i = 0; i < at.nfuncs && i < CONTENTION_ROWS; i++) {
        const struct attr_func *f = &at.funcs[i];
        char loc[300] = "–";
        if (f->file)
            snprintf(loc, sizeof(loc), "%.250s:%d", f->file, f->line);
        json_t *fo = json_object();
        json_object_set_new(fo, "name", json_string(f->name));
        json_object_set_new(fo, "file", f->file ? json_string(f->file) : json_null());
        json_object_set_new(fo, "line", json_integer(f->line));
        json_object_set_new(fo, "self_share", report_real(f->self_share));
        json_object_set_new(fo, "cum_share", report_real(f->cum_share));
        json_object_set_new(fo, "c", report_real(f->fit.c));
        json_object_set_new(fo, "own", json_boolean(f->own));
        json_array_append_new(arr, fo);
        buf_printf(md, "| `%s` | %s | %.0f%% | %.3g ± %.2g |\n", f->name, loc, 100 * f->self_share,
                   f->fit.c, f->fit.c_se);
        buf_puts(html, "<tr><td style=\"text-align:left\">");
        buf_add_xml_escaped(html, f->name);
        buf_puts(html, "</td><td>");
        buf_add_xml_escaped(html, loc);
        buf_printf(html, "</td><td>%.0f%%</td><td>%.3g ± %.2g</td></tr>\n", 100 * f->self_share,
                   f->fit.c, f->fit.c_se);
    }
    buf_puts(html, "</table>\n");
    json_object_set_new(o, "functions", arr);
    if (at.culprit) {
        json_object_set_new(o, "culprit", report_culprit_json(&at));
        buf_printf(md, "\nLowest caller carrying %.0f%% of its c: **%s** (`%s`).\n",
                   100 * at.culprit_share, at.culprit, at.culprit_path);
        buf_printf(html, "<p>Lowest caller carrying %.0f%% of its c: <b>", 100 * at.culprit_share);
        buf_add_xml_escaped(html, at.culprit);
        buf_puts(html, "</b></p>\n");
    }
    attribution_free(&at);
    buf_free(&skipped);
    buf_free(&err);
}

/* Was the kind said to be off by the profiler at every point that ran it? */
static bool said_not_enabled(const struct analysis *an, const struct kind *k)
{
    size_t said = 0;
    for (size_t i = 0; i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        said += p->profile_notes && strstr(p->profile_notes, k->not_enabled);
    }
    return said == an->nobs;
}

static int one_kind(const struct analysis *an, const struct kind *k, json_t *all, struct buf *md,
                    struct buf *html)
{
    struct attr_point *pts = calloc(an->nobs, sizeof(*pts));
    char **paths = calloc(an->nobs, sizeof(*paths));
    double *y = calloc(an->nobs, sizeof(*y)), *n = calloc(an->nobs, sizeof(*n));
    double *events = calloc(an->nobs, sizeof(*events));
    struct profile_session *s = NULL;
    char err[512];
    int rc = pts && paths && y && n && events ? 0 : -1;
    size_t have = 0, read = 0;
    double total_delay = 0;
    for (size_t i = 0; rc == 0 && i < an->nobs; i++) {
        const struct point *p = &an->res.points[an->obs_point[i]];
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", p->dir, k->file);
        n[i] = p->services;
        pts[i] = (struct attr_point){
            .services = p->services, .window_s = p->window_s, .missing = "no profile"};
        if (stat(path, &st) != 0)
            continue;
        have++;
        if (!s && profile_session_open(&s, NULL, err, sizeof err) != 0) {
            rc = -1;
            break;
        }
        if (read_delay(s, path, p->window_s, &y[i], &events[i], err, sizeof err) != 0) {
            fprintf(stderr, "analyze: %s contention left out: %s\n", k->name, err);
            continue;
        }
        paths[i] = strdup(path);
        pts[i].cpu_prof = paths[i];
        total_delay += y[i];
        read++;
    }
    profile_session_close(s);
    if (rc != 0 || have == 0)
        goto out; /* the target serves no such profile: nothing to say */
    json_t *o = json_object();
    json_object_set_new(all, k->name, o);
    json_object_set_new(o, "units", json_string("seconds of waiting per second"));
    json_object_set_new(o, "points", json_integer((json_int_t)read));
    buf_printf(md, "\n### %s contention\n\n", k->name);
    buf_printf(html, "<h2>%s contention</h2>\n", k->name);
    if (!(total_delay > 0)) {
        const char *why = said_not_enabled(an, k) ? k->not_enabled : k->what;
        json_object_set_new(o, "note", json_string(why));
        buf_printf(md, "No %s delay at any point: %s.\n", k->name, why);
        buf_printf(html, "<p>No %s delay at any point: ", k->name);
        buf_add_xml_escaped(html, why);
        buf_puts(html, ".</p>\n");
        goto out;
    }
    /* The fit, over the points whose profile was read (unweighted: how the
     * delay scatters is not what CPU's repeats measured). */
    double *kn = calloc(read, sizeof(*kn)), *ky = calloc(read, sizeof(*ky));
    struct attr_point *kp = calloc(read, sizeof(*kp));
    size_t m = 0;
    for (size_t i = 0; kn && ky && kp && i < an->nobs; i++)
        if (paths[i]) {
            kn[m] = n[i];
            kp[m] = pts[i];
            ky[m++] = y[i];
        }
    struct fit_design d = {0};
    struct fit_result fr;
    struct model_verdict v;
    struct model_floors floors = {an->floor, an->share_floor, NAN};
    bool ok = kn && ky && kp && fit_prepare(&d, kn, NULL, m) == 0;
    if (ok) {
        model_fit_total(&d, ky, false, &fr, NULL);
        fit_set_confidence(&fr, an->confidence);
        model_judge(&fr, d.distinct, d.n_min, d.n_max, &floors, &v);
        json_object_set_new(o, "verdict", json_string(v.name));
        json_object_set_new(o, "verdict_reason", json_string(v.reason));
        json_t *fo = json_object();
        json_object_set_new(fo, "a", report_real(fr.a));
        json_object_set_new(fo, "b", report_real(fr.b));
        json_object_set_new(fo, "c", report_real(fr.c));
        json_object_set_new(fo, "c_se", report_real(fr.c_se));
        json_object_set_new(fo, "c_t", report_real(fr.c_t));
        json_object_set_new(o, "fit", fo);
        json_t *lv = json_array();
        for (size_t i = 0; i < m; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "services", json_real(kn[i]));
            json_object_set_new(e, "delay_s_per_s", report_real(ky[i]));
            json_array_append_new(lv, e);
        }
        json_object_set_new(o, "points_delay", lv);
        buf_printf(md,
                   "**%s**: waiting on %s fitted as a + bN + cN² = %.3g + %.3gN + %.3gN² seconds "
                   "per second (c t = %.1f); %s.\n",
                   v.name, strcmp(k->name, "mutex") == 0 ? "mutexes" : "blocking calls", fr.a, fr.b,
                   fr.c, fr.c_t, v.reason);
        buf_printf(html, "<p id=\"contention-%s\"><b>%s</b>: ", k->name, v.name);
        buf_add_xml_escaped(html, v.reason);
        buf_puts(html, "</p>\n");
        /* the functions, over the same points (the others are skipped) */
        functions_of(an, kp, m, &d, o, md, html);
    } else {
        buf_printf(md,
                   "Not fitted: the %zu points with a readable profile span fewer than 3 "
                   "distinct N.\n",
                   read);
    }
    fit_design_free(&d); /* fit_prepare allocates even when it fails */
    free(kn);
    free(ky);
    free(kp);
out:
    for (size_t i = 0; paths && i < an->nobs; i++)
        free(paths[i]);
    free(paths);
    free(pts);
    free(y);
    free(n);
    free(events);
    return rc;
}

int report_contention(const struct analysis *an, json_t *extra, struct buf *md, struct buf *html,
                      struct buf *err)
{
    if (!an->design_ok || an->nobs == 0)
        return 0;
    json_t *all = json_object();
    int rc = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (one_kind(an, &kinds[k], all, md, html) != 0)
            rc = -1;
    if (json_object_size(all))
        json_object_set_new(extra, "contention", all);
    else
        json_decref(all);
    return rc;
}
