/*
 * server: listeners, worker threads (shared architecture) or node threads
 * (per-service architecture), and graceful shutdown. Connections themselves
 * live in conn.c.
 *
 * Both architectures use the same struct worker: a shared worker serves every
 * service (one SO_REUSEPORT listener per service per worker); a node serves
 * one service and also hosts that service's background tasks (tasks.h).
 * Every listener is bound in server_create, so an address error surfaces
 * before anything runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_internal.h"
#include "tasks.h"
#include "thread.h"

#define ACCEPT_BATCH 64

static char *msgf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msgf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* ---- listeners and accept ---- */

static void on_listener(struct loop *loop, int fd, unsigned events, void *data);

static void watch_listeners(struct worker *w)
{
    for (uint32_t i = 0; i < w->svc_count; i++)
        if (w->listeners[i].fd >= 0)
            loop_watch(w->loop, w->listeners[i].fd, LOOP_READABLE, on_listener, &w->listeners[i]);
}

static void on_accept_timer(struct loop *loop, struct loop_timer *t, void *data)
{
    struct worker *w = data;
    if (w->draining)
        return;
    if (w->nconns >= w->cfg->limits.max_connections) {
        loop_timer_arm(loop, t, ACCEPT_PAUSE_MS);
        return;
    }
    w->accept_paused = false;
    watch_listeners(w);
}

/* Out of fds or at the connection limit: stop accepting for a moment rather
 * than spinning on a listener that stays readable. */
static void worker_pause_accept(struct worker *w)
{
    if (w->accept_paused)
        return;
    w->accept_paused = true;
    for (uint32_t i = 0; i < w->svc_count; i++)
        if (w->listeners[i].fd >= 0)
            loop_unwatch(w->loop, w->listeners[i].fd);
    loop_timer_arm(w->loop, &w->accept_timer, ACCEPT_PAUSE_MS);
}

static void on_listener(struct loop *loop, int fd, unsigned events, void *data)
{
    struct listener *l = data;
    struct worker *w = l->w;
    for (int i = 0; i < ACCEPT_BATCH && !w->accept_paused; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                worker_pause_accept(w);
            return; /* EAGAIN: done */
        }
        conn_accept(w, l->svc, cfd);
        if (w->nconns >= w->cfg->limits.max_connections)
            worker_pause_accept(w);
    }
}

