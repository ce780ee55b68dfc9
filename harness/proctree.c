/* proctree: reading a target's whole process tree; the accounting rule is in proctree.h. */
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTEMPTS 4 /* readings redone when a member was reaped during one */

void proctree_init(struct proctree *t, pid_t root)
{
    memset(t, 0, sizeof *t);
    t->root = root;
}

void proctree_add_reaped(struct proctree *t, const struct rusage *ru)
{
    uint64_t us = (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec +
                  (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;
    t->reaped_cpu_ns += us * 1000u;
}

void proctree_free(struct proctree *t)
{
    free(t->live);
    free(t->counted);
    free(t->scan);
    t->live = t->counted = NULL;
    t->scan = NULL;
    t->nlive = t->ncounted = t->scan_cap = 0;
}

static int by_ppid(const void *a, const void *b)
{
    const struct procstat_statline *x = a, *y = b;
    return (x->ppid > y->ppid) - (x->ppid < y->ppid);
}

static int by_pid(const void *a, const void *b)
{
    const struct proctree_member *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Every process's stat line into t->scan, sorted by ppid. 0, or -1 (errno). */
static int scan_all(struct proctree *t, size_t *count)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (n == t->scan_cap) {
            size_t cap = n ? 2 * n : 256;
            if (n >= PROCTREE_MAX_SCAN) {
                closedir(d);
                errno = E2BIG;
                return -1;
            }
            if (cap > PROCTREE_MAX_SCAN)
                cap = PROCTREE_MAX_SCAN;
            void *p = realloc(t->scan, cap * sizeof *t->scan);
            if (!p) {
                closedir(d);
                errno = ENOMEM;
                return -1;
            }
            t->scan = p;
            t->scan_cap = cap;
        }
        /* a process that exited since readdir saw it is simply not there */
        if (procstat_read_statline((pid_t)atoi(e->d_name), &t->scan[n]) == 0)
            n++;
    }
    closedir(d);
    qsort(t->scan, n, sizeof *t->scan, by_ppid);
    *count = n;
    return 0;
}

/* First index in the ppid-sorted scan whose ppid is ppid (n when none). */
static size_t first_child(const struct procstat_statline *scan, size_t n, pid_t ppid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (scan[mid].ppid < ppid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The members' indices into t->scan, the root first; 0 when the root is not there
 * or is a zombie. out has room for n. */
static size_t find_members(const struct proctree *t, size_t n, size_t *out)
{
    const struct procstat_statline *scan = t->scan;
    size_t m = 0;
    for (size_t i = 0; i < n && m == 0; i++)
        if (scan[i].pid == t->root)
            out[m++] = i;
    if (m == 0 || scan[out[0]].state == 'Z')
        return 0;
    /* orphans of the tree, reparented to us (the subreaper), still in the root's group */
    pid_t self = getpid();
    int pgid = scan[out[0]].pgid;
    for (size_t i = first_child(scan, n, self); i < n && scan[i].ppid == self && m < n; i++)
        if (scan[i].pgid == pgid && scan[i].pid != t->root)
            out[m++] = i;
    /* breadth first: every process has one parent, so none is added twice */
    for (size_t q = 0; q < m; q++) {
        pid_t parent = scan[out[q]].pid;
        for (size_t i = first_child(scan, n, parent); i < n && scan[i].ppid == parent && m < n; i++)
            out[m++] = i;
    }
    return m;
}

static const struct proctree_member *find(const struct proctree_member *set, size_t n,
                                          const struct proctree_member *key)
{
    if (n == 0)
        return NULL; /* bsearch wants a base, and the first reading has none */
    const struct proctree_member *p = bsearch(key, set, n, sizeof *set, by_pid);
    return p && p->start_ticks == key->start_ticks ? p : NULL;
}

/* Per-member counters accumulated between full readings (see proctree.h). */
static void accumulate_counters(struct proctree *t, struct proctree_member *now, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct proctree_member *before = find(t->counted, t->ncounted, &now[i]);
        for (int c = 0; c < PROCTREE_COUNTERS; c++) {
            uint64_t base = before ? before->counters[c] : 0;
            if (now[i].counters[c] > base)
                t->counters[c] += now[i].counters[c] - base;
        }
    }
    free(t->counted);
    t->counted = now;
    t->ncounted = n;
}

/* Reads the members' own CPU, then checks no member was reaped meanwhile: every one is
 * still there with the cutime+cstime the scan saw. false: take the reading again. */
static bool read_own_cpu(const struct proctree *t, const size_t *idx, size_t m, uint64_t *own,
                         uint64_t tick_ns)
{
    bool consistent = true;
    for (size_t i = 0; i < m; i++) {
        const struct procstat_statline *e = &t->scan[idx[i]];
        struct procstat_statline still;
        if (procstat_cpu_clock_ns(e->pid, &own[i]) < 0) {
            /* gone (reaped meanwhile: read again), or a clock we may not read: its ticks */
            own[i] = e->ticks * tick_ns;
            consistent = consistent && procstat_read_statline(e->pid, &still) == 0;
        }
    }
    for (size_t i = 0; i < m && consistent; i++) {
        struct procstat_statline again;
        const struct procstat_statline *e = &t->scan[idx[i]];
        if (procstat_read_statline(e->pid, &again) < 0 || again.child_ticks != e->child_ticks)
            consistent = false;
    }
    return consistent;
}

/* Adds each live member's memory, threads, fds and (full) per-thread counters to s.
 * -1 when the root itself is gone by now. */
static int add_details(struct proctree *t, struct procstat *s, bool full,
                       struct proctree_member *live, size_t nlive)
{
    struct proctree_member *counted = full ? calloc(nlive ? nlive : 1, sizeof *counted) : NULL;
    if (full && !counted)
        return -1;
    size_t nc = 0;
    s->pss_ok = full;
    for (size_t i = 0; i < nlive; i++) {
        struct procstat one;
        memset(&one, 0, sizeof one);
        one.pss_ok = full;
        if (procstat_add_process(live[i].pid, &one, full) < 0) {
            if (live[i].pid != t->root)
                continue; /* exited since the scan: its CPU is counted, it has no memory */
            free(counted);
            errno = ESRCH;
            return -1;
        }
        s->rss_bytes += one.rss_bytes;
        s->rss_anon_bytes += one.rss_anon_bytes;
        s->threads += one.threads;
        s->fds += one.fds;
        s->task_cpu_ns += one.task_cpu_ns;
        s->pss_bytes += one.pss_bytes;
        if (full && !one.pss_ok && s->pss_ok)
            memcpy(s->pss_note, one.pss_note, sizeof s->pss_note);
        s->pss_ok = s->pss_ok && one.pss_ok;
        if (full) {
            uint64_t c[PROCTREE_COUNTERS] = {one.run_delay_ns,
                                             one.timeslices,
                                             one.voluntary_ctxt_switches,
                                             one.nonvoluntary_ctxt_switches,
                                             one.syscr,
                                             one.syscw};
            counted[nc] = live[i];
            memcpy(counted[nc++].counters, c, sizeof c);
        }
    }
    if (!full)
        return 0;
    accumulate_counters(t, counted, nc);
    s->run_delay_ns = t->counters[0];
    s->timeslices = t->counters[1];
    s->voluntary_ctxt_switches = t->counters[2];
    s->nonvoluntary_ctxt_switches = t->counters[3];
    s->syscr = t->counters[4];
    s->syscw = t->counters[5];
    return 0;
}

int proctree_read(struct proctree *t, struct procstat *s, bool full)
{
    memset(s, 0, sizeof *s);
    s->t = procstat_now();
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t tick_ns = hz > 0 ? 1000000000u / (uint64_t)hz : 10000000u;
    size_t n = 0, m = 0, *idx = NULL;
    uint64_t *own = NULL;
    struct proctree_member *live = NULL;
    int rc = -1;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (scan_all(t, &n) < 0)
            goto out;
        free(idx);
        free(own);
        idx = malloc((n ? n : 1) * sizeof *idx);
        own = malloc((n ? n : 1) * sizeof *own);
        if (!idx || !own) {
            errno = ENOMEM;
            goto out;
        }
        if ((m = find_members(t, n, idx)) == 0) {
            errno = ESRCH;
            goto out;
        }
        if (read_own_cpu(t, idx, m, own, tick_ns))
            break;
        /* the last attempt stands: off by at most the CPU of what was reaped meanwhile */
    }
    s->machine_busy_ns = procstat_machine_busy_ns();

    /* the terms of the rule: live own CPU, and everything that has exited (after) */
    uint64_t live_own = 0, after = t->reaped_cpu_ns, ticks = 0;
    size_t nlive = 0;
    if (!(live = calloc(m, sizeof *live))) {
        errno = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        const struct procstat_statline *e = &t->scan[idx[i]];
        ticks += e->ticks + e->child_ticks;
        after += e->child_ticks * tick_ns;
        if (e->state == 'Z') {
            after += own[i];
            continue;
        }
        live_own += own[i];
        live[nlive++] = (struct proctree_member){
            .pid = e->pid, .start_ticks = e->start_ticks, .own_ns = own[i]};
    }
    s->cpu_ns = live_own + after;
    s->root_cpu_ns = live[0].own_ns; /* the root is first and alive (find_members) */
    s->stat_ticks = ticks + t->reaped_cpu_ns / tick_ns;
    s->processes = nlive;

    /* exited: what the "after" terms gained, less what the last reading already saw of
     * the members that were alive then and are not now */
    qsort(live, nlive, sizeof *live, by_pid);
    int64_t exited = t->exited_ns;
    if (t->started) {
        int64_t seen = 0;
        for (size_t i = 0; i < t->nlive; i++)
            if (!find(live, nlive, &t->live[i]))
                seen += (int64_t)t->live[i].own_ns;
        /* may be a little negative: the reapers' cutime+cstime are truncated to ticks */
        exited += (int64_t)after - (int64_t)t->last_after - seen;
    }
    s->exited_cpu_ns = exited > 0 ? (uint64_t)exited : 0;
    if (add_details(t, s, full, live, nlive) < 0)
        goto out;
    t->exited_ns = exited;
    t->started = true;
    t->last_after = after;
    free(t->live);
    t->live = live;
    t->nlive = nlive;
    live = NULL;
    rc = 0;
out:
    free(idx);
    free(own);
    free(live);
    return rc;
}
