/*
 * perf_profiler: a sampling CPU profiler for any process tree, from outside,
 * for programs with no profiler of their own and no frame pointers.
 *
 * perf_event_open's software cpu-clock event at a fixed period of 1e9/hz ns
 * (not frequency mode: every sample stands for exactly one period of CPU, so
 * samples × period estimates CPU time) on every thread of every process of
 * the tree rooted at a pid, one event per thread and CPU with inherit=1, so
 * threads and processes started during the window are sampled too. Each
 * sample carries the user registers and the top of the user stack; a reader
 * thread drains one ring buffer per CPU and unwinds each sample with libdw
 * from the binaries' CFI (perf_unwind.h) as it goes, and aggregates stacks
 * into a pprof profile (pprof_write.h) written at stop.
 *
 * Kernel time is sampled when permitted (root, CAP_PERFMON, or
 * kernel.perf_event_paranoid <= 1): a sample taken in a system call still
 * carries the user registers and stack at the call, so the time is charged
 * to the user code that made the call, as gperftools' SIGPROF does.
 * Otherwise only user time is sampled and the stats say so.
 *
 * The profile (gzip'd pprof protobuf, as Go writes): sample types
 * [samples/count, cpu/nanoseconds], period cpu/nanoseconds; one Mapping per
 * executable file mapping of each process (mapping[0]: the root's
 * executable); address-only Locations (no names: the analysis symbolizes
 * them from the mappings); caller frames are return address − 1. Each
 * Sample has labels pid (num) and thread (str, the thread's comm), and, when
 * its chain did not reach the outermost frame, unwind (str: "error" — CFI
 * missing or the stack copy too short —, "depth" — max_depth —, or
 * "no_stack" — no user registers, no frames at all); identical
 * (pid, thread, unwind, stack) samples are aggregated.
 *
 * Ordering: records are handled per CPU buffer as they are read, not merged
 * by time, so a thread renamed during the window may have a few samples
 * under its old name, and a sample whose code was mapped moments before is
 * resolved by re-reading /proc/<pid>/maps (at most every 100 ms per process).
 *
 * Ownership and errors: perf_profiler_start allocates the profiler and
 * starts the reader thread; perf_profiler_stop always stops and frees it
 * (also on error). Both return 0, or a negative enum perf_status with a
 * message appended to err. Not thread-safe: start and stop from one thread.
 */
#ifndef SCALEPROF_PERF_PROFILER_H
#define SCALEPROF_PERF_PROFILER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct perf_profiler;

enum perf_status {
    PERF_OK = 0,
    PERF_ERR = -1,           /* anything else: memory, files, limits, bad options */
    PERF_ERR_REFUSED = -2,   /* the kernel refused perf_event_open or its buffer:
                              * permissions (the message says what to set) or no support */
    PERF_ERR_NO_TARGET = -3, /* the root pid does not exist */
};

struct perf_options {
    unsigned hz;             /* samples per CPU-second of each thread (default 99) */
    unsigned stack_bytes;    /* user stack copied per sample: a multiple of 8 in
                              * [1024, 64512] (default 16384; the kernel caps a record
                              * at 64 KiB) */
    unsigned max_depth;      /* frames per stack (default 256) */
    unsigned max_threads;    /* threads tracked, and opened at start (default 16384) */
    unsigned max_events;     /* events opened at start: threads × CPUs (default 65536) */
    unsigned max_processes;  /* processes tracked, one libdwfl session each (default 1024) */
    unsigned ring_kb;        /* ring buffer per CPU, KiB, a power of two (default 512: what
                              * perf_event_mlock_kb lets an unprivileged user lock per CPU);
                              * halved down to 64 KiB when the kernel refuses the size */
    uint64_t max_stacks;     /* distinct (pid, thread, stack) in the profile (default 1M) */
    uint64_t max_file_bytes; /* compressed profile (default 256 MiB) */
};

struct perf_stats {
    uint64_t samples;              /* sample records read */
    uint64_t samples_complete;     /* ... whose unwind reached the outermost frame */
    uint64_t samples_unwind_error; /* CFI missing, stack copy too short, bad frame */
    uint64_t samples_depth_cap;    /* stopped at max_depth */
    uint64_t samples_no_stack;     /* no user registers (not a 64-bit process) or no process
                                    * state: in the profile with no frames */
    uint64_t samples_dropped;      /* not in the profile: a table cap was hit */
    uint64_t lost;                 /* records the kernel could not write (PERF_RECORD_LOST) */
    uint64_t processes, threads;   /* seen in the window: sampled, named or created */
    uint64_t events;               /* perf events opened at start */
    bool kernel_sampled;           /* exclude_kernel = 0 */
    uint64_t period_ns;
    uint64_t sampled_cpu_ns; /* sum of the samples' periods */
    uint64_t counted_cpu_ns; /* CPU the events counted (exact, sampled or not): short of
                              * it, sampled_cpu_ns lost under one period per thread and CPU,
                              * which for threads living less than a period is all of it */
    uint64_t duration_ns;    /* first event opened .. events disabled */
    uint64_t reader_cpu_ns;  /* CPU of the reader/unwinder thread */
    uint64_t stacks;         /* distinct samples in the profile */
};

void perf_options_default(struct perf_options *o);

/* Starts sampling the tree of root. o NULL = defaults. On success *out owns
 * the reader thread and every event. */
int perf_profiler_start(struct perf_profiler **out, pid_t root, const struct perf_options *o,
                        struct buf *err);

/* Stops sampling, unwinds what is left in the buffers, writes the profile to
 * pprof_path (temporary name + rename; NULL: write nothing), fills st (may
 * be NULL) and frees p. A failed write still fills st. */
int perf_profiler_stop(struct perf_profiler *p, const char *pprof_path, struct perf_stats *st,
                       struct buf *err);

#endif
