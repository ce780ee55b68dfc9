/*
 * tasks: the background work a tsnet node does, reproduced so that the
 * per-service architecture grows the way tsnsrv did (docs/DESIGN.md §1, §3):
 * portlist (/proc/net polling), netmon (netlink), timers, footprint.
 *
 * Every task measures its own CPU (CLOCK_THREAD_CPUTIME_ID around each run)
 * and counts runs and units of work; tasks_write_metrics exports them.
 *
 * Lifecycle, all called by server.c:
 *   tasks_global_start  once, before any node: each task's process-wide
 *                       part (the internal peer footprint connects to) and
 *                       the shared instances (own thread "shared/portlist",
 *                       "shared/netmon") of tasks whose mode is TASK_SHARED.
 *   tasks_node_attach   on each node's own thread, with its loop: starts that
 *                       node's per-service tasks as timers/fds on that loop and
 *                       its footprint (sockets, idle threads).
 *   tasks_node_detach   on the node's thread, before its loop is destroyed.
 *   tasks_global_stop   once, after every node has detached.
 * In the shared architecture nodes do not exist; only tasks explicitly set to
 * `shared` run (tasks_global_start alone).
 */
#ifndef REFPROXY_TASKS_H
#define REFPROXY_TASKS_H

#include "buf.h"
#include "config.h"
#include "loop.h"

struct node_tasks;

/* 0 or -1 with a malloc'd *err. */
int tasks_global_start(const struct config *cfg, char **err);
void tasks_global_stop(void);

/* index is the service's position in cfg->services (thread names use it:
 * "svc12/portlist"). Returns NULL with *err on failure. */
struct node_tasks *tasks_node_attach(struct loop *loop, const struct config *cfg, size_t index,
                                     char **err);
void tasks_node_detach(struct node_tasks *nt);

/* refproxy_task_runs_total, refproxy_task_cpu_seconds_total,
 * refproxy_task_work_units_total {task=, service=}, refproxy_task_info
 * {task=, entry_prefix=} (one per task with an entry prefix, running or not)
 * and node/thread gauges. Thread-safe. */
void tasks_write_metrics(struct buf *out);

#endif
