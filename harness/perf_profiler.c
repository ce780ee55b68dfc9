/*
 * perf_profiler: the perf_event_open sampler behind perf_profiler.h: the
 * events (one per thread and CPU, inherit=1), the per-CPU ring buffers, the
 * reader thread that drains them, and the parsing of the kernel's records.
 * Unwinding is perf_unwind.c, process bookkeeping perf_procs.c, the profile
 * pprof_write.c.
 *
 * Why per thread × per CPU: the kernel refuses to mmap an inherited event
 * whose cpu is -1, and inheritance is what follows threads and processes
 * created during the window. Every event of a CPU writes into that CPU's one
 * ring (PERF_EVENT_IOC_SET_OUTPUT), so there are ncpu buffers however many
 * threads; events inherited by new tasks write into their parent's buffer.
 *
 * Threads that exist at start are opened one by one from /proc. A thread
 * created by an already-sampled thread inherits its events, and must not be
 * opened again (its samples would count twice): the FORK record the kernel
 * writes for it tells them apart, so each rescan of /proc first drains the
 * buffers and skips threads a FORK record named. (A thread that appears in
 * /proc in the microseconds before its FORK record is written could still
 * be opened twice; a few rescans at start are the only window for that.)
 */
#include "perf_profiler.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"
#include "perf_procs.h"
#include "perf_unwind.h"
#include "pprof_write.h"
#include "proclist.h"

#define MAX_RECORD 65536 /* a record's size is a u16 */
#define MAX_PERF_REGS 64
#define RESCAN_ROUNDS 4
#define POLL_MS 50
#define REFRESH_MIN_AGE_S 0.1

struct ring {
    int fd; /* the event whose buffer it is */
    struct perf_event_mmap_page *meta;
    uint8_t *data;
    size_t data_size, mmap_len;
};

struct perf_profiler {
    pid_t root;
    struct perf_options o;
    uint64_t period;
    bool kernel;
    uint64_t regs_mask;
    size_t nregs;
    int *cpus;
    size_t ncpus;
    struct ring *rings; /* one per entry of cpus */
    int *fds;
    size_t nfds, fds_cap;
    pid_t *opened; /* set of tids opened by us (open addressing, 0 = free) */
    size_t opened_cap, nopened;
    struct pprof_builder *pb;
    struct unwinder *uw;
    struct perf_procs *procs;
    pthread_t reader;
    bool reader_started;
    int wake_fd;
    atomic_bool stopping;
    uint64_t t0_mono, t0_real, t1_mono;
    struct perf_stats st;
    uint8_t *rec; /* a record that wraps around the ring, made contiguous */
    uint64_t *pcs, *locs;
};

void perf_options_default(struct perf_options *o)
{
    memset(o, 0, sizeof *o);
    o->hz = 99;
    o->stack_bytes = 16384;
    o->max_depth = 256;
    o->max_threads = 16384;
    o->max_events = 65536;
    o->max_processes = 1024;
    o->ring_kb = 512;
    o->max_stacks = 1u << 20;
    o->max_file_bytes = (uint64_t)256 << 20;
}

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* kernel.perf_event_paranoid as text ("unreadable" when it cannot be read). */
static void paranoid_text(char *out, size_t len, int *value)
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
static int online_cpus(struct perf_profiler *p)
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

/* ---- records ---- */

