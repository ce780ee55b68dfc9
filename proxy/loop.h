/*
 * loop: the event loop every refproxy thread runs (the shape of Redis's ae.c),
 * epoll underneath.
 *
 * One loop per thread; a loop is only touched by its own thread, except
 * loop_post() and loop_stop(), which any thread may call.
 *
 * Timers are a min-heap of deadlines. A connection keeps ONE timer and re-arms
 * it lazily: on activity it only moves its own deadline field forward; when the
 * timer fires early the callback re-arms it to the new deadline (the lwan/libev
 * way). With no timer armed, loop_run waits in epoll_wait(-1): an idle loop
 * makes no wakeups at all.
 *
 * Every system call that SIGPROF (the CPU profiler) can interrupt retries on
 * EINTR.
 */
#ifndef REFPROXY_LOOP_H
#define REFPROXY_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

enum {
    LOOP_READABLE = 1u << 0,
    LOOP_WRITABLE = 1u << 1,
    LOOP_HANGUP = 1u << 2, /* EPOLLHUP/EPOLLERR/EPOLLRDHUP; reported, never asked for */
};

typedef void loop_io_fn(struct loop *loop, int fd, unsigned events, void *data);

struct loop_timer;
typedef void loop_timer_fn(struct loop *loop, struct loop_timer *timer, void *data);

/* Embedded in its owner; the loop never allocates or frees it. */
struct loop_timer {
    uint64_t deadline_ns; /* CLOCK_MONOTONIC; valid while armed */
    size_t heap_index;    /* position in the loop's heap; SIZE_MAX when not armed */
    loop_timer_fn *fn;
    void *data;
};

/* Returns NULL (errno set) on failure. */
struct loop *loop_create(void);
void loop_destroy(struct loop *loop);

/* Watches fd for events (a mask of LOOP_READABLE|LOOP_WRITABLE), level-triggered.
 * Calling it again for the same fd replaces the mask and callback. 0 or -1. */
int loop_watch(struct loop *loop, int fd, unsigned events, loop_io_fn *fn, void *data);
/* Stops watching fd; safe to call from inside that fd's own callback, and
 * afterwards no callback for fd fires in this iteration. */
void loop_unwatch(struct loop *loop, int fd);

void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn, void *data);
/* Arms (or re-arms) t to fire once after delay_ms. */
void loop_timer_arm(struct loop *loop, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_arm_at(struct loop *loop, struct loop_timer *t, uint64_t deadline_ns);
void loop_timer_cancel(struct loop *loop, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_index != SIZE_MAX;
}

/* Work put off until the loop has dispatched every event and timer of this
 * iteration; it runs just before the loop waits again. Redis writes its
 * replies from beforeSleep for the same reason: answers made by one batch of
 * events leave together, so the peers reading them wake once per batch, not
 * once per answer. Embedded in its owner; the loop never allocates it. */
struct loop_deferred;
typedef void loop_deferred_fn(struct loop *loop, struct loop_deferred *d, void *data);
struct loop_deferred {
    struct loop_deferred *prev, *next;
    loop_deferred_fn *fn;
    void *data;
    bool queued;
};
void loop_deferred_init(struct loop_deferred *d, loop_deferred_fn *fn, void *data);
/* Queues d once (a no-op while it is queued). Deferring from a deferred
 * callback runs in the next iteration, which then does not sleep. */
void loop_defer(struct loop *loop, struct loop_deferred *d);
void loop_defer_cancel(struct loop *loop, struct loop_deferred *d);
static inline bool loop_deferred_queued(const struct loop_deferred *d)
{
    return d->queued;
}

/* Cached CLOCK_MONOTONIC time of this iteration, in ns (refreshed after every
 * epoll_wait), so hot paths do not call clock_gettime per event. */
uint64_t loop_now_ns(const struct loop *loop);
uint64_t loop_clock_ns(void); /* a fresh CLOCK_MONOTONIC reading */

/* Runs fn(loop, data) on the loop's own thread soon. Thread-safe; wakes the
 * loop through an eventfd. 0 or -1 (out of memory). */
typedef void loop_task_fn(struct loop *loop, void *data);
int loop_post(struct loop *loop, loop_task_fn *fn, void *data);

/* Runs until loop_stop(); returns 0. */
int loop_run(struct loop *loop);
/* Makes loop_run return after the current iteration. Thread-safe. */
void loop_stop(struct loop *loop);

/* Counters for /metrics and tests: iterations of loop_run (wakeups). */
uint64_t loop_wakeups(const struct loop *loop);

#endif
