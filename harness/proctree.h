/*
 * proctree: a target is its whole process tree. nginx runs a master and
 * workers, and the workers use the CPU; reading the one pid the sweep started
 * would miss all of it. A tree reading sums every member into one struct
 * procstat, and keeps what it needs between readings to count the CPU of
 * members that exit.
 *
 * Members: the root, every descendant found by one scan of /proc/<pid>/stat
 * (ppid links; zombies included), and this process's own children in the
 * root's process group other than the root: a member whose parent died was
 * reparented to us, the child subreaper (target.c), and is still the target's.
 *
 * CPU (nanoseconds), the accounting rule:
 *
 *   cpu_ns = sum over live members of their own CPU (the process clock)
 *          + sum over live members of their reaped children's CPU
 *            (/proc/<pid>/stat cutime + cstime)
 *          + sum over zombie members of own + reaped children's CPU
 *          + the wait4 rusage of every member this process reaped
 *            (proctree_add_reaped; it includes that member's reaped children)
 *
 * At every moment a process's CPU is in exactly one term: its own while it runs
 * or is a zombie, then its reaper's, since the kernel adds a child's whole CPU
 * (its own reaped children's included) to the parent's cutime/cstime, or to our
 * rusage, when it is waited for. So cpu_ns is the tree's CPU since the root
 * started: it does not drop when a worker exits, and does not count one twice —
 * a worker that exits between two readings moves from the first term to a later
 * one, carrying only the CPU it used since. A reading is redone (up to 4 times)
 * when a member is reaped while it is being taken (a reaper's cutime changed or
 * a member vanished), since that one process could then land in two terms or
 * none. Resolution: the clock and schedstat are ns and rusage is us, but the
 * kernel gives cutime and cstime in clock ticks, each truncated: a parent's
 * reaped children are known to 2 ticks (20 ms at 100 Hz) at any reading, and
 * that error does not grow with the number of children.
 *
 * exited_cpu_ns (cumulative from the first reading) is the CPU members used
 * between the last reading that saw them alive and their exit (all of it for
 * those born and gone between two readings): per interval, the growth of the
 * last three terms less the own CPU the previous reading saw of each member that
 * is no longer alive. It may dip by the ticks' truncation; use differences.
 *
 * Memory: RSS and PSS summed over live members (PSS from smaps_rollup, so pages
 * the workers share with the master count once; pss_ok false with pss_note
 * when a member's cannot be read); threads and fds summed. Counters (run delay,
 * timeslices, context switches, syscr/syscw; full readings only) accumulate per
 * member between full readings, matched by (pid, start time): a member seen
 * before adds its growth, a new one all of its count. The counts of a member's
 * last stretch before it exits are lost (unlike CPU, nothing keeps them).
 *
 * Limits: a member that leaves both the ppid tree and the root's process group
 * (setsid, then its parent dies) is lost with its CPU, as it would be by
 * target_stop's group kill. The scan costs a few ms per thousand processes on
 * the machine (/proc/<pid>/task/<tid>/children would avoid it but needs
 * CONFIG_PROC_CHILDREN, not always built).
 */
#ifndef SCALEPROF_PROCTREE_H
#define SCALEPROF_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "procstat.h"

/* Processes of the whole machine one scan may hold (the kernel's pid_max limit). */
#define PROCTREE_MAX_SCAN ((size_t)1 << 22)
#define PROCTREE_COUNTERS 6 /* run delay, timeslices, vol/nonvol switches, syscr, syscw */

/* One member as a reading saw it, to match it at the next. */
struct proctree_member {
    pid_t pid;
    uint64_t start_ticks;
    uint64_t own_ns;
    uint64_t counters[PROCTREE_COUNTERS];
};

/* The state of one tree's readings. Zero it with proctree_init; free with
 * proctree_free. Everything here is owned by the struct. */
struct proctree {
    pid_t root;
    uint64_t reaped_cpu_ns; /* rusage of members this process reaped */
    bool started;           /* a reading has been taken */
    uint64_t last_after;    /* the last three terms at the last reading */
    int64_t exited_ns;
    uint64_t counters[PROCTREE_COUNTERS];
    struct proctree_member *live, *counted; /* live at the last reading / last full one */
    size_t nlive, ncounted;
    struct procstat_statline *scan; /* scratch for the /proc scan */
    size_t scan_cap;
};

void proctree_init(struct proctree *t, pid_t root);
/* Adds the CPU (ru_utime + ru_stime) of a member this process reaped with wait4. */
void proctree_add_reaped(struct proctree *t, const struct rusage *ru);
/* Reads the tree into *s (full as for procstat_read). 0 ok; -1 when the root is
 * gone or a zombie (errno ESRCH), or /proc cannot be scanned or holds more than
 * PROCTREE_MAX_SCAN processes, or memory ran out (errno set). */
int proctree_read(struct proctree *t, struct procstat *s, bool full);
void proctree_free(struct proctree *t);

#endif
