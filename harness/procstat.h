/*
 * procstat: one sample of a live process from /proc, for the sweep's
 * one-second samples and its window totals.
 *
 * CPU is nanoseconds, never clock ticks: the process CPU clock
 * (clock_getcpuclockid, which includes threads that have exited), falling
 * back to the sum of /proc/<pid>/task/<tid>/schedstat field 1. Run delay
 * (field 2: time runnable but waiting for a CPU) and timeslices (field 3,
 * counted as wakeups) are summed over the live threads.
 */
#ifndef SCALEPROF_PROCSTAT_H
#define SCALEPROF_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct procstat {
    double t;              /* CLOCK_MONOTONIC seconds when taken */
    uint64_t cpu_ns;       /* whole-process CPU */
    uint64_t task_cpu_ns;  /* summed schedstat field 1 over live threads */
    uint64_t run_delay_ns; /* summed schedstat field 2 */
    uint64_t timeslices;   /* summed schedstat field 3 */
    uint64_t rss_bytes, rss_anon_bytes;
    uint64_t threads, fds;
    uint64_t voluntary_ctxt_switches, nonvoluntary_ctxt_switches; /* summed over live threads */
    uint64_t syscr, syscw;    /* 0 when /proc/<pid>/io is unreadable */
    uint64_t machine_busy_ns; /* procstat_machine_busy_ns() at the same moment */
    uint64_t stat_ticks;      /* /proc/<pid>/stat utime+stime, in clock ticks (cross-check only) */
};

/* The whole machine's busy CPU time from /proc/stat (all CPUs; user, nice,
 * system, irq, softirq and steal), in nanoseconds, less the CPU of scaleprof
 * itself and of its --load origin: with the target's own CPU subtracted, what
 * other load did during a window. 0 when unreadable. */
uint64_t procstat_machine_busy_ns(void);
/* Counts pid (the --load origin) with this process as the experiment's own
 * apparatus, left out of the machine's busy time above. 0 = none. */
void procstat_set_apparatus_pid(pid_t pid);

/* Fills *s. full = false reads only the cheap fields (t, cpu_ns, stat_ticks,
 * machine_busy_ns, rss, threads): the per-thread sums, fds and io stay 0.
 * 0 ok; -1 when the process is gone (errno set). */
int procstat_read(pid_t pid, struct procstat *s, bool full);
double procstat_now(void);

#endif
