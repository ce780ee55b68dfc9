/*
 * task: a background task as a struct of callbacks (the shape of h2o's
 * handlers). Each task's own file defines `const struct task_desc <name>_desc`
 * beside its code; tasks.c loops over task_table (TASK_LIST order) with no `if`
 * per kind: it decides from the spec's modes whether an instance runs on each
 * node, once for the process on its own thread ("shared/<name>"), or not at
 * all, and calls these to do it.
 *
 * Instances: start returns one (owned by tasks.c, given back to stop); it runs
 * on node->loop and is started and stopped on that loop's thread (or before
 * the loop runs / after its thread was joined). start reports failure as NULL
 * with a malloc'd *err (tasks_set_err).
 */
#ifndef REFPROXY_TASK_H
#define REFPROXY_TASK_H

#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "task_spec.h"

/* What an instance is started for: a node (one service's loop) or a shared
 * runner's private loop. Lives as long as every instance started for it. */
struct task_node {
    struct loop *loop;
    size_t index;        /* the service's position in the config ("svc<index>/..."); 0 shared */
    const char *service; /* its name, or "shared": the service="" label of the series */
    uint32_t seed;       /* index + 1 on a node, 0 when shared: per-instance jitter */
    /* A TCP connection the node holds (footprint's first), -1 when none: the
     * timers' keepalive writes to it. Set and cleared by footprint. */
    int conn_fd;
};

struct task_desc {
    const struct task_spec *spec;
    /* One instance for node with the task's config (its struct inside
     * struct tasks_config). */
    void *(*start)(struct task_node *node, const void *config, char **err);
    /* Stops and frees an instance; NULL is a no-op. */
    void (*stop)(void *instance);
    /* Optional (NULL: nothing). global_start runs once in tasks_global_start,
     * before any node and any shared instance (footprint starts its internal
     * peer there); global_stop once in tasks_global_stop, after every node
     * detached. */
    int (*global_start)(const struct config *cfg, char **err);
    void (*global_stop)(void);
    /* Optional: threads an instance holds besides its loop's, for
     * refproxy_node_threads. Called from the admin thread under the node
     * registry's lock. */
    uint32_t (*threads)(const void *instance);
};

#define TASK_DESC_DECLARE_(name) extern const struct task_desc name##_desc;
TASK_LIST(TASK_DESC_DECLARE_)
#undef TASK_DESC_DECLARE_

/* Every descriptor, index = enum task_id (tasks.c). */
extern const struct task_desc *const task_table[TASK_COUNT];

#endif
