/*
 * heartbeat: a tsnet node's magicsock heartbeat reduced to its wakeup — every
 * interval (3 s, magicsock's heartbeatInterval) the node's loop wakes, and the
 * run is counted. Nothing else: it exists to show what adding a task takes
 * (proxy/tasks/README.md "Adding a task") and to measure a per-node wakeup on
 * its own. Off by default in every architecture. Work units: one per beat.
 */
#include <stdlib.h>

#include "tasks_internal.h"

struct heartbeat {
    struct loop *loop;
    struct loop_timer timer;
    uint32_t interval_ms;
    struct task_stats *st;
};

static void heartbeat_beat(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct heartbeat *h = data;
    uint64_t t0 = task_cpu_now();
    task_stats_record(h->st, t0, 1);
    loop_timer_arm(loop, &h->timer, h->interval_ms);
}

static void *heartbeat_start(struct task_node *node, const void *config, char **err)
{
    const struct task_heartbeat_config *c = config;
    struct heartbeat *h = calloc(1, sizeof(*h));
    if (!h || !(h->st = task_stats_get(heartbeat_spec.name, node->service))) {
        free(h);
        tasks_set_err(err, "heartbeat %s: out of memory", node->service);
        return NULL;
    }
    h->loop = node->loop;
    h->interval_ms = c->interval_ms ? c->interval_ms : 3000;
    loop_timer_init(&h->timer, heartbeat_beat, h);
    loop_timer_arm(h->loop, &h->timer, h->interval_ms);
    return h;
}

static void heartbeat_stop(void *instance)
{
    struct heartbeat *h = instance;
    if (!h)
        return;
    loop_timer_cancel(h->loop, &h->timer);
    free(h);
}

const struct task_desc heartbeat_desc = {
    .spec = &heartbeat_spec,
    .start = heartbeat_start,
    .stop = heartbeat_stop,
};
