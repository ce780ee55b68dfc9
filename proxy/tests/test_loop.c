/* test_loop: the event loop's contract (loop.h): timer order, re-arm, cancel,
 * cross-thread posts, unwatch from inside callbacks, deferred work, and no
 * wakeups at idle. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

struct order {
    int seen[16];
    int n;
    int stop_after;
};

struct tagged {
    struct loop_timer t;
    struct order *o;
    int tag;
};

static void on_tagged(struct loop *loop, struct loop_timer *t, void *data)
{
    struct tagged *x = data;
    x->o->seen[x->o->n++] = x->tag;
    if (x->o->n == x->o->stop_after)
        loop_stop(loop);
}

static void test_timers_fire_in_deadline_order(void **state)
{
    struct loop *loop = loop_create();
    assert_non_null(loop);
    struct order o = {.stop_after = 5};
    struct tagged t[5];
    int delays[5] = {40, 10, 30, 20, 50};
    for (int i = 0; i < 5; i++) {
        t[i] = (struct tagged){.o = &o, .tag = delays[i]};
        loop_timer_init(&t[i].t, on_tagged, &t[i]);
        loop_timer_arm(loop, &t[i].t, (uint64_t)delays[i]);
        assert_true(loop_timer_armed(&t[i].t));
    }
    uint64_t t0 = loop_clock_ns();
    loop_run(loop);
    assert_int_equal(o.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(o.seen[i], (i + 1) * 10);
        assert_false(loop_timer_armed(&t[i].t));
    }
    assert_true(loop_clock_ns() - t0 >= 50 * 1000000ull); /* never early */
    loop_destroy(loop);
}

static void test_rearm_moves_deadline_and_cancel_prevents_firing(void **state)
{
    struct loop *loop = loop_create();
    struct order o = {.stop_after = 2};
    struct tagged a = {.o = &o, .tag = 1}, b = {.o = &o, .tag = 2}, c = {.o = &o, .tag = 3};
    loop_timer_init(&a.t, on_tagged, &a);
    loop_timer_init(&b.t, on_tagged, &b);
    loop_timer_init(&c.t, on_tagged, &c);
    loop_timer_arm(loop, &a.t, 10);
    loop_timer_arm(loop, &b.t, 20);
    loop_timer_arm(loop, &c.t, 5);
    loop_timer_arm(loop, &a.t, 40); /* re-arm later: now after b */
    loop_timer_cancel(loop, &c.t);
    assert_false(loop_timer_armed(&c.t));
    loop_timer_cancel(loop, &c.t); /* cancelling twice is harmless */
    loop_run(loop);
    assert_int_equal(o.n, 2);
    assert_int_equal(o.seen[0], 2);
    assert_int_equal(o.seen[1], 1);
    loop_destroy(loop);
}

/* The lazy re-arm pattern of loop.h: activity moves a deadline field; the
 * timer, when it fires early, re-arms itself to the new deadline. */
struct lazy {
    struct loop_timer t;
    uint64_t deadline;
    int fires;
    uint64_t fired_at;
};

static void on_lazy(struct loop *loop, struct loop_timer *t, void *data)
{
    struct lazy *l = data;
    l->fires++;
    if (loop_now_ns(loop) < l->deadline) {
        loop_timer_arm_at(loop, t, l->deadline);
        return;
    }
    l->fired_at = loop_now_ns(loop);
    loop_stop(loop);
}

static void test_lazy_rearm_follows_moved_deadline(void **state)
{
    struct loop *loop = loop_create();
    struct lazy l = {0};
    loop_timer_init(&l.t, on_lazy, &l);
    uint64_t now = loop_now_ns(loop);
    l.deadline = now + 60 * 1000000ull;
    loop_timer_arm_at(loop, &l.t, now + 20 * 1000000ull);
    loop_run(loop);
    assert_int_equal(l.fires, 2);
    assert_true(l.fired_at >= l.deadline);
    loop_destroy(loop);
}