static void handle_sample(struct perf_profiler *p, const uint8_t *rec, size_t size)
{
    const uint8_t *c = rec + sizeof(struct perf_event_header), *end = rec + size;
    uint64_t ip, time, period, abi = 0, regs[MAX_PERF_REGS], ssize = 0, dyn = 0;
    uint32_t ids[2];
    const uint8_t *stack = NULL;
#define TAKE(dst, n)                                                                               \
    do {                                                                                           \
        if ((size_t)(end - c) < (n))                                                               \
            goto bad;                                                                              \
        memcpy((dst), c, (n));                                                                     \
        c += (n);                                                                                  \
    } while (0)
    TAKE(&ip, 8);
    TAKE(ids, 8);
    TAKE(&time, 8);
    TAKE(&period, 8);
    TAKE(&abi, 8);
    if (abi != PERF_SAMPLE_REGS_ABI_NONE)
        TAKE(regs, p->nregs * 8);
    TAKE(&ssize, 8);
    if (ssize) {
        if ((size_t)(end - c) < ssize)
            goto bad;
        stack = c;
        c += ssize;
        TAKE(&dyn, 8);
        if (dyn > ssize)
            dyn = ssize;
    }
#undef TAKE
    pid_t pid = (pid_t)ids[0], tid = (pid_t)ids[1];
    p->st.samples++;
    p->st.sampled_cpu_ns += period;

    size_t n = 0;
    const char *partial = "no_stack"; /* the "unwind" label; NULL when complete */
    struct perf_proc *proc = perf_procs_get(p->procs, pid);
    struct unwind_sample us = {.pid = pid, .tid = tid, .stack = stack, .stack_len = dyn};
    if (!proc || abi != PERF_SAMPLE_REGS_ABI_64 ||
        unwind_regs_from_perf(p->regs_mask, regs, p->nregs, us.regs) < 0) {
        p->st.samples_no_stack++;
    } else {
        /* code mapped since the last snapshot (the MMAP2 record may sit in
         * another CPU's buffer, not read yet) */
        if (!unwind_pc_mapped(p->uw, pid, us.regs[UNWIND_REG_IP]))
            perf_procs_refresh(p->procs, proc, REFRESH_MIN_AGE_S);
        enum unwind_end e = unwind_stack(p->uw, &us, p->pcs, p->o.max_depth, &n);
        if (e == UNWIND_COMPLETE) {
            p->st.samples_complete++;
            partial = NULL;
        } else if (e == UNWIND_DEPTH) {
            p->st.samples_depth_cap++;
            partial = "depth";
        } else if (e == UNWIND_ERROR) {
            p->st.samples_unwind_error++;
            partial = "error";
        } else {
            p->st.samples_no_stack++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        p->locs[i] = pprof_location(p->pb, perf_procs_mapping(proc, p->pcs[i]), p->pcs[i]);
        if (!p->locs[i]) {
            n = i; /* the location table is full: keep the leaf end */
            break;
        }
    }
    struct pprof_label labels[3] = {
        {"pid", NULL, pid},
        {"thread", perf_procs_thread_name(p->procs, pid, tid), 0},
        {"unwind", partial, 0},
    };
    int64_t values[2] = {1, (int64_t)period};
    if (pprof_add_sample(p->pb, p->locs, n, values, labels, partial ? 3 : 2) < 0)
        p->st.samples_dropped++;
    return;
bad:
    p->st.samples_dropped++; /* a record shorter than its fields: counted, not trusted */
}

static void handle_record(struct perf_profiler *p, const uint8_t *rec, size_t size)
{
    struct perf_event_header h;
    memcpy(&h, rec, sizeof h);
    const uint8_t *body = rec + sizeof h;
    size_t blen = size - sizeof h;
    uint32_t u[4];
    uint64_t v[2];
    switch (h.type) {
    case PERF_RECORD_SAMPLE:
        handle_sample(p, rec, size);
        break;
    case PERF_RECORD_MMAP:
    case PERF_RECORD_MMAP2:
        if (blen >= 8) {
            memcpy(u, body, 8);
            perf_procs_mmap(p->procs, (pid_t)u[0]);
        }
        break;
    case PERF_RECORD_COMM:
        if (blen > 8) {
            char comm[17];
            memcpy(u, body, 8);
            size_t n = blen - 8 < 16 ? blen - 8 : 16;
            memcpy(comm, body + 8, n);
            comm[n] = '\0';
            if (h.misc & PERF_RECORD_MISC_COMM_EXEC)
                perf_procs_exec(p->procs, (pid_t)u[0]);
            perf_procs_comm(p->procs, (pid_t)u[0], (pid_t)u[1], comm);
        }
        break;
    case PERF_RECORD_FORK:
        if (blen >= 16) {
            memcpy(u, body, 16);
            perf_procs_fork(p->procs, (pid_t)u[0], (pid_t)u[1], (pid_t)u[2], (pid_t)u[3]);
        }
        break;
    case PERF_RECORD_LOST:
        if (blen >= 16) {
            memcpy(v, body, 16);
            p->st.lost += v[1];
        }
        break;
    case PERF_RECORD_LOST_SAMPLES:
        if (blen >= 8) {
            memcpy(v, body, 8);
            p->st.lost += v[0];
        }
        break;
    default:
        break;
    }
}

static void drain_ring(struct perf_profiler *p, struct ring *r)
{
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->meta->data_tail;
    size_t mask = r->data_size - 1;
    while (head - tail >= sizeof(struct perf_event_header)) {
        struct perf_event_header h;
        size_t off = tail & mask;
        /* records are 8-byte aligned in a power-of-two ring: a header never wraps */
        memcpy(&h, r->data + off, sizeof h);
        if (h.size < sizeof h || h.size > head - tail) {
            tail = head; /* a torn or corrupt buffer: skip what is there */
            break;
        }
        const uint8_t *rec = r->data + off;
        if (off + h.size > r->data_size) {
            size_t first = r->data_size - off;
            memcpy(p->rec, r->data + off, first);
            memcpy(p->rec + first, r->data, h.size - first);
            rec = p->rec;
        }
        handle_record(p, rec, h.size);
        tail += h.size;
        /* hand the room back at once: unwinding takes a while */
        __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

static void drain_all(struct perf_profiler *p)
{
    for (size_t i = 0; i < p->ncpus; i++)
        if (p->rings[i].meta)
            drain_ring(p, &p->rings[i]);
}

static void *reader_main(void *arg)
{
    struct perf_profiler *p = arg;
    struct pollfd *pfds = calloc(p->ncpus + 1, sizeof *pfds);
    if (pfds) {
        pfds[0] = (struct pollfd){.fd = p->wake_fd, .events = POLLIN};
        for (size_t i = 0; i < p->ncpus; i++)
            pfds[i + 1] = (struct pollfd){.fd = p->rings[i].fd, .events = POLLIN};
    }
    while (!atomic_load(&p->stopping)) {
        if (pfds) {
            poll(pfds, p->ncpus + 1, POLL_MS);
            /* an event whose thread exited reports POLLHUP for ever: stop
             * polling it, its ring is still drained on every pass */
            for (size_t i = 1; i <= p->ncpus; i++)
                if (pfds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
                    pfds[i].fd = -1;
        } else {
            usleep(POLL_MS * 1000);
        }
        drain_all(p);
    }
    drain_all(p);
    p->st.reader_cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID);
    free(pfds);
    return NULL;
}

/* ---- events ---- */

static void refused(struct perf_profiler *p, struct buf *err, int e, pid_t tid)
{
    char para[32];
    int value;
    paranoid_text(para, sizeof para, &value);
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

static int map_ring(struct perf_profiler *p, struct ring *r, int fd, struct buf *err)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (size_t)p->o.ring_kb * 1024;
    for (; data >= 64 * 1024; data /= 2) {
        void *m = mmap(NULL, data + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            r->fd = fd;
            r->meta = m;
            r->data = (uint8_t *)m + page;
            r->data_size = data;
            r->mmap_len = data + page;
            return 0;
        }
        if (errno != EPERM && errno != ENOMEM)
            break;
    }
    int e = errno;
    buf_printf(err, "perf: mmap of a %u KiB ring buffer: %s%s", p->o.ring_kb, strerror(e),
               e == EPERM ? " (over kernel.perf_event_mlock_kb and RLIMIT_MEMLOCK)" : "");
    return e == EPERM ? PERF_ERR_REFUSED : PERF_ERR;
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
    a->inherit = 1;
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
        struct ring *r = &p->rings[i];
        if (!r->meta) {
            int rc = map_ring(p, r, fd, err);
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
            drain_all(p);
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
            buf_printf(err, "perf: pid %d: cannot read /proc/%d/maps: %s", (int)p->root,
                       (int)p->root, strerror(errno));
            rc = errno == ESRCH || errno == ENOENT ? PERF_ERR_NO_TARGET : PERF_ERR;
        }
        if (round > 0 && fresh == 0)
            break;
    }
    free(pids);
    free(tids);
    return rc;
}

/* ---- start / stop ---- */

static void release(struct perf_profiler *p)
{
    for (size_t i = 0; i < p->ncpus && p->rings; i++)
        if (p->rings[i].meta)
            munmap(p->rings[i].meta, p->rings[i].mmap_len);
    for (size_t i = 0; i < p->nfds; i++)
        close(p->fds[i]);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    perf_procs_free(p->procs);
    unwind_free(p->uw);
    pprof_free(p->pb);
    free(p->rings);
    free(p->fds);
    free(p->opened);
    free(p->cpus);
    free(p->rec);
    free(p->pcs);
    free(p->locs);
    free(p);
}

static int check_options(const struct perf_options *o, struct buf *err)
{
    const char *bad = NULL;
    if (o->hz < 1 || o->hz > 10000)
        bad = "hz must be in 1..10000";
    else if (o->stack_bytes < 1024 || o->stack_bytes > 64512 || o->stack_bytes % 8)
        bad = "stack_bytes must be a multiple of 8 in 1024..64512";
    else if (o->max_depth < 1 || o->max_depth > PPROF_MAX_DEPTH)
        bad = "max_depth must be in 1..4096";
    else if (o->ring_kb < 64 || (o->ring_kb & (o->ring_kb - 1)) ||
             (uint64_t)o->ring_kb * 1024 < 4ull * (o->stack_bytes + 512))
        bad = "ring_kb must be a power of two >= 64 holding 4 samples";
    else if (!o->max_threads || !o->max_processes || !o->max_events || !o->max_stacks)
        bad = "the limits must be positive";
    if (bad)
        buf_printf(err, "perf: %s", bad);
    return bad ? PERF_ERR : PERF_OK;
}

int perf_profiler_start(struct perf_profiler **out, pid_t root, const struct perf_options *o,
                        struct buf *err)
{
    *out = NULL;
    struct perf_options defaults;
    perf_options_default(&defaults);
    if (!o)
        o = &defaults;
    if (check_options(o, err) < 0)
        return PERF_ERR;
    if (root <= 0 || (kill(root, 0) < 0 && errno == ESRCH)) {
        buf_printf(err, "perf: pid %d: no such process", (int)root);
        return PERF_ERR_NO_TARGET;
    }
    struct perf_profiler *p = calloc(1, sizeof *p);
    if (!p) {
        buf_printf(err, "perf: out of memory");
        return PERF_ERR;
    }
    p->root = root;
    p->o = *o;
    p->wake_fd = -1;
    p->period = 1000000000u / o->hz;
    p->regs_mask = unwind_perf_regs_mask();
    p->nregs = (size_t)__builtin_popcountll(p->regs_mask);
    char para[32];
    int paranoid;
    paranoid_text(para, sizeof para, &paranoid);
    p->kernel = geteuid() == 0 || paranoid <= 1;
    p->opened_cap = 16;
    while (p->opened_cap < 2 * (size_t)o->max_threads)
        p->opened_cap *= 2;

    struct pprof_limits lim;
    pprof_limits_default(&lim);
    lim.max_samples = o->max_stacks;
    lim.max_file_bytes = o->max_file_bytes;
    const struct pprof_value_type types[2] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
    const struct pprof_value_type period_type = {"cpu", "nanoseconds"};
    int rc = PERF_ERR;
    if (online_cpus(p) < 0 || !(p->rings = calloc(p->ncpus, sizeof *p->rings)) ||
        !(p->fds = calloc(o->max_events, sizeof *p->fds)) ||
        !(p->opened = calloc(p->opened_cap, sizeof *p->opened)) || !(p->rec = malloc(MAX_RECORD)) ||
        !(p->pcs = calloc(o->max_depth, sizeof *p->pcs)) ||
        !(p->locs = calloc(o->max_depth, sizeof *p->locs)) ||
        !(p->pb = pprof_new(types, 2, &period_type, (int64_t)p->period, &lim))) {
        buf_printf(err, "perf: out of memory");
        goto fail;
    }
    p->fds_cap = o->max_events;
    for (size_t i = 0; i < p->ncpus; i++)
        p->rings[i].fd = -1; /* not mapped: poll ignores it */
    if (unwind_new(&p->uw, o->max_processes, err) < 0 ||
        perf_procs_new(&p->procs, p->pb, p->uw, o->max_processes, o->max_threads, err) < 0)
        goto fail;
    if ((p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        buf_printf(err, "perf: eventfd: %s", strerror(errno));
        goto fail;
    }
    p->t0_real = now_ns(CLOCK_REALTIME);
    p->t0_mono = now_ns(CLOCK_MONOTONIC);
    if ((rc = open_tree(p, err)) < 0)
        goto fail;
    /* the reader takes no signals: the harness's SIGINT/SIGTERM handling
     * stays on its own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->reader, NULL, reader_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        buf_printf(err, "perf: starting the reader thread: %s", strerror(rc));
        rc = PERF_ERR;
        goto fail;
    }
    p->reader_started = true;
    *out = p;
    return PERF_OK;
fail:
    release(p);
    return rc;
}

int perf_profiler_stop(struct perf_profiler *p, const char *pprof_path, struct perf_stats *st,
                       struct buf *err)
{
    if (!p)
        return PERF_ERR;
    /* disabling a parent event disables the events its threads inherited */
    for (size_t i = 0; i < p->nfds; i++)
        ioctl(p->fds[i], PERF_EVENT_IOC_DISABLE, 0);
    p->t1_mono = now_ns(CLOCK_MONOTONIC);
    /* a cpu-clock event counts nanoseconds on CPU, and its value includes
     * the threads that inherited it, exited ones too */
    for (size_t i = 0; i < p->nfds; i++) {
        uint64_t count;
        if (read(p->fds[i], &count, sizeof count) == (ssize_t)sizeof count)
            p->st.counted_cpu_ns += count;
    }
    atomic_store(&p->stopping, true);
    uint64_t one = 1;
    if (write(p->wake_fd, &one, sizeof one) < 0) {
        /* the reader still sees stopping within POLL_MS */
    }
    if (p->reader_started)
        pthread_join(p->reader, NULL);

    p->st.kernel_sampled = p->kernel;
    p->st.period_ns = p->period;
    p->st.duration_ns = p->t1_mono - p->t0_mono;
    p->st.events = p->nfds;
    p->st.processes = perf_procs_process_count(p->procs);
    p->st.threads = perf_procs_thread_count(p->procs);
    p->st.stacks = pprof_sample_count(p->pb);
    int rc = PERF_OK;
    if (pprof_path) {
        char note[256];
        snprintf(note, sizeof note,
                 "scaleprof perf: cpu-clock every %" PRIu64 " ns, kernel time %s, %" PRIu64
                 " samples, %" PRIu64 " with a complete stack, %" PRIu64 " lost records, %" PRIu64
                 " ns counted on CPU",
                 p->period, p->kernel ? "sampled" : "not sampled", p->st.samples,
                 p->st.samples_complete, p->st.lost, p->st.counted_cpu_ns);
        pprof_add_comment(p->pb, note);
        pprof_set_time(p->pb, (int64_t)p->t0_real, (int64_t)p->st.duration_ns);
        if (pprof_write(p->pb, pprof_path, err) < 0)
            rc = PERF_ERR;
    }
    if (st)
        *st = p->st;
    release(p);
    return rc;
}
