/*
 * node_timers: the cheap periodic work of a tsnet node (its logtail flush, its
 * clock check, its control keepalive), as real timers on the node's loop. They
 * cost little CPU each but are wakeups that grow linearly with N.
 *   log flush (2 s):    format a small log line and write it to the process's
 *                       log sink (/dev/null).
 *   clock check (15 s): compare CLOCK_REALTIME against CLOCK_MONOTONIC drift.
 *   keepalive (60 s):   one byte on the node's first footprint TCP connection
 *                       (task_node.conn_fd, looked up at each beat).
 * Work units: one per action.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tasks_internal.h"

struct node_timers {
    struct loop *loop;
    struct loop_timer flush, clock, keepalive;
    uint32_t flush_ms, clock_ms, keepalive_ms;
    const struct task_node *node;
    uint64_t lines;
    int64_t last_offset_ns; /* REALTIME - MONOTONIC at the last check */
    int64_t max_drift_ns;
    char service[64];
    struct task_stats *st;
};

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void timers_flush(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct node_timers *t = data;
    uint64_t t0 = task_cpu_now();
    char line[256];
    int n = snprintf(line, sizeof(line), "%lld %s logtail: flushed %llu lines, wakeups=%llu\n",
                     (long long)(clock_ns(CLOCK_REALTIME) / 1000000), t->service,
                     (unsigned long long)t->lines++, (unsigned long long)loop_wakeups(loop));
    int fd = tasks_log_fd();
    if (fd >= 0 && n > 0) {
        ssize_t w;
        do
            w = write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        while (w < 0 && errno == EINTR);
    }
    task_stats_record(t->st, t0, 1);
    loop_timer_arm(loop, &t->flush, t->flush_ms);
}

static void timers_clock(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct node_timers *t = data;
    uint64_t t0 = task_cpu_now();
    int64_t off = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
    int64_t drift = off - t->last_offset_ns;
    if (drift < 0)
        drift = -drift;
    if (t->last_offset_ns && drift > t->max_drift_ns)
        t->max_drift_ns = drift; /* a node would log a clock jump here */
    t->last_offset_ns = off;
    task_stats_record(t->st, t0, 1);
    loop_timer_arm(loop, &t->clock, t->clock_ms);
}

static void timers_keepalive(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct node_timers *t = data;
    uint64_t t0 = task_cpu_now();
    uint64_t units = 0;
    int fd = t->node->conn_fd;
    if (fd >= 0) {
        /* Non-blocking: a full buffer means the peer is slow; skip this beat. */
        if (send(fd, "k", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
            units = 1;
    }
    task_stats_record(t->st, t0, units);
    loop_timer_arm(loop, &t->keepalive, t->keepalive_ms);
}

static void *node_timers_start(struct task_node *node, const void *config, char **err)
{
    const struct task_timers_config *c = config;
    struct loop *loop = node->loop;
    const char *service = node->service;
    struct node_timers *t = calloc(1, sizeof(*t));
    if (!t || !(t->st = task_stats_get(timers_spec.name, service))) {
        free(t);
        tasks_set_err(err, "timers %s: out of memory", service);
        return NULL;
    }
    t->loop = loop;
    t->flush_ms = c->log_flush_ms ? c->log_flush_ms : 2000;
    t->clock_ms = c->clock_check_ms ? c->clock_check_ms : 15000;
    t->keepalive_ms = c->keepalive_ms ? c->keepalive_ms : 60000;
    t->node = node;
    snprintf(t->service, sizeof(t->service), "%s", service);
    loop_timer_init(&t->flush, timers_flush, t);
    loop_timer_init(&t->clock, timers_clock, t);
    loop_timer_init(&t->keepalive, timers_keepalive, t);
    loop_timer_arm(loop, &t->flush, t->flush_ms);
    loop_timer_arm(loop, &t->clock, t->clock_ms);
    loop_timer_arm(loop, &t->keepalive, t->keepalive_ms);
    return t;
}

static void node_timers_stop(void *instance)
{
    struct node_timers *t = instance;
    if (!t)
        return;
    loop_timer_cancel(t->loop, &t->flush);
    loop_timer_cancel(t->loop, &t->clock);
    loop_timer_cancel(t->loop, &t->keepalive);
    free(t);
}

/* No shared form: a `shared` mode in the config already reads as per-service
 * (task_specs.c), so every node runs its own. */
const struct task_desc timers_desc = {
    .spec = &timers_spec,
    .start = node_timers_start,
    .stop = node_timers_stop,
};