struct post_state {
    struct loop *loop;
    int ran;
    pthread_t runner;
    int on_loop_thread;
};

static void posted(struct loop *loop, void *data)
{
    struct post_state *p = data;
    p->ran++;
    p->on_loop_thread = pthread_equal(pthread_self(), p->runner);
    loop_stop(loop);
}

static void *poster(void *arg)
{
    struct post_state *p = arg;
    loop_post(p->loop, posted, p);
    return NULL;
}

static void test_post_from_other_thread_runs_on_loop_thread(void **state)
{
    struct post_state p = {.loop = loop_create(), .runner = pthread_self()};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, poster, &p), 0);
    loop_run(p.loop); /* returns only once posted() ran */
    pthread_join(tid, NULL);
    assert_int_equal(p.ran, 1);
    assert_true(p.on_loop_thread);
    loop_destroy(p.loop);
}

static void *stopper(void *arg)
{
    loop_stop(arg);
    return NULL;
}

static void test_stop_from_other_thread_returns_run(void **state)
{
    struct loop *loop = loop_create();
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, stopper, loop), 0);
    assert_int_equal(loop_run(loop), 0);
    pthread_join(tid, NULL);
    loop_destroy(loop);
}

/* Two readable sockets in the same iteration: the first callback unwatches and
 * closes the second; the second's callback must not fire. */
struct pair_state {
    int fds[2];
    int calls[2];
    struct loop_timer done;
};

static void on_pair_fd(struct loop *loop, int fd, unsigned events, void *data)
{
    struct pair_state *s = data;
    int me = fd == s->fds[0] ? 0 : 1;
    s->calls[me]++;
    int other = s->fds[1 - me];
    loop_unwatch(loop, other);
    loop_unwatch(loop, fd); /* and itself, from its own callback */
}

static void on_done(struct loop *loop, struct loop_timer *t, void *data)
{
    loop_stop(loop);
}

static void test_unwatch_inside_callback_suppresses_pending_event(void **state)
{
    struct loop *loop = loop_create();
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    struct pair_state s = {.fds = {a[0], b[0]}};
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "y", 1), 1);
    assert_int_equal(loop_watch(loop, a[0], LOOP_READABLE, on_pair_fd, &s), 0);
    assert_int_equal(loop_watch(loop, b[0], LOOP_READABLE, on_pair_fd, &s), 0);
    loop_timer_init(&s.done, on_done, NULL);
    loop_timer_arm(loop, &s.done, 30);
    loop_run(loop);
    /* Exactly one fired; had the unwatch not taken effect, level-triggered
     * readiness would have fired both (and repeatedly). */
    assert_int_equal(s.calls[0] + s.calls[1], 1);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    loop_destroy(loop);
}

/* Unwatch + close + a new fd with the same number watched again in the same
 * callback: the stale event for the old fd must not reach the new watcher. */
struct reuse_state {
    int victim; /* fd closed and reused */
    int victim_peer;
    int trigger;
    int new_calls;
    int old_calls;
    int reused_fd;
    int reused_peer;
    struct loop_timer done;
};

static void on_new(struct loop *loop, int fd, unsigned events, void *data)
{
    ((struct reuse_state *)data)->new_calls++;
}

static void on_old(struct loop *loop, int fd, unsigned events, void *data)
{
    ((struct reuse_state *)data)->old_calls++;
}

static void on_trigger(struct loop *loop, int fd, unsigned events, void *data)
{
    struct reuse_state *s = data;
    char c;
    (void)!read(fd, &c, 1);
    loop_unwatch(loop, fd);
    loop_unwatch(loop, s->victim);
    close(s->victim);
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    s->reused_fd = sp[0];
    s->reused_peer = sp[1];
    /* Nothing is readable on the new fd; any callback would be stale. */
    loop_watch(loop, sp[0], LOOP_READABLE, on_new, s);
}

