/*
 * perf_profiler: a sampling CPU profiler for any process tree, from outside,
 * for programs with no profiler of their own and no frame pointers.
 *
 * perf_event_open's software cpu-clock event at a fixed period of 1e9/hz ns
 * (not frequency mode: every sample stands for exactly one period of CPU, so
 * samples × period estimates CPU time), in one of two modes:
 *
 *  - per CPU (the default when permitted: root, CAP_PERFMON or
 *    kernel.perf_event_paranoid <= 0): one event per CPU for every task
 *    (pid -1), each with its own ring buffer; only samples of the tree are
 *    kept. The tree is the root and its descendants: an initial scan of
 *    /proc plus every process a member creates (FORK records, perf_tree.h).
 *    Each CPU's counter runs across tasks, so a sample lands on whatever
 *    runs when the CPU's period elapses: samples × period is an unbiased
 *    estimate of the tree's CPU however many threads share it (the error is
 *    statistical: about 1/sqrt(samples); and a load periodic in step with
 *    the period is always sampled at the same phase, which is why 99 Hz, not
 *    100), short-lived threads are caught, and nothing happens at a context
 *    switch. Samples of other processes are
 *    dropped before any unwinding and counted (samples_other); the idle
 *    task is not sampled at all (exclude_idle).
 *  - per thread (when per-CPU events are refused, or asked for): one event
 *    per thread and CPU with inherit=1, so threads and processes started
 *    during the window are sampled too, every event of a CPU writing into
 *    that CPU's one ring. Each counter loses under one period at the end of
 *    the window, so threads using less than a period per CPU per window are
 *    undercounted (a tree of many light threads can show half its CPU), and
 *    every context switch of a sampled thread starts and cancels its timer.
 *
 * Each sample carries the user registers and the top of the user stack; a
 * reader thread drains the ring buffers and unwinds each sample with libdw
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
 * In per-CPU mode the FORK records of every buffer are applied first, in
 * time order, each time the reader wakes, so a child's samples are kept
 * whichever buffer its FORK record is in; a pid that leaves the tree and is
 * reused by another process within one pass (50 ms) could have a few
 * samples misfiled.
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

enum perf_mode {
    PERF_MODE_AUTO = 0,   /* per CPU when permitted, else per thread (the default) */
    PERF_MODE_PER_CPU,    /* per CPU, or PERF_ERR_REFUSED */
    PERF_MODE_PER_THREAD, /* per thread × CPU, inherited */
};

struct perf_options {
    enum perf_mode mode;
    unsigned hz;             /* samples per CPU-second (default 99) */
    unsigned stack_bytes;    /* user stack copied per sample: a multiple of 8 in
                              * [1024, 64512] (default 16384; the kernel caps a record
                              * at 64 KiB) */
    unsigned max_depth;      /* frames per stack (default 256) */
    unsigned max_threads;    /* threads tracked, and opened at start (default 16384) */
    unsigned max_events;     /* events opened at start: threads × CPUs per thread, CPUs
                              * per CPU (default 65536) */
    unsigned max_processes;  /* processes tracked, one libdwfl session each (default 1024);
                              * per CPU, 4× as many pids are remembered as members */
    unsigned ring_kb;        /* ring buffer per CPU, KiB, a power of two (default 512: what
                              * perf_event_mlock_kb lets an unprivileged user lock per CPU);
                              * halved down to 64 KiB when the kernel refuses the size */
    uint64_t max_stacks;     /* distinct (pid, thread, stack) in the profile (default 1M) */
    uint64_t max_file_bytes; /* compressed profile (default 256 MiB) */
};

struct perf_stats {
    bool per_cpu;                  /* the mode that ran: per CPU, else per thread */
    uint64_t samples;              /* sample records of the tree read */
    uint64_t samples_complete;     /* ... whose unwind reached the outermost frame */
    uint64_t samples_unwind_error; /* CFI missing, stack copy too short, bad frame */
    uint64_t samples_depth_cap;    /* stopped at max_depth */
    uint64_t samples_no_stack;     /* no user registers (not a 64-bit process) or no process
                                    * state: in the profile with no frames */
    uint64_t samples_dropped;      /* not in the profile: a table cap was hit */
    uint64_t samples_other;        /* per CPU: samples of other processes, dropped before
                                    * unwinding (what a busy machine costs the reader) */
    uint64_t tree_untracked;       /* per CPU: processes of the tree past the member cap
                                    * (their samples count as other) */
    uint64_t lost;                 /* records the kernel could not write (PERF_RECORD_LOST) */
    uint64_t processes, threads;   /* seen in the window: sampled, named or created */
    uint64_t events;               /* perf events opened at start */
    bool kernel_sampled;           /* exclude_kernel = 0 */
    uint64_t period_ns;
    uint64_t sampled_cpu_ns; /* sum of the samples' periods */
    uint64_t counted_cpu_ns; /* per thread: CPU the events counted (exact, sampled or not):
                              * short of it, sampled_cpu_ns lost under one period per thread
                              * and CPU, which for threads living less than a period is all
                              * of it. Per CPU: 0 (the counters run for every task; the
                              * tree's exact CPU is /proc's) */
    uint64_t duration_ns;    /* first event opened .. events disabled */
    uint64_t busy_ns;        /* the machine's busy CPU time in the window (/proc/stat) */
    uint64_t steal_ns;       /* ... and the time the hypervisor stole from its CPUs. The
                              * part stolen while a task ran is in that task's cpu-clock
                              * samples but not in its /proc CPU, so samples read high by up
                              * to steal/busy (an upper bound: steal also counts vCPUs
                              * waking from idle) */
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