static int listener_open(const struct service_config *sc, bool reuseport, char **err)
{
    int fd = socket(sc->listen.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = msgf("service %s: socket: %s", sc->name, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Only with several workers: otherwise a second process could silently
     * share our port instead of failing to bind. */
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        *err = msgf("service %s: SO_REUSEPORT: %s", sc->name, strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&sc->listen, sc->listen_len) < 0 ||
        listen(fd, 4096) < 0) {
        *err = msgf("service %s: listen on %s: %s", sc->name, sc->listen_text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- lifecycle ---- */

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int worker_init(struct server *srv, struct worker *w, unsigned index, uint32_t first,
                       uint32_t count, bool reuseport, char **err)
{
    const struct config *cfg = srv->cfg;
    w->srv = srv;
    w->cfg = cfg;
    w->index = index;
    w->svc_first = first;
    w->svc_count = count;
    if (cfg->architecture == ARCH_PER_SERVICE)
        snprintf(w->name, sizeof(w->name), "svc%u", first);
    else
        snprintf(w->name, sizeof(w->name), "w%u", index);
    loop_timer_init(&w->accept_timer, on_accept_timer, w);
    w->listeners = malloc((count ? count : 1) * sizeof(*w->listeners));
    w->pools = calloc(count ? count : 1, sizeof(*w->pools));
    w->stats = calloc(count ? count : 1, sizeof(*w->stats));
    if (w->listeners)
        for (uint32_t i = 0; i < count; i++)
            w->listeners[i] = (struct listener){.fd = -1, .svc = first + i, .w = w};
    w->loop = loop_create();
    if (!w->listeners || !w->pools || !w->stats || !w->loop) {
        *err = msgf("worker %s: %s", w->name, strerror(errno ? errno : ENOMEM));
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        w->listeners[i].fd = listener_open(&cfg->services[first + i], reuseport, err);
        if (w->listeners[i].fd < 0)
            return -1;
    }
    return 0;
}

struct server *server_create(const struct config *cfg, char **err)
{
    *err = NULL;
    raise_fd_limit();
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        *err = msgf("out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    bool per_service = cfg->architecture == ARCH_PER_SERVICE;
    srv->nworkers = per_service ? (unsigned)cfg->num_services : (cfg->workers ? cfg->workers : 1);
    srv->workers = calloc(srv->nworkers ? srv->nworkers : 1, sizeof(*srv->workers));
    if (!srv->workers) {
        *err = msgf("out of memory");
        free(srv);
        return NULL;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        int rc = per_service ? worker_init(srv, &srv->workers[i], i, i, 1, false, err)
                             : worker_init(srv, &srv->workers[i], i, 0, (uint32_t)cfg->num_services,
                                           srv->nworkers > 1, err);
        if (rc < 0) {
            srv->nworkers = i + 1; /* destroy what exists, including this one */
            server_destroy(srv);
            return NULL;
        }
    }
    return srv;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (w->cfg->architecture == ARCH_PER_SERVICE) {
        char *err = NULL;
        w->tasks = tasks_node_attach(w->loop, w->cfg, w->svc_first, &err);
        if (!w->tasks && err) {
            fprintf(stderr, "refproxy: node %s: tasks: %s\n", w->name, err);
            free(err);
        }
    }
    watch_listeners(w);
    loop_run(w->loop);
    if (w->tasks)
        tasks_node_detach(w->tasks);
    w->tasks = NULL;
    return NULL;
}

int server_start(struct server *srv, char **err)
{
    *err = NULL;
    if (tasks_global_start(srv->cfg, err) < 0)
        return -1;
    srv->tasks_started = true;
    srv->started = true;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        int rc = thread_start(&w->tid, w->name, 0, worker_main, w);
        if (rc) {
            *err = msgf("cannot start thread %s: %s", w->name, strerror(rc));
            return -1;
        }
        w->running = true;
    }
    return 0;
}

/* ---- shutdown ---- */

void server_worker_conn_gone(struct worker *w)
{
    if (!w->draining || w->nconns)
        return;
    pthread_mutex_lock(&w->srv->lock);
    w->srv->workers_drained++;
    pthread_cond_broadcast(&w->srv->cond);
    pthread_mutex_unlock(&w->srv->lock);
}

static void drain_task(struct loop *loop, void *data)
{
    struct worker *w = data;
    for (uint32_t i = 0; i < w->svc_count; i++) {
        if (w->listeners[i].fd >= 0) {
            loop_unwatch(loop, w->listeners[i].fd);
            close(w->listeners[i].fd);
            w->listeners[i].fd = -1;
        }
    }
    loop_timer_cancel(loop, &w->accept_timer);
    upstream_pool_close_all(w);
    w->draining = true;
    unsigned before = w->nconns;
    conn_drain_all(w);
    /* If the drain closed the last connection, server_worker_conn_gone counted it. */
    if (!before)
        server_worker_conn_gone(w);
}

static void stop_task(struct loop *loop, void *data)
{
    struct worker *w = data;
    w->draining = false; /* no more drain reports */
    conn_close_all(w);
    upstream_pool_close_all(w);
    loop_stop(loop);
}

unsigned server_shutdown(struct server *srv)
{
    if (!srv || !srv->started)
        return 0;
    srv->started = false;
    unsigned running = 0;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        if (srv->workers[i].running) {
            loop_post(srv->workers[i].loop, drain_task, &srv->workers[i]);
            running++;
        }
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    uint64_t ns =
        (uint64_t)until.tv_nsec + (uint64_t)srv->cfg->limits.shutdown_grace_ms * 1000000ull;
    until.tv_sec += (time_t)(ns / 1000000000ull);
    until.tv_nsec = (long)(ns % 1000000000ull);
    pthread_mutex_lock(&srv->lock);
    while (srv->workers_drained < running) {
        int rc = pthread_cond_timedwait(&srv->cond, &srv->lock, &until);
        if (rc == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&srv->lock);
    unsigned unfinished = (unsigned)server_inflight(srv);
    /* Stop every loop first, then join: with N busy nodes a stop-join-next
     * sequence waits for each node's turn on the CPU in series. */
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].running)
            loop_post(srv->workers[i].loop, stop_task, &srv->workers[i]);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (!w->running)
            continue;
        pthread_join(w->tid, NULL);
        w->running = false;
    }
    if (srv->tasks_started)
        tasks_global_stop();
    srv->tasks_started = false;
    return unfinished;
}

void server_destroy(struct server *srv)
{
    if (!srv)
        return;
    if (srv->started)
        server_shutdown(srv);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->listeners)
            for (uint32_t k = 0; k < w->svc_count; k++)
                if (w->listeners[k].fd >= 0)
                    close(w->listeners[k].fd);
        if (w->loop) {
            conn_close_all(w);
            upstream_pool_close_all(w);
        }
        loop_destroy(w->loop);
        free(w->listeners);
        free(w->pools);
        free(w->stats);
    }
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    free(srv->workers);
    free(srv);
}

unsigned long server_inflight(struct server *srv)
{
    return atomic_load_explicit(&srv->inflight, memory_order_relaxed);
}