static void test_stale_event_for_reused_fd_is_not_delivered(void **state)
{
    struct loop *loop = loop_create();
    struct reuse_state s = {0};
    int t[2], v[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, v), 0);
    s.trigger = t[0];
    s.victim = v[0];
    s.victim_peer = v[1];
    assert_int_equal(write(t[1], "x", 1), 1);
    assert_int_equal(write(v[1], "y", 1), 1);
    /* trigger first so it runs before the victim's event when both are ready */
    assert_int_equal(loop_watch(loop, t[0], LOOP_READABLE, on_trigger, &s), 0);
    assert_int_equal(loop_watch(loop, v[0], LOOP_READABLE, on_old, &s), 0);
    loop_timer_init(&s.done, on_done, NULL);
    loop_timer_arm(loop, &s.done, 30);
    loop_run(loop);
    assert_int_equal(s.new_calls, 0);
    /* the victim may have fired before the trigger in that iteration, never after */
    assert_true(s.old_calls <= 1);
    if (s.reused_fd > 0) {
        loop_unwatch(loop, s.reused_fd);
        close(s.reused_fd);
        close(s.reused_peer);
    }
    close(t[0]), close(t[1]), close(v[1]);
    loop_destroy(loop);
}

struct echo_state {
    int fd;
    int writable_seen;
    int readable_seen;
};

static void on_mask(struct loop *loop, int fd, unsigned events, void *data)
{
    struct echo_state *s = data;
    if (events & LOOP_WRITABLE) {
        s->writable_seen++;
        /* replace the mask: from now on only readability */
        loop_watch(loop, fd, LOOP_READABLE, on_mask, s);
    }
    if (events & LOOP_READABLE) {
        s->readable_seen++;
        loop_stop(loop);
    }
}

static void test_watch_again_replaces_mask(void **state)
{
    struct loop *loop = loop_create();
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    struct echo_state s = {.fd = sp[0]};
    assert_int_equal(loop_watch(loop, sp[0], LOOP_WRITABLE, on_mask, &s), 0);
    assert_int_equal(write(sp[1], "z", 1), 1);
    loop_run(loop);
    assert_int_equal(s.writable_seen, 1); /* level-triggered writable would repeat otherwise */
    assert_int_equal(s.readable_seen, 1);
    loop_unwatch(loop, sp[0]);
    close(sp[0]), close(sp[1]);
    loop_destroy(loop);
}

struct idle_state {
    struct loop *loop;
    pthread_t tid;
};

static void *run_thread(void *arg)
{
    loop_run(arg);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void test_idle_loop_with_watched_fds_makes_no_wakeups(void **state)
{
    struct loop *loop = loop_create();
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    /* a watched-but-quiet fd and an armed-then-cancelled timer: still idle */
    assert_int_equal(loop_watch(loop, sp[0], LOOP_READABLE, on_new, NULL), 0);
    struct loop_timer t;
    loop_timer_init(&t, on_done, NULL);
    loop_timer_arm(loop, &t, 10);
    loop_timer_cancel(loop, &t);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, run_thread, loop), 0);
    sleep_ms(20); /* let it enter epoll_wait */
    uint64_t w0 = loop_wakeups(loop);
    sleep_ms(200);
    uint64_t w1 = loop_wakeups(loop);
    assert_int_equal(w1, w0);
    loop_stop(loop); /* the one wakeup this test causes */
    pthread_join(tid, NULL);
    assert_true(loop_wakeups(loop) >= w1 + 1);
    loop_unwatch(loop, sp[0]);
    close(sp[0]), close(sp[1]);
    loop_destroy(loop);
}

/* Many timers with random deadlines come out sorted (heap invariant under
 * arms, re-arms and cancels). */
struct many {
    struct loop_timer t;
    uint64_t last;
    int fired;
    int *total;
};

static uint64_t g_last_fire;
static int g_order_ok = 1;

static void on_many(struct loop *loop, struct loop_timer *t, void *data)
{
    struct many *m = data;
    if (t->deadline_ns < g_last_fire)
        g_order_ok = 0;
    g_last_fire = t->deadline_ns;
    m->fired++;
    if (++*m->total == 150)
        loop_stop(loop);
}

