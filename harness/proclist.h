/*
 * proclist: the processes and threads of a target's process tree, from /proc, as
 * lists (the perf profiler opens events on each). proctree.h reads the same
 * tree's statistics.
 *
 * A tree is the root pid and every descendant (children, their children, …),
 * found by scanning /proc/<pid>/stat's ppid field (which works without
 * CONFIG_PROC_CHILDREN). Every list is a snapshot: processes and threads come
 * and go while it is taken, so callers treat it as a hint and tolerate
 * entries that have exited by the time they are used.
 *
 * Bounded: callers pass the room they have; *total says how many there were.
 */
#ifndef SCALEPROF_PROCLIST_H
#define SCALEPROF_PROCLIST_H

#include <stddef.h>
#include <sys/types.h>

/* Fills out[0..max) with root (first) and its descendants, parents before
 * children. Returns how many were stored (<= max); *total (may be NULL) gets
 * how many there were. -1 with errno ESRCH when root does not exist, or the
 * errno of a failed /proc read. */
int proclist_pids(pid_t root, pid_t *out, size_t max, size_t *total);

/* Fills out[0..max) with the thread ids of pid (from /proc/<pid>/task).
 * Returns how many were stored; *total as above. -1 when pid is gone. */
int proclist_tids(pid_t pid, pid_t *out, size_t max, size_t *total);

/* The parent pid of pid from /proc/<pid>/stat, or -1 when pid is gone. */
pid_t proclist_ppid(pid_t pid);

#endif
