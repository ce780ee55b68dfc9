/*
 * perf_events: the perf profiler's events (perf_internal.h): per CPU when
 * permitted, one cpu-clock event per CPU for every task (pid -1), each with
 * its own ring, and the tree's pids from /proc; else per thread, one event
 * per thread and CPU with inherit=1.
 *
 * Per CPU, the events are opened before the tree is scanned, so a process
 * created after the scan has a FORK record and one created before it is in
 * the scan. Kernel time is always sampled there: whoever may watch every
 * task may watch the kernel.
 *
 * Per thread: the kernel refuses to mmap an inherited event whose cpu is
 * -1, and inheritance is what follows threads and processes created during
 * the window. Every event of a CPU writes into that CPU's one ring
 * (PERF_EVENT_IOC_SET_OUTPUT), so there are ncpu buffers however many
 * threads; events inherited by new tasks write into their parent's buffer.
 * Threads that exist at start are opened one by one from /proc. A thread
 * created by an already-sampled thread inherits its events, and must not be
 * opened again (its samples would count twice): the FORK record the kernel
 * writes for it tells them apart, so each rescan of /proc first drains the
 * buffers and skips threads a FORK record named. (A thread that appears in
 * /proc in the microseconds before its FORK record is written could still
 * be opened twice; a few rescans at start are the only window for that.)
 */
#include "perf_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"
#include "proclist.h"

#define RESCAN_ROUNDS 4

/* kernel.perf_event_paranoid as text ("unreadable" when it cannot be read). */
void perf_events_paranoid(char *out, size_t len, int *value)
{
    size_t n;
    char *text = outfile_slurp("/proc/sys/kernel/perf_event_paranoid", 64, &n);
    *value = 99;
    if (!text) {
        snprintf(out, len, "unreadable");
        return;
    }
    text[strcspn(text, "\n")] = '\0';
    snprintf(out, len, "%s", text);
    *value = atoi(text);
    free(text);
}

/* The online CPUs from /sys (e.g. "0-3,8-11"), or 0..nprocs-1. */
int perf_events_cpus(struct perf_profiler *p)
{
    size_t n;
    char *text = outfile_slurp("/sys/devices/system/cpu/online", 4096, &n);
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    size_t cap = conf > 0 ? (size_t)conf + 1 : 1024;
    if (!(p->cpus = calloc(cap, sizeof *p->cpus))) {
        free(text);
        return -1;
    }
    for (char *s = text; s && *s && *s != '\n';) {
        char *e;
        long a = strtol(s, &e, 10), b = a;
        if (e == s)
            break;
        if (*e == '-')
            b = strtol(e + 1, &e, 10);
        for (long c = a; c <= b && p->ncpus < cap; c++)
            p->cpus[p->ncpus++] = (int)c;
        s = *e == ',' ? e + 1 : e;
    }
    free(text);
    if (p->ncpus == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        for (long c = 0; c < online && p->ncpus < cap; c++)
            p->cpus[p->ncpus++] = (int)c;
    }
    return p->ncpus ? 0 : -1;
}

/* ---- opened-thread set ---- */

static pid_t *opened_slot(struct perf_profiler *p, pid_t tid)
{
    size_t mask = p->opened_cap - 1;
    for (size_t i = ((uint32_t)tid * 2654435761u) & mask;; i = (i + 1) & mask)
        if (p->opened[i] == 0 || p->opened[i] == tid)
            return &p->opened[i];
}

/* ---- events ---- */

static void refused(struct perf_profiler *p, struct buf *err, int e, pid_t tid)
{
    char para[32];
    int value;
    perf_events_paranoid(para, sizeof para, &value);
    if (e == EACCES || e == EPERM)
        buf_printf(err,
                   "perf_event_open on pid %d (thread %d) refused: %s. "
                   "kernel.perf_event_paranoid is %s. Run scaleprof as root or with CAP_PERFMON, "
                   "or as the target's own user with `sysctl kernel.perf_event_paranoid=1` "
                   "(at 2 only user time is sampled; above 2 unprivileged users cannot sample); "
                   "in a container, its seccomp profile must allow perf_event_open",
                   (int)p->root, (int)tid, strerror(e), para);
    else
        buf_printf(err,
                   "perf_event_open on pid %d (thread %d): %s: this kernel offers no software "
                   "cpu-clock event to sample with (CONFIG_PERF_EVENTS, or a seccomp policy "
                   "blocking perf_event_open); kernel.perf_event_paranoid is %s",
                   (int)p->root, (int)tid, strerror(e), para);
}

