/*
 * perf_tree: which processes belong to the sampled tree, for the per-CPU
 * perf profiler, which sees every task on the machine and keeps only the
 * samples of the tree's processes.
 *
 * The tree is the root and its descendants: the pids of an initial scan
 * (proclist_pids) plus every process a FORK record says a member created.
 * A FORK record of a new thread (pid == ppid) changes nothing: its process
 * is already in or out. A FORK record of a new process whose parent is not a
 * member makes the pid a non-member even if it was one: the member that
 * held the pid before has exited and the pid was reused. Exit records change
 * nothing: samples of an exited member can still be waiting in a buffer.
 *
 * Bounded: max processes remembered (members and former members); a member
 * past the cap is not added and perf_tree_fork says so. Ownership: the set
 * owns its table; perf_tree_free releases it. Not thread-safe.
 */
#ifndef SCALEPROF_PERF_TREE_H
#define SCALEPROF_PERF_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct perf_tree;

/* NULL when out of memory. */
struct perf_tree *perf_tree_new(size_t max);
void perf_tree_free(struct perf_tree *t);

/* pid is a member (from the initial scan). False when the set is full. */
bool perf_tree_add(struct perf_tree *t, pid_t pid);
bool perf_tree_has(const struct perf_tree *t, pid_t pid);

enum perf_tree_fork {
    PERF_TREE_OUTSIDE = 0, /* the new task is not in the tree */
    PERF_TREE_JOINED = 1,  /* a member's new thread, or a member's new process */
    PERF_TREE_FULL = -1,   /* a member's new process, past the cap: not tracked */
};

/* A FORK record (the new task's pid, its creator's pid). */
enum perf_tree_fork perf_tree_fork(struct perf_tree *t, pid_t pid, pid_t ppid);

/* Members now. */
size_t perf_tree_count(const struct perf_tree *t);

#endif
