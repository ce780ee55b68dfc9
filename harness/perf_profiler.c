/*
 * perf_profiler: the perf_event_open sampler behind perf_profiler.h: start
 * and stop, the reader thread that drains the ring buffers (perf_ring.h),
 * and the kernel's records into the profile. The events of either mode are
 * perf_events.c, unwinding perf_unwind.c, process bookkeeping
 * perf_procs.c, tree membership perf_tree.c, the profile pprof_write.c.
 *
 * Per CPU, the events see every task, so samples are filtered by pid
 * against the tree, which grows by FORK records. Each pass notes every
 * buffer's head, peeks at every buffer for FORK records and applies them in
 * time order, then judges the samples up to the noted heads (a child's FORK
 * record and its first samples can sit in different buffers, and a
 * grandchild's FORK can be read before its parent's; perf_ring.h says why
 * the heads come first); samples of other pids are counted and skipped
 * before anything but their pid is parsed.
 */
#include "perf_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_PERF_REGS 64
#define POLL_MS 50
#define REFRESH_MIN_AGE_S 0.1

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
    if (p->per_cpu && !perf_tree_has(p->tree, (pid_t)ids[0])) {
        p->st.samples_other++; /* another process, or the idle task: nothing more to read */
        return;
    }
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

/* A FORK record's fields (pid, ppid, tid, ptid, time); false when short. */
static bool fork_fields(const uint8_t *rec, size_t size, struct fork_rec *f)
{
    uint32_t u[4];
    if (size < sizeof(struct perf_event_header) + 24)
        return false;
    memcpy(u, rec + sizeof(struct perf_event_header), 16);
    memcpy(&f->time, rec + sizeof(struct perf_event_header) + 16, 8);
    f->pid = (pid_t)u[0];
    f->ppid = (pid_t)u[1];
    f->tid = (pid_t)u[2];
    f->ptid = (pid_t)u[3];
    return true;
}

static void handle_record(void *ctx, const uint8_t *rec, size_t size)
{
    struct perf_profiler *p = ctx;
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
            if (!p->per_cpu || perf_tree_has(p->tree, (pid_t)u[0]))
                perf_procs_mmap(p->procs, (pid_t)u[0]);
        }
        break;
    case PERF_RECORD_COMM:
        if (blen > 8) {
            char comm[17];
            memcpy(u, body, 8);
            if (p->per_cpu && !perf_tree_has(p->tree, (pid_t)u[0]))
                break;
            size_t n = blen - 8 < 16 ? blen - 8 : 16;
            memcpy(comm, body + 8, n);
            comm[n] = '\0';
            /* sample_id_all: the record ends with its time */
            uint64_t time = 0;
            if (blen >= 8 + 16)
                memcpy(&time, rec + size - 8, 8);
            if (h.misc & PERF_RECORD_MISC_COMM_EXEC)
                perf_procs_exec(p->procs, (pid_t)u[0]);
            perf_procs_comm(p->procs, (pid_t)u[0], (pid_t)u[1], comm, time);
        }
        break;
    case PERF_RECORD_FORK: {
        struct fork_rec f;
        /* per CPU they were applied when peeked at */
        if (!p->per_cpu && fork_fields(rec, size, &f))
            perf_procs_fork(p->procs, f.pid, f.ppid, f.tid, f.ptid, f.time);
        break;
    }
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

static int fork_order(const void *a, const void *b)
{
    const struct fork_rec *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The batch of FORK records, oldest first: a process joins the tree when
 * its creator is a member by then. */
static void apply_forks(struct perf_profiler *p)
{
    qsort(p->forks, p->nforks, sizeof *p->forks, fork_order);
    for (size_t i = 0; i < p->nforks; i++) {
        const struct fork_rec *f = &p->forks[i];
        enum perf_tree_fork r = perf_tree_fork(p->tree, f->pid, f->ppid);
        if (r == PERF_TREE_JOINED)
            perf_procs_fork(p->procs, f->pid, f->ppid, f->tid, f->ptid, f->time);
        else if (r == PERF_TREE_FULL)
            p->st.tree_untracked++;
    }
    p->nforks = 0;
}

static void peek_record(void *ctx, const uint8_t *rec, size_t size)
{
    struct perf_profiler *p = ctx;
    struct perf_event_header h;
    memcpy(&h, rec, sizeof h);
    if (h.type != PERF_RECORD_FORK)
        return;
    if (p->nforks == MAX_FORK_BATCH)
        apply_forks(p); /* a storm of forks: order holds within each batch */
    struct fork_rec *f = &p->forks[p->nforks];
    if (fork_fields(rec, size, f)) {
        f->seq = p->nforks;
        p->nforks++;
    }
}

void perf_profiler_drain(struct perf_profiler *p)
{
    if (p->per_cpu) {
        /* every head before any peek: what is below a mark has its FORK
         * records below the heads the peeks reach (perf_ring.h) */
        for (size_t i = 0; i < p->ncpus; i++)
            if (p->rings[i].meta)
                perf_ring_mark(&p->rings[i]);
        for (size_t i = 0; i < p->ncpus; i++)
            if (p->rings[i].meta)
                perf_ring_peek(&p->rings[i], peek_record, p, p->rec);
        apply_forks(p);
    }
    /* per CPU, only up to the marks: later records may need later FORKs */
    for (size_t i = 0; i < p->ncpus; i++)
        if (p->rings[i].meta)
            perf_ring_drain(&p->rings[i], p->per_cpu, handle_record, p, p->rec);
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
        perf_profiler_drain(p);
    }
    perf_profiler_drain(p);
    p->st.reader_cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID);
    free(pfds);
    return NULL;
}