static void fill_attr(struct perf_profiler *p, struct perf_event_attr *a)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_CPU_CLOCK;
    a->sample_period = p->period;
    a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_PERIOD |
                     PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    a->sample_regs_user = p->regs_mask;
    a->sample_stack_user = p->o.stack_bytes;
    /* per CPU the event sees every task: nothing to inherit; the idle task's
     * samples would only be dropped */
    a->inherit = !p->per_cpu;
    a->exclude_idle = p->per_cpu;
    a->mmap = 1;
    a->mmap2 = 1;
    a->comm = 1;
    a->comm_exec = 1;
    a->task = 1;
    a->sample_id_all = 1;
    a->exclude_kernel = !p->kernel;
    a->exclude_hv = 1;
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->watermark = 1;
    a->wakeup_watermark = p->o.ring_kb * 1024 / 4;
}

/* ---- per CPU ---- */

/* Opens one event per CPU for every task, each with its own ring.
 * PERF_ERR_REFUSED (message in err) when the kernel refuses system-wide
 * events: the caller may fall back to per thread. */
static int open_cpus(struct perf_profiler *p, struct buf *err)
{
    struct perf_event_attr a;
    if (p->ncpus > p->o.max_events) {
        buf_printf(err, "perf: %zu CPUs, over the limit of %u events", p->ncpus, p->o.max_events);
        return PERF_ERR;
    }
    for (size_t i = 0; i < p->ncpus; i++) {
        fill_attr(p, &a);
        int fd = (int)syscall(SYS_perf_event_open, &a, -1, p->cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            char para[32];
            int value;
            perf_events_paranoid(para, sizeof para, &value);
            buf_printf(err,
                       "perf: per-CPU events (every task on cpu %d) refused: %s; they need root, "
                       "CAP_PERFMON or kernel.perf_event_paranoid <= 0 (it is %s)",
                       p->cpus[i], strerror(e), para);
            return e == EACCES || e == EPERM || e == ENOENT || e == ENOSYS || e == EOPNOTSUPP ||
                           e == ENODEV
                       ? PERF_ERR_REFUSED
                       : PERF_ERR;
        }
        p->fds[p->nfds++] = fd;
        int rc = perf_ring_map(&p->rings[i], fd, p->o.ring_kb, err);
        if (rc < 0)
            return rc;
    }
    return PERF_OK;
}

/* The tree at start, after the events are open: a process a member creates
 * from now on has a FORK record. */
static int scan_tree(struct perf_profiler *p, struct buf *err)
{
    size_t max = (size_t)p->o.max_processes * TREE_PIDS_PER_PROCESS, total = 0;
    pid_t *pids = calloc(max, sizeof *pids);
    if (!pids) {
        buf_printf(err, "perf: out of memory");
        return PERF_ERR;
    }
    int np = proclist_pids(p->root, pids, max, &total);
    int e = errno;
    for (int i = 0; i < np; i++)
        perf_tree_add(p->tree, pids[i]);
    free(pids);
    if (np <= 0) {
        buf_printf(err, "perf: pid %d: %s", (int)p->root, strerror(e));
        return PERF_ERR_NO_TARGET;
    }
    if (total > (size_t)np)
        p->st.tree_untracked += total - (size_t)np;
    /* the root's maps before any record is read: its executable becomes mapping[0] */
    if (!perf_procs_get(p->procs, p->root)) {
        e = errno;
        buf_printf(err, "perf: pid %d: cannot read /proc/%d/maps: %s", (int)p->root, (int)p->root,
                   strerror(e));
        return e == ESRCH || e == ENOENT ? PERF_ERR_NO_TARGET : PERF_ERR;
    }
    return PERF_OK;
}

/* ---- per thread ---- */

/* Opens tid's events, one per CPU. 0 ok, 1 the thread is gone, <0 an error. */
static int open_thread(struct perf_profiler *p, pid_t tid, struct buf *err)
{
    struct perf_event_attr a;
    for (size_t i = 0; i < p->ncpus; i++) {
        if (p->nfds >= p->o.max_events) {
            buf_printf(err, "perf: over the limit of %u events (threads × %zu CPUs)",
                       p->o.max_events, p->ncpus);
            return PERF_ERR;
        }
        fill_attr(p, &a);
        int fd = (int)syscall(SYS_perf_event_open, &a, tid, p->cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0 && (errno == EACCES || errno == EPERM) && p->kernel && p->nfds == 0) {
            p->kernel = false; /* kernel samples not allowed: user time only */
            fill_attr(p, &a);
            fd = (int)syscall(SYS_perf_event_open, &a, tid, p->cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
        }
        if (fd < 0) {
            int e = errno;
            if (e == ESRCH)
                return 1; /* exited since the scan; events opened on it stay harmless */
            if (e == EACCES || e == EPERM || e == ENOENT || e == ENOSYS || e == EOPNOTSUPP ||
                e == ENODEV) {
                refused(p, err, e, tid);
                return PERF_ERR_REFUSED;
            }
            buf_printf(err, "perf_event_open on pid %d (thread %d, cpu %d): %s%s", (int)p->root,
                       (int)tid, p->cpus[i], strerror(e),
                       e == EMFILE ? " (RLIMIT_NOFILE: one descriptor per thread and CPU)" : "");
            return PERF_ERR;
        }
        p->fds[p->nfds++] = fd;
        struct perf_ring *r = &p->rings[i];
        if (!r->meta) {
            int rc = perf_ring_map(r, fd, p->o.ring_kb, err);
            if (rc < 0)
                return rc;
        } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) < 0) {
            buf_printf(err, "perf: PERF_EVENT_IOC_SET_OUTPUT (thread %d, cpu %d): %s", (int)tid,
                       p->cpus[i], strerror(errno));
            return PERF_ERR;
        }
    }
    return 0;
}

