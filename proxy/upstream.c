/*
 * upstream: connections to a service's upstream (TCP or unix socket) and the
 * keep-alive pool kept per service per worker.
 *
 * A connection enters the pool only after its response was read whole and it
 * is keep-alive (conn.c decides). While pooled it is watched for readability:
 * an idle upstream connection that becomes readable was closed (or spoke out
 * of turn), so it is dropped then rather than failing the next request.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_internal.h"

static void pool_unlink(struct pool *p, struct upstream *u)
{
    for (struct upstream **pp = &p->head; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            p->count--;
            return;
        }
    }
}

static void upstream_close(struct upstream *u)
{
    loop_unwatch(u->w->loop, u->fd);
    close(u->fd);
    free(u);
}

static void on_pooled_event(struct loop *loop, int fd, unsigned events, void *data)
{
    struct upstream *u = data;
    /* The event may be stale: reported in this iteration before the connection
     * finished its response and came back here. Only EOF, bytes or an error
     * mean the upstream is done with it. */
    char b;
    ssize_t n;
    do
        n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN && !(events & LOOP_HANGUP))
        return;
    pool_unlink(&u->w->pools[u->svc - u->w->svc_first], u);
    upstream_close(u);
}

struct upstream *upstream_get(struct worker *w, uint32_t svc, bool fresh)
{
    struct pool *p = &w->pools[svc - w->svc_first];
    if (p->head && !fresh) {
        struct upstream *u = p->head;
        p->head = u->next;
        p->count--;
        u->next = NULL;
        u->reused = true;
        return u;
    }
    const struct service_config *sc = worker_service(w, svc);
    int fd = socket(sc->upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (sc->upstream.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    int rc;
    do
        rc = connect(fd, (const struct sockaddr *)&sc->upstream, sc->upstream_len);
    while (rc < 0 && errno == EINTR);
    /* EINTR on a non-blocking connect leaves it in progress, like EINPROGRESS.
     * (A unix socket with a full backlog says EAGAIN: a failure.) */
    if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    struct upstream *u = calloc(1, sizeof(*u));
    if (!u) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    u->fd = fd;
    u->svc = svc;
    u->w = w;
    u->connecting = rc < 0;
    return u;
}

void upstream_release(struct upstream *u, bool reusable)
{
    struct worker *w = u->w;
    struct pool *p = &w->pools[u->svc - w->svc_first];
    if (!reusable || w->draining || p->count >= w->cfg->limits.upstream_idle_per_service ||
        loop_watch(w->loop, u->fd, LOOP_READABLE, on_pooled_event, u) < 0) {
        upstream_close(u);
        return;
    }
    u->next = p->head;
    p->head = u;
    p->count++;
}

void upstream_pool_close_all(struct worker *w)
{
    for (uint32_t i = 0; i < w->svc_count; i++) {
        struct pool *p = &w->pools[i];
        while (p->head) {
            struct upstream *u = p->head;
            p->head = u->next;
            upstream_close(u);
        }
        p->count = 0;
    }
}