/* ---- start / stop ---- */

/* The machine's busy time (user, nice, system, irq, softirq) and the time
 * the hypervisor stole, in ns, from /proc/stat; zeros when unreadable. */
static void machine_times(uint64_t *busy_ns, uint64_t *steal_ns)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    *busy_ns = *steal_ns = 0;
    if (!f)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    long tck = sysconf(_SC_CLK_TCK);
    if (n < 8 || tck <= 0)
        return;
    double ns = 1e9 / (double)tck;
    *busy_ns = (uint64_t)((double)(v[0] + v[1] + v[2] + v[5] + v[6]) * ns);
    *steal_ns = (uint64_t)((double)v[7] * ns);
}

static void release(struct perf_profiler *p)
{
    perf_events_close(p);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    perf_procs_free(p->procs);
    perf_tree_free(p->tree);
    free(p->forks);
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
    else if (o->mode != PERF_MODE_AUTO && o->mode != PERF_MODE_PER_CPU &&
             o->mode != PERF_MODE_PER_THREAD)
        bad = "mode must be auto, per_cpu or per_thread";
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
    perf_events_paranoid(para, sizeof para, &paranoid);
    p->kernel = p->kernel_allowed = geteuid() == 0 || paranoid <= 1;
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
    if (perf_events_cpus(p) < 0 || !(p->rings = calloc(p->ncpus, sizeof *p->rings)) ||
        !(p->fds = calloc(o->max_events, sizeof *p->fds)) ||
        !(p->opened = calloc(p->opened_cap, sizeof *p->opened)) ||
        !(p->rec = malloc(PERF_RING_MAX_RECORD)) ||
        !(p->pcs = calloc(o->max_depth, sizeof *p->pcs)) ||
        !(p->locs = calloc(o->max_depth, sizeof *p->locs)) ||
        !(p->tree = perf_tree_new((size_t)o->max_processes * TREE_PIDS_PER_PROCESS)) ||
        !(p->forks = calloc(MAX_FORK_BATCH, sizeof *p->forks)) ||
        !(p->pb = pprof_new(types, 2, &period_type, (int64_t)p->period, &lim))) {
        buf_printf(err, "perf: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < p->ncpus; i++)
        p->rings[i].fd = -1; /* not mapped: poll ignores it */
    if (unwind_new(&p->uw, o->max_processes, err) < 0 ||
        perf_procs_new(&p->procs, p->pb, p->uw, o->max_processes, o->max_threads, err) < 0)
        goto fail;
    if ((p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        buf_printf(err, "perf: eventfd: %s", strerror(errno));
        goto fail;
    }
    machine_times(&p->busy0, &p->steal0);
    p->t0_real = now_ns(CLOCK_REALTIME);
    p->t0_mono = now_ns(CLOCK_MONOTONIC);
    if ((rc = perf_events_open(p, err)) < 0)
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
    uint64_t busy1, steal1;
    machine_times(&busy1, &steal1);
    p->st.busy_ns = busy1 > p->busy0 ? busy1 - p->busy0 : 0;
    p->st.steal_ns = steal1 > p->steal0 ? steal1 - p->steal0 : 0;
    /* a cpu-clock event counts nanoseconds on CPU, and its value includes
     * the threads that inherited it, exited ones too; per CPU it counts
     * every task's time, which says nothing about the tree */
    for (size_t i = 0; i < p->nfds && !p->per_cpu; i++) {
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

    p->st.per_cpu = p->per_cpu;
    p->st.kernel_sampled = p->kernel;
    p->st.period_ns = p->period;
    p->st.duration_ns = p->t1_mono - p->t0_mono;
    p->st.events = p->nfds;
    p->st.processes = perf_procs_process_count(p->procs);
    p->st.threads = perf_procs_thread_count(p->procs);
    p->st.stacks = pprof_sample_count(p->pb);
    int rc = PERF_OK;
    if (pprof_path) {
        char note[320];
        snprintf(note, sizeof note,
                 "scaleprof perf: cpu-clock every %" PRIu64 " ns, %s, kernel time %s, %" PRIu64
                 " samples, %" PRIu64 " with a complete stack, %" PRIu64 " lost records, %" PRIu64
                 " %s",
                 p->period, p->per_cpu ? "per CPU" : "per thread",
                 p->kernel ? "sampled" : "not sampled", p->st.samples, p->st.samples_complete,
                 p->st.lost, p->per_cpu ? p->st.samples_other : p->st.counted_cpu_ns,
                 p->per_cpu ? "samples of other processes dropped" : "ns counted on CPU");
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