/* Room for n more descriptors: raises RLIMIT_NOFILE's soft limit if needed. */
static void reserve_fds(size_t n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    rlim_t want = (rlim_t)n + 256 + rl.rlim_cur;
    if (want > rl.rlim_max)
        want = rl.rlim_max;
    if (want > rl.rlim_cur) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Opens every thread of the tree not yet sampled; rescans until no new one
 * appears (each rescan after draining, so inherited threads are known). */
static int open_tree(struct perf_profiler *p, struct buf *err)
{
    size_t maxp = p->o.max_processes, maxt = p->o.max_threads;
    pid_t *pids = calloc(maxp, sizeof *pids), *tids = calloc(maxt, sizeof *tids);
    int rc = PERF_OK;
    if (!pids || !tids) {
        buf_printf(err, "perf: out of memory");
        rc = PERF_ERR;
    }
    for (int round = 0; rc == PERF_OK && round < RESCAN_ROUNDS; round++) {
        if (round > 0) {
            usleep(5000); /* lets a clone in progress write its FORK record */
            perf_profiler_drain(p);
        }
        size_t total;
        int np = proclist_pids(p->root, pids, maxp, &total);
        if (np <= 0) {
            if (round > 0)
                break; /* the target exited during start: stop reports what there was */
            buf_printf(err, "perf: pid %d: %s", (int)p->root, strerror(errno));
            rc = PERF_ERR_NO_TARGET;
            break;
        }
        size_t fresh = 0;
        for (int i = 0; i < np && rc == PERF_OK; i++) {
            int nt = proclist_tids(pids[i], tids, maxt, NULL);
            reserve_fds((size_t)(nt > 0 ? nt : 0) * p->ncpus);
            for (int j = 0; j < nt && rc == PERF_OK; j++) {
                pid_t *slot = opened_slot(p, tids[j]);
                if (*slot || perf_procs_forked(p->procs, tids[j]))
                    continue;
                if (p->nopened >= maxt) {
                    buf_printf(err, "perf: pid %d: over the limit of %zu threads", (int)p->root,
                               maxt);
                    rc = PERF_ERR;
                    break;
                }
                int r = open_thread(p, tids[j], err);
                if (r < 0)
                    rc = r;
                else if (r == 0) {
                    *slot = tids[j];
                    p->nopened++;
                    fresh++;
                }
            }
        }
        /* the root's maps before any record is read: its executable becomes
         * mapping[0]. After the first open, so that a user who may not sample
         * the target hears about permissions, not about /proc. */
        if (round == 0 && rc == PERF_OK && !perf_procs_get(p->procs, p->root)) {
            int e = errno; /* before buf_printf, which may change it */
            buf_printf(err, "perf: pid %d: cannot read /proc/%d/maps: %s", (int)p->root,
                       (int)p->root, strerror(e));
            rc = e == ESRCH || e == ENOENT ? PERF_ERR_NO_TARGET : PERF_ERR;
        }
        if (round > 0 && fresh == 0)
            break;
    }
    free(pids);
    free(tids);
    return rc;
}

void perf_events_close(struct perf_profiler *p)
{
    for (size_t i = 0; i < p->ncpus && p->rings; i++)
        perf_ring_unmap(&p->rings[i]);
    for (size_t i = 0; i < p->nfds; i++)
        close(p->fds[i]);
    p->nfds = 0;
}

int perf_events_open(struct perf_profiler *p, struct buf *err)
{
    if (p->o.mode != PERF_MODE_PER_THREAD) {
        struct buf why;
        buf_init(&why, 4096);
        p->per_cpu = true;
        p->kernel = true; /* whoever may watch every task may watch the kernel */
        int rc = open_cpus(p, &why);
        if (rc == PERF_OK)
            rc = scan_tree(p, &why);
        if (rc != PERF_ERR_REFUSED || p->o.mode == PERF_MODE_PER_CPU) {
            if (rc < 0)
                buf_puts(err, why.data ? why.data : "perf: per-CPU events failed");
            buf_free(&why);
            return rc;
        }
        buf_free(&why);
        perf_events_close(p);
        p->st.tree_untracked = 0;
        p->per_cpu = false;
        p->kernel = p->kernel_allowed;
    }
    return open_tree(p, err);
}