static void test_heap_keeps_order_under_random_arms_and_cancels(void **state)
{
    struct loop *loop = loop_create();
    static struct many m[200];
    int total = 0;
    srand(7);
    uint64_t base = loop_now_ns(loop);
    for (int i = 0; i < 200; i++) {
        m[i] = (struct many){.total = &total};
        loop_timer_init(&m[i].t, on_many, &m[i]);
        loop_timer_arm_at(loop, &m[i].t, base + (uint64_t)(rand() % 30) * 1000000ull);
    }
    for (int i = 0; i < 200; i += 4) /* cancel 50 */
        loop_timer_cancel(loop, &m[i].t);
    for (int i = 1; i < 200; i += 4) /* re-arm 50 to new random deadlines */
        loop_timer_arm_at(loop, &m[i].t, base + (uint64_t)(rand() % 30) * 1000000ull);
    loop_run(loop);
    assert_int_equal(total, 150);
    assert_true(g_order_ok);
    for (int i = 0; i < 200; i++)
        assert_int_equal(m[i].fired, i % 4 == 0 ? 0 : 1);
    loop_destroy(loop);
}

/* Deferred work: runs once per queueing, after every event and timer of the
 * iteration that queued it, in FIFO order; cancelled work never runs. */
struct defer_log {
    char seen[32]; /* one letter per callback, in order */
    int n;
    uint64_t wakeups[32]; /* loop_wakeups() when each ran: same value = same iteration */
    struct loop_deferred d[3];
    int redefer; /* times d[0] queues itself again */
    struct loop_timer stop, guard;
    bool guard_fired;
};

static void log_step(struct loop *loop, struct defer_log *g, char what)
{
    g->wakeups[g->n] = loop_wakeups(loop);
    g->seen[g->n++] = what;
}

static void on_deferred(struct loop *loop, struct loop_deferred *d, void *data)
{
    struct defer_log *g = data;
    int k = (int)(d - g->d);
    log_step(loop, g, (char)('A' + k));
    if (k == 0 && g->redefer > 0) {
        g->redefer--;
        loop_defer(loop, d);
        assert_true(loop_deferred_queued(d));
    }
}

static void on_defer_fd(struct loop *loop, int fd, unsigned events, void *data)
{
    struct defer_log *g = data;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    log_step(loop, g, c);
    /* each event queues the same work: it must still run once */
    loop_defer(loop, &g->d[0]);
    loop_defer(loop, &g->d[1]);
}

static void on_defer_timer(struct loop *loop, struct loop_timer *t, void *data)
{
    struct defer_log *g = data;
    log_step(loop, g, 't');
    loop_defer(loop, &g->d[2]);
}

static void on_defer_stop(struct loop *loop, struct loop_timer *t, void *data)
{
    loop_stop(loop);
}

static void on_defer_guard(struct loop *loop, struct loop_timer *t, void *data)
{
    ((struct defer_log *)data)->guard_fired = true;
    loop_stop(loop);
}

static void defer_log_init(struct loop *loop, struct defer_log *g)
{
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 3; i++)
        loop_deferred_init(&g->d[i], on_deferred, g);
    loop_timer_init(&g->stop, on_defer_stop, g);
    loop_timer_init(&g->guard, on_defer_guard, g);
    loop_timer_arm(loop, &g->guard, 5000); /* a loop that slept on queued work */
}

