/*
 * perf_internal: the perf profiler's state, shared by its two halves and by
 * nothing else: perf_profiler.c (start and stop, the reader thread, the
 * kernel's records into the profile) and perf_events.c (the events of
 * either mode: one per CPU for every task, or one per thread and CPU).
 */
#ifndef SCALEPROF_PERF_INTERNAL_H
#define SCALEPROF_PERF_INTERNAL_H

#include <linux/perf_event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "perf_procs.h"
#include "perf_profiler.h"
#include "perf_ring.h"
#include "perf_tree.h"
#include "perf_unwind.h"
#include "pprof_write.h"

#define MAX_FORK_BATCH 65536 /* FORK records applied in one time-ordered batch */
#define TREE_PIDS_PER_PROCESS 4

/* A FORK record peeked at, waiting to be applied in time order. */
struct fork_rec {
    uint64_t time, seq;
    pid_t pid, ppid, tid, ptid;
};

struct perf_profiler {
    pid_t root;
    struct perf_options o;
    uint64_t period;
    bool kernel, kernel_allowed; /* sampling kernel time: now, and as far as we know */
    bool per_cpu;
    uint64_t regs_mask;
    size_t nregs;
    int *cpus;
    size_t ncpus;
    struct perf_ring *rings; /* one per entry of cpus */
    int *fds;
    size_t nfds;   /* fds holds max_events */
    pid_t *opened; /* set of tids opened by us (open addressing, 0 = free) */
    size_t opened_cap, nopened;
    struct pprof_builder *pb;
    struct unwinder *uw;
    struct perf_procs *procs;
    struct perf_tree *tree; /* per CPU: the pids whose samples are kept */
    struct fork_rec *forks; /* per CPU: the FORK records of a pass */
    size_t nforks;
    pthread_t reader;
    bool reader_started;
    int wake_fd;
    atomic_bool stopping;
    uint64_t t0_mono, t0_real, t1_mono;
    uint64_t busy0, steal0; /* /proc/stat at start */
    struct perf_stats st;
    uint8_t *rec; /* a record that wraps around the ring, made contiguous */
    uint64_t *pcs, *locs;
};

/* perf_events.c */

/* Fills p->cpus and p->ncpus with the online CPUs. -1 when out of memory. */
int perf_events_cpus(struct perf_profiler *p);
/* kernel.perf_event_paranoid as text ("unreadable") and value (99 then). */
void perf_events_paranoid(char *out, size_t len, int *value);
/* Opens the events (per CPU when asked or permitted, else per thread) and
 * learns the tree; sets p->per_cpu and p->kernel. 0, or a negative enum
 * perf_status with a message appended to err. */
int perf_events_open(struct perf_profiler *p, struct buf *err);
/* Unmaps every ring and closes every event. */
void perf_events_close(struct perf_profiler *p);

/* perf_profiler.c */

/* Reads every ring's records into the profile (per thread: rescans at
 * start need the FORK records read so far). */
void perf_profiler_drain(struct perf_profiler *p);

#endif
