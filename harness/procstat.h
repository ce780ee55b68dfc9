/*
 * procstat: one sample of a live process from /proc, for the sweep's
 * one-second samples and its window totals.
 *
 * CPU is nanoseconds, never clock ticks: the process CPU clock
 * (clock_getcpuclockid, which includes threads that have exited), falling
 * back to the sum of /proc/<pid>/task/<tid>/schedstat field 1. Run delay
 * (field 2: time runnable but waiting for a CPU) and timeslices (field 3,
 * counted as wakeups) are summed over the live threads.
 *
 * procstat_read reads one process. A target's whole process tree (the root
 * and every descendant, summed, with the CPU of members that exited) is read
 * by proctree.h, from the per-process pieces declared at the end.
 */
#ifndef SCALEPROF_PROCSTAT_H
#define SCALEPROF_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* One reading. A tree reading (proctree.h) holds the same fields summed over the
 * tree's live processes, its cpu_ns the tree's by proctree.h's rule and its counters
 * accumulated per process; stat_ticks then adds cutime+cstime. */
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
    /* PSS (shared pages divided among the processes sharing them), from
     * /proc/<pid>/smaps_rollup; full reads only. pss_ok is false when it was not
     * read (light read) or could not be (pss_note says why, naming the file). */
    uint64_t pss_bytes;
    bool pss_ok;
    char pss_note[192];
    /* A tree reading (proctree.h) also fills these; a one-process reading sets
     * processes = 1 and root_cpu_ns = cpu_ns. */
    uint64_t processes;     /* live (not zombie) processes summed */
    uint64_t root_cpu_ns;   /* the root process's own CPU: what a one-pid reading sees */
    uint64_t exited_cpu_ns; /* cumulative CPU of members that exited, beyond their last reading */
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

/* --- per-process pieces, for proctree.c --- */

/* The fields of /proc/<pid>/stat a tree reading needs. */
struct procstat_statline {
    int pid, ppid, pgid;
    char state;           /* 'R', 'S', 'Z' (zombie: exited, not yet reaped), ... */
    uint64_t ticks;       /* utime + stime */
    uint64_t child_ticks; /* cutime + cstime: CPU of the children it has reaped */
    uint64_t threads;     /* num_threads */
    uint64_t start_ticks; /* starttime: with pid, names one process across readings */
};

/* Parses the text of one /proc/<pid>/stat (the command name may hold spaces and
 * parentheses). 0 ok; -1 with the field at fault in err (errlen bytes). */
int procstat_parse_statline(const char *text, struct procstat_statline *out, char *err,
                            size_t errlen);
/* Reads and parses /proc/<pid>/stat. 0 ok; -1 when gone or unreadable. */
int procstat_read_statline(pid_t pid, struct procstat_statline *out);
/* pid's own CPU clock (clock_getcpuclockid: every thread, those that exited
 * too; also works on a zombie) in ns. 0 ok, -1 when gone. */
int procstat_cpu_clock_ns(pid_t pid, uint64_t *ns);
/* Adds pid's figures to *s: rss, rss_anon, threads; with full also the per-thread
 * sums (schedstat, switches), fds, io and PSS (pss_bytes added; pss_ok cleared and
 * pss_note set when smaps_rollup cannot be read while the process is there).
 * 0 ok; -1 when pid is gone or a zombie (nothing added). */
int procstat_add_process(pid_t pid, struct procstat *s, bool full);

#endif
