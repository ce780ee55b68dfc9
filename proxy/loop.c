/*
 * loop: epoll event loop with a min-heap of timers and an eventfd for
 * cross-thread posts. See loop.h for the contract.
 *
 * Watches are small heap objects that epoll carries as data.ptr; a per-loop
 * open-addressing table maps fd -> watch so loop_watch can replace and
 * loop_unwatch can find it. Unwatching marks the watch dead and frees it at
 * the end of the iteration, so an event already returned by epoll_wait for a
 * closed (or closed and reused) fd points at a dead watch and is skipped.
 * The table is sized by the number of watched fds, not by the largest fd
 * number, so a per-service node loop stays small whatever fd numbers it gets.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct watch {
    int fd;
    unsigned events;
    loop_io_fn *fn; /* NULL once unwatched */
    void *data;
    struct watch *next_dead;
};

struct post {
    loop_task_fn *fn;
    void *data;
    struct post *next;
};

struct loop {
    int epfd;
    int evfd;
    struct watch *ev_watch;

    struct watch **table; /* open addressing by fd, linear probing; NULL = empty */
    size_t table_cap;     /* power of two */
    size_t table_used;
    struct watch *dead; /* unwatched this iteration, freed after dispatch */

    struct loop_timer **heap;
    size_t heap_len, heap_cap;

    struct loop_deferred *deferred_head, *deferred_tail; /* FIFO */
    size_t deferred_len;

    uint64_t now_ns;
    uint64_t wakeups;
    atomic_bool stop;

    pthread_mutex_t post_lock;
    struct post *post_head, *post_tail;
};

uint64_t loop_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t loop_now_ns(const struct loop *loop)
{
    return loop->now_ns;
}

uint64_t loop_wakeups(const struct loop *loop)
{
    return __atomic_load_n(&loop->wakeups, __ATOMIC_RELAXED);
}

/* ---- fd table ---- */

static size_t slot_of(const struct loop *loop, int fd)
{
    uint32_t h = (uint32_t)fd * 2654435761u;
    return h & (loop->table_cap - 1);
}

static struct watch **table_find(struct loop *loop, int fd)
{
    if (!loop->table_cap)
        return NULL;
    for (size_t i = slot_of(loop, fd);; i = (i + 1) & (loop->table_cap - 1)) {
        if (!loop->table[i])
            return NULL;
        if (loop->table[i]->fd == fd)
            return &loop->table[i];
    }
}

static void table_put_raw(struct watch **table, size_t cap, struct watch *w)
{
    uint32_t h = (uint32_t)w->fd * 2654435761u;
    size_t i = h & (cap - 1);
    while (table[i])
        i = (i + 1) & (cap - 1);
    table[i] = w;
}

static int table_insert(struct loop *loop, struct watch *w)
{
    if ((loop->table_used + 1) * 2 > loop->table_cap) {
        size_t ncap = loop->table_cap ? loop->table_cap * 2 : 16;
        struct watch **nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            return -1;
        for (size_t i = 0; i < loop->table_cap; i++)
            if (loop->table[i])
                table_put_raw(nt, ncap, loop->table[i]);
        free(loop->table);
        loop->table = nt;
        loop->table_cap = ncap;
    }
    table_put_raw(loop->table, loop->table_cap, w);
    loop->table_used++;
    return 0;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void table_remove(struct loop *loop, struct watch **slot)
{
    size_t mask = loop->table_cap - 1;
    size_t i = (size_t)(slot - loop->table);
    loop->table[i] = NULL;
    for (size_t j = (i + 1) & mask; loop->table[j]; j = (j + 1) & mask) {
        size_t home = slot_of(loop, loop->table[j]->fd);
        /* Move j into the hole at i when its home is not in (i, j]. */
        bool move = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            loop->table[i] = loop->table[j];
            loop->table[j] = NULL;
            i = j;
        }
    }
    loop->table_used--;
}

/* ---- watches ---- */

static uint32_t epoll_mask(unsigned events)
{
    uint32_t m = 0;
    if (events & LOOP_READABLE)
        m |=
            EPOLLIN | EPOLLRDHUP; /* RDHUP only with IN: level-triggered, it would spin otherwise */
    if (events & LOOP_WRITABLE)
        m |= EPOLLOUT;
    return m;
}

static int epoll_ctl_retry(int epfd, int op, int fd, struct epoll_event *ev)
{
    int rc;
    do
        rc = epoll_ctl(epfd, op, fd, ev);
    while (rc < 0 && errno == EINTR);
    return rc;
}