static void test_deferred_runs_after_the_events_and_timers_of_its_iteration(void **state)
{
    struct loop *loop = loop_create();
    struct defer_log g;
    defer_log_init(loop, &g);
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "y", 1), 1);
    assert_int_equal(loop_watch(loop, a[0], LOOP_READABLE, on_defer_fd, &g), 0);
    assert_int_equal(loop_watch(loop, b[0], LOOP_READABLE, on_defer_fd, &g), 0);
    struct loop_timer t;
    loop_timer_init(&t, on_defer_timer, &g);
    loop_timer_arm(loop, &t, 0); /* due in the first iteration */
    loop_timer_arm(loop, &g.stop, 50);
    loop_run(loop);
    assert_false(g.guard_fired);
    /* both events (epoll's order), the timer, then the work each queued, once */
    assert_int_equal(g.n, 6);
    assert_true((g.seen[0] == 'x' && g.seen[1] == 'y') || (g.seen[0] == 'y' && g.seen[1] == 'x'));
    assert_memory_equal(g.seen + 2, "tABC", 4);
    for (int i = 1; i < 6; i++)
        assert_true(g.wakeups[i] == g.wakeups[0]); /* all in one iteration */
    for (int i = 0; i < 3; i++)
        assert_false(loop_deferred_queued(&g.d[i]));
    loop_unwatch(loop, a[0]), loop_unwatch(loop, b[0]);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    loop_destroy(loop);
}

static void test_cancelled_deferred_work_never_runs(void **state)
{
    struct loop *loop = loop_create();
    struct defer_log g;
    defer_log_init(loop, &g);
    for (int i = 0; i < 3; i++)
        loop_defer(loop, &g.d[i]);
    loop_defer_cancel(loop, &g.d[1]); /* the middle one */
    loop_defer_cancel(loop, &g.d[1]); /* twice is harmless */
    assert_false(loop_deferred_queued(&g.d[1]));
    loop_timer_arm(loop, &g.stop, 30);
    loop_run(loop);
    assert_false(g.guard_fired);
    assert_int_equal(g.n, 2);
    assert_memory_equal(g.seen, "AC", 2);
    /* the tail was cancelled: the list still works */
    loop_defer(loop, &g.d[2]);
    loop_defer(loop, &g.d[1]);
    loop_defer_cancel(loop, &g.d[1]);
    loop_timer_arm(loop, &g.stop, 30);
    loop_run(loop);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.seen[2], 'C');
    loop_destroy(loop);
}

/* Work that queues itself again runs in the next iteration, and the loop does
 * not sleep in between: no fd is ready and the only timer is seconds away. */
static void test_work_deferred_by_deferred_work_runs_next_iteration_without_sleeping(void **state)
{
    struct loop *loop = loop_create();
    struct defer_log g;
    defer_log_init(loop, &g);
    g.redefer = 3;
    loop_defer(loop, &g.d[0]);
    loop_timer_arm(loop, &g.stop, 200);
    loop_run(loop);
    assert_false(g.guard_fired);
    /* Had the loop slept with work queued, it would have woken for the stop
     * timer, run one more A and returned: two, not four. */
    assert_int_equal(g.n, 4);
    assert_memory_equal(g.seen, "AAAA", 4);
    for (int i = 1; i < 4; i++)
        assert_int_equal(g.wakeups[i], g.wakeups[i - 1] + 1); /* one iteration each */
    loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_deadline_order),
        cmocka_unit_test(test_rearm_moves_deadline_and_cancel_prevents_firing),
        cmocka_unit_test(test_lazy_rearm_follows_moved_deadline),
        cmocka_unit_test(test_post_from_other_thread_runs_on_loop_thread),
        cmocka_unit_test(test_stop_from_other_thread_returns_run),
        cmocka_unit_test(test_unwatch_inside_callback_suppresses_pending_event),
        cmocka_unit_test(test_stale_event_for_reused_fd_is_not_delivered),
        cmocka_unit_test(test_watch_again_replaces_mask),
        cmocka_unit_test(test_idle_loop_with_watched_fds_makes_no_wakeups),
        cmocka_unit_test(test_heap_keeps_order_under_random_arms_and_cancels),
        cmocka_unit_test(test_deferred_runs_after_the_events_and_timers_of_its_iteration),
        cmocka_unit_test(test_cancelled_deferred_work_never_runs),
        cmocka_unit_test(test_work_deferred_by_deferred_work_runs_next_iteration_without_sleeping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
