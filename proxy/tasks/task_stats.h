/*
 * task_stats: the self-accounting counters of every background task instance
 * (docs/DESIGN.md §3 "Self-accounting").
 *
 * One entry per (task, service) pair, service "shared" for process-wide
 * instances. An entry is written by exactly one thread (the thread that runs
 * the task) and read by the admin thread: the counters are relaxed atomics.
 * Entries live from first use until task_stats_clear (tasks_global_stop), so a
 * node that detaches and re-attaches keeps adding to the same series.
 */
#ifndef REFPROXY_TASK_STATS_H
#define REFPROXY_TASK_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

struct task_stats {
    char task[16];
    char service[64];
    _Atomic uint64_t runs;
    _Atomic uint64_t cpu_ns;
    _Atomic uint64_t work_units;
    struct task_stats *next;
};

struct task_counts {
    uint64_t runs, cpu_ns, work_units;
};

/* Finds or creates the entry for (task, service). NULL when out of memory. */
struct task_stats *task_stats_get(const char *task, const char *service);
/* CLOCK_THREAD_CPUTIME_ID of the calling thread, in ns. */
uint64_t task_cpu_now(void);
/* Adds one run that started at cpu_start (from task_cpu_now) and did units of work. */
void task_stats_record(struct task_stats *st, uint64_t cpu_start, uint64_t units);
/* Sums of the entry (zeros when it does not exist). Returns 1 if it exists, 0 if not. */
int task_stats_read(const char *task, const char *service, struct task_counts *out);
/* Sums over every entry of task (any service). Returns the number of entries. */
int task_stats_read_task(const char *task, struct task_counts *out);
/* The three counter families, HELP/TYPE once each. */
void task_stats_write(struct buf *out);
/* Frees every entry; only when no task runs. */
void task_stats_clear(void);

#endif