int loop_watch(struct loop *loop, int fd, unsigned events, loop_io_fn *fn, void *data)
{
    struct watch **slot = table_find(loop, fd);
    if (slot) {
        struct watch *w = *slot;
        if (w->events != events) {
            struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = w};
            if (epoll_ctl_retry(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
                (errno != ENOENT || epoll_ctl_retry(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0))
                return -1; /* ENOENT: fd was closed and reused without unwatch */
            w->events = events;
        }
        w->fn = fn;
        w->data = data;
        return 0;
    }
    struct watch *w = malloc(sizeof(*w));
    if (!w)
        return -1;
    *w = (struct watch){.fd = fd, .events = events, .fn = fn, .data = data};
    struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = w};
    if (epoll_ctl_retry(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(w);
        return -1;
    }
    if (table_insert(loop, w) < 0) {
        epoll_ctl_retry(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        free(w);
        return -1;
    }
    return 0;
}

void loop_unwatch(struct loop *loop, int fd)
{
    struct watch **slot = table_find(loop, fd);
    if (!slot)
        return;
    struct watch *w = *slot;
    table_remove(loop, slot);
    /* May fail harmlessly if the caller already closed fd (close removes it). */
    epoll_ctl_retry(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    w->fn = NULL;
    w->next_dead = loop->dead;
    loop->dead = w;
}

static void free_dead(struct loop *loop)
{
    while (loop->dead) {
        struct watch *w = loop->dead;
        loop->dead = w->next_dead;
        free(w);
    }
}

/* ---- timers: binary min-heap on deadline_ns ---- */

static void heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(struct loop *loop, size_t i)
{
    struct loop_timer *t = loop->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (loop->heap[p]->deadline_ns <= t->deadline_ns)
            break;
        heap_set(loop, i, loop->heap[p]);
        i = p;
    }
    heap_set(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
    struct loop_timer *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->heap_len)
            break;
        if (c + 1 < loop->heap_len && loop->heap[c + 1]->deadline_ns < loop->heap[c]->deadline_ns)
            c++;
        if (loop->heap[c]->deadline_ns >= t->deadline_ns)
            break;
        heap_set(loop, i, loop->heap[c]);
        i = c;
    }
    heap_set(loop, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn, void *data)
{
    t->deadline_ns = 0;
    t->heap_index = SIZE_MAX;
    t->fn = fn;
    t->data = data;
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *t)
{
    if (t->heap_index == SIZE_MAX)
        return;
    size_t i = t->heap_index;
    t->heap_index = SIZE_MAX;
    struct loop_timer *last = loop->heap[--loop->heap_len];
    if (i == loop->heap_len)
        return;
    heap_set(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, last->heap_index);
}

void loop_timer_arm_at(struct loop *loop, struct loop_timer *t, uint64_t deadline_ns)
{
    if (t->heap_index != SIZE_MAX) {
        uint64_t old = t->deadline_ns;
        t->deadline_ns = deadline_ns;
        if (deadline_ns < old)
            heap_up(loop, t->heap_index);
        else
            heap_down(loop, t->heap_index);
        return;
    }
    if (loop->heap_len == loop->heap_cap) {
        size_t ncap = loop->heap_cap ? loop->heap_cap * 2 : 16;
        struct loop_timer **nh = realloc(loop->heap, ncap * sizeof(*nh));
        if (!nh)
            abort(); /* a timer that silently never fires is worse than dying */
        loop->heap = nh;
        loop->heap_cap = ncap;
    }
    t->deadline_ns = deadline_ns;
    heap_set(loop, loop->heap_len++, t);
    heap_up(loop, t->heap_index);
}

void loop_timer_arm(struct loop *loop, struct loop_timer *t, uint64_t delay_ms)
{
    loop_timer_arm_at(loop, t, loop->now_ns + delay_ms * 1000000ull);
}

static int next_timeout_ms(struct loop *loop)
{
    if (loop->deferred_head)
        return 0;
    if (!loop->heap_len)
        return -1;
    uint64_t d = loop->heap[0]->deadline_ns;
    uint64_t now = loop_clock_ns();
    if (d <= now)
        return 0;
    uint64_t ms = (d - now + 999999) / 1000000; /* round up: never wake before the deadline */
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void run_timers(struct loop *loop)
{
    /* Bounded so a callback re-arming with delay 0 cannot starve the loop. */
    size_t budget = loop->heap_len;
    while (budget-- && loop->heap_len && loop->heap[0]->deadline_ns <= loop->now_ns) {
        struct loop_timer *t = loop->heap[0];
        loop_timer_cancel(loop, t);
        t->fn(loop, t, t->data);
    }
}

/* ---- deferred work ---- */

void loop_deferred_init(struct loop_deferred *d, loop_deferred_fn *fn, void *data)
{
    *d = (struct loop_deferred){.fn = fn, .data = data};
}

void loop_defer(struct loop *loop, struct loop_deferred *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    d->prev = loop->deferred_tail;
    if (loop->deferred_tail)
        loop->deferred_tail->next = d;
    else
        loop->deferred_head = d;
    loop->deferred_tail = d;
    loop->deferred_len++;
}

void loop_defer_cancel(struct loop *loop, struct loop_deferred *d)
{
    if (!d->queued)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        loop->deferred_head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        loop->deferred_tail = d->prev;
    d->prev = d->next = NULL;
    d->queued = false;
    loop->deferred_len--;
}

static void run_deferred(struct loop *loop)
{
    /* Only what was queued before this call runs now, so a callback that
     * defers again cannot keep the loop from polling. */
    size_t budget = loop->deferred_len;
    while (budget-- && loop->deferred_head) {
        struct loop_deferred *d = loop->deferred_head;
        loop_defer_cancel(loop, d);
        d->fn(loop, d, d->data);
    }
}

/* ---- posts and stop ---- */

static void eventfd_drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

static void eventfd_kick(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static void on_eventfd(struct loop *loop, int fd, unsigned events, void *data)
{
    eventfd_drain(fd);
    pthread_mutex_lock(&loop->post_lock);
    struct post *p = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    pthread_mutex_unlock(&loop->post_lock);
    while (p) {
        struct post *next = p->next;
        p->fn(loop, p->data);
        free(p);
        p = next;
    }
}

int loop_post(struct loop *loop, loop_task_fn *fn, void *data)
{
    struct post *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = (struct post){.fn = fn, .data = data};
    pthread_mutex_lock(&loop->post_lock);
    if (loop->post_tail)
        loop->post_tail->next = p;
    else
        loop->post_head = p;
    loop->post_tail = p;
    pthread_mutex_unlock(&loop->post_lock);
    eventfd_kick(loop->evfd);
    return 0;
}

void loop_stop(struct loop *loop)
{
    atomic_store(&loop->stop, true);
    eventfd_kick(loop->evfd);
}

/* ---- lifecycle ---- */

struct loop *loop_create(void)
{
    struct loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&loop->post_lock, NULL);
    loop->now_ns = loop_clock_ns();
    if (loop->epfd < 0 || loop->evfd < 0 ||
        loop_watch(loop, loop->evfd, LOOP_READABLE, on_eventfd, NULL) < 0) {
        int e = errno;
        loop_destroy(loop);
        errno = e;
        return NULL;
    }
    return loop;
}

void loop_destroy(struct loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->table_cap; i++)
        free(loop->table[i]);
    free(loop->table);
    free_dead(loop);
    for (size_t i = 0; i < loop->heap_len; i++)
        loop->heap[i]->heap_index = SIZE_MAX;
    free(loop->heap);
    struct post *p = loop->post_head;
    while (p) {
        struct post *next = p->next;
        free(p);
        p = next;
    }
    pthread_mutex_destroy(&loop->post_lock);
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->evfd >= 0)
        close(loop->evfd);
    free(loop);
}

int loop_run(struct loop *loop)
{
    struct epoll_event events[LOOP_MAX_EVENTS];
    loop->now_ns = loop_clock_ns();
    while (!atomic_load(&loop->stop)) {
        int n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, next_timeout_ms(loop));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* EBADF/EINVAL: the loop is broken beyond repair */
        }
        __atomic_store_n(&loop->wakeups, loop->wakeups + 1, __ATOMIC_RELAXED);
        loop->now_ns = loop_clock_ns();
        for (int i = 0; i < n; i++) {
            struct watch *w = events[i].data.ptr;
            if (!w->fn)
                continue; /* unwatched earlier in this iteration */
            uint32_t e = events[i].events;
            unsigned ev = 0;
            if ((e & EPOLLIN) && (w->events & LOOP_READABLE))
                ev |= LOOP_READABLE;
            if ((e & EPOLLOUT) && (w->events & LOOP_WRITABLE))
                ev |= LOOP_WRITABLE;
            if (e & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                ev |= LOOP_HANGUP;
            if (ev)
                w->fn(loop, w->fd, ev, w->data);
        }
        run_timers(loop);
        run_deferred(loop);
        free_dead(loop);
    }
    atomic_store(&loop->stop, false);
    return 0;
}
