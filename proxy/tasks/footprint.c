/*
 * footprint: what a tsnet node holds while idle, so that /proc/net rows, fds
 * and thread counts grow per node the way they do in tsnsrv (docs/DESIGN.md §1: ~110
 * goroutines and a handful of sockets per node).
 *
 * Per node: udpSockets UDP sockets bound to 127.0.0.1:0 (the node's wireguard
 * and disco sockets), tcpConns loopback TCP connections to the process's
 * internal peer (its DERP, control and logtail connections), and idleThreads
 * threads named "svc<i>/idle" blocked on a pipe with small stacks.
 *
 * The peer is one process-wide listener on 127.0.0.1:0 with one thread "peer"
 * blocked in epoll_wait(-1): it accepts and holds the connections and discards
 * keepalive bytes; it never wakes on its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tasks_internal.h"
#include "thread.h"

#if defined(__SANITIZE_ADDRESS__)
#define IDLE_STACK (256u << 10) /* ASan's shadow frames need more */
#else
#define IDLE_STACK (64u << 10)
#endif

struct footprint {
    struct task_node *node; /* its conn_fd is our first TCP connection while we run */
    int *udp;
    uint32_t num_udp;
    int *tcp;
    uint32_t num_tcp;
    pthread_t *idle;
    uint32_t num_idle;
    int idle_pipe[2]; /* idle threads block reading [0]; closing [1] releases them */
};

static void *idle_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    ssize_t n;
    do
        n = read(fd, &c, 1);
    while (n < 0 && errno == EINTR);
    return NULL;
}

/*
 * Idle threads are started with plain pthread_create, not thread_start: they
 * never run, so a profiler registration would only cost a per-thread timer, and
 * gperftools 2.10 with per-thread timers aborts the process once more than 256
 * threads registered ("aborting due to timer_create error"), which 8 idle
 * threads per node reach at ~30 nodes.
 */
static int idle_thread_start(pthread_t *tid, const char *name, int fd)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, IDLE_STACK);
    int rc = pthread_create(tid, &attr, idle_main, (void *)(intptr_t)fd);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        pthread_setname_np(*tid, name);
    return rc;
}

static int loopback_socket(int type, const struct sockaddr_storage *peer, socklen_t peer_len)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = peer ? connect(fd, (const struct sockaddr *)peer, peer_len)
                  : bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void footprint_stop(void *instance);

static struct footprint *footprint_start(const struct task_footprint_config *c, size_t index,
                                         const struct sockaddr_storage *peer, socklen_t peer_len,
                                         char **err)
{
    struct footprint *fp = calloc(1, sizeof(*fp));
    if (!fp) {
        tasks_set_err(err, "footprint svc%zu: out of memory", index);
        return NULL;
    }
    fp->idle_pipe[0] = fp->idle_pipe[1] = -1;
    fp->udp = calloc(c->udp_sockets + 1, sizeof(int));
    fp->tcp = calloc(c->tcp_conns + 1, sizeof(int));
    fp->idle = calloc(c->idle_threads + 1, sizeof(pthread_t));
    if (!fp->udp || !fp->tcp || !fp->idle) {
        tasks_set_err(err, "footprint svc%zu: out of memory", index);
        goto fail;
    }
    for (; fp->num_udp < c->udp_sockets; fp->num_udp++)
        if ((fp->udp[fp->num_udp] = loopback_socket(SOCK_DGRAM, NULL, 0)) < 0) {
            tasks_set_err(err, "footprint svc%zu: udp socket: %s", index, strerror(errno));
            goto fail;
        }
    if (c->tcp_conns && !peer) {
        tasks_set_err(err, "footprint svc%zu: no internal peer to connect to", index);
        goto fail;
    }
    for (; fp->num_tcp < c->tcp_conns; fp->num_tcp++)
        if ((fp->tcp[fp->num_tcp] = loopback_socket(SOCK_STREAM, peer, peer_len)) < 0) {
            tasks_set_err(err, "footprint svc%zu: connect to peer: %s", index, strerror(errno));
            goto fail;
        }
    if (c->idle_threads && pipe2(fp->idle_pipe, O_CLOEXEC) < 0) {
        tasks_set_err(err, "footprint svc%zu: pipe: %s", index, strerror(errno));
        goto fail;
    }
    char name[16];
    snprintf(name, sizeof(name), "svc%zu/idle", index);
    for (; fp->num_idle < c->idle_threads; fp->num_idle++) {
        int rc = idle_thread_start(&fp->idle[fp->num_idle], name, fp->idle_pipe[0]);
        if (rc) {
            tasks_set_err(err, "footprint svc%zu: idle thread: %s", index, strerror(rc));
            goto fail;
        }
    }
    return fp;
fail:
    footprint_stop(fp);
    return NULL;
}

/* Closes a footprint TCP connection with a reset instead of a FIN. A FIN would
 * leave the connection in TIME_WAIT for a minute, still a row of /proc/net/tcp:
 * the next refproxy a sweep starts would then poll this one's leftovers, and its
 * cost would depend on the order of the points. */
static void close_without_time_wait(int fd)
{
    struct linger abortive = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
    close(fd);
}

static void footprint_stop(void *instance)
{
    struct footprint *fp = instance;
    if (!fp)
        return;
    if (fp->node)
        fp->node->conn_fd = -1;
    if (fp->idle_pipe[1] >= 0)
        close(fp->idle_pipe[1]);
    for (uint32_t i = 0; i < fp->num_idle; i++)
        pthread_join(fp->idle[i], NULL);
    if (fp->idle_pipe[0] >= 0)
        close(fp->idle_pipe[0]);
    for (uint32_t i = 0; i < fp->num_udp; i++)
        close(fp->udp[i]);
    for (uint32_t i = 0; i < fp->num_tcp; i++)
        close_without_time_wait(fp->tcp[i]);
    free(fp->udp);
    free(fp->tcp);
    free(fp->idle);
    free(fp);
}

static uint32_t footprint_threads(const void *instance)
{
    const struct footprint *fp = instance;
    return fp ? fp->num_idle : 0;
}

/* ---- the internal peer ---- */

struct peer {
    int listen_fd, epoll_fd, stop_fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    pthread_t tid;
    int *conns; /* accepted fds, closed at stop; touched only by the peer thread */
    size_t num_conns, cap_conns;
    _Atomic uint64_t accepted;
};

static void peer_accept(struct peer *p)
{
    for (int i = 0; i < 256; i++) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: level-triggered, we come back */
        if (p->num_conns == p->cap_conns) {
            size_t ncap = p->cap_conns ? p->cap_conns * 2 : 64;
            int *nc = realloc(p->conns, ncap * sizeof(*nc));
            if (!nc) {
                close(fd);
                continue;
            }
            p->conns = nc;
            p->cap_conns = ncap;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        p->conns[p->num_conns++] = fd;
        atomic_fetch_add_explicit(&p->accepted, 1, memory_order_relaxed);
    }
}

static void peer_drop(struct peer *p, int fd)
{
    for (size_t i = 0; i < p->num_conns; i++)
        if (p->conns[i] == fd) {
            p->conns[i] = p->conns[--p->num_conns];
            break;
        }
    epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    struct epoll_event evs[64];
    char sink[512];
    for (;;) {
        int n = epoll_wait(p->epoll_fd, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == p->stop_fd)
                return NULL;
            if (fd == p->listen_fd) {
                peer_accept(p);
                continue;
            }
            ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                peer_drop(p, fd); /* the node closed its side */
        }
    }
    return NULL;
}

static struct peer *peer_start(char **err)
{
    struct peer *p = calloc(1, sizeof(*p));
    if (!p) {
        tasks_set_err(err, "peer: out of memory");
        return NULL;
    }
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    p->addr_len = sizeof(p->addr);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = p->listen_fd};
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = p->stop_fd};
    if (p->listen_fd < 0 || p->epoll_fd < 0 || p->stop_fd < 0 ||
        bind(p->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(p->listen_fd, SOMAXCONN) < 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&p->addr, &p->addr_len) < 0 ||
        epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, p->listen_fd, &lev) < 0 ||
        epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, p->stop_fd, &sev) < 0) {
        tasks_set_err(err, "peer: listen on 127.0.0.1:0: %s", strerror(errno));
        goto fail;
    }
    int rc = thread_start(&p->tid, "peer", 0, peer_main, p);
    if (rc) {
        tasks_set_err(err, "peer: thread: %s", strerror(rc));
        goto fail;
    }
    return p;
fail:
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    if (p->epoll_fd >= 0)
        close(p->epoll_fd);
    if (p->stop_fd >= 0)
        close(p->stop_fd);
    free(p);
    return NULL;
}

static void peer_stop(struct peer *p)
{
    if (!p)
        return;
    uint64_t one = 1;
    ssize_t w = write(p->stop_fd, &one, sizeof(one));
    (void)w;
    pthread_join(p->tid, NULL);
    for (size_t i = 0; i < p->num_conns; i++)
        close_without_time_wait(p->conns[i]);
    free(p->conns);
    close(p->listen_fd);
    close(p->epoll_fd);
    close(p->stop_fd);
    free(p);
}

/* ---- the descriptor: the peer is process-wide, the rest per node ---- */

static struct peer *footprint_peer; /* between global_start and global_stop */

/* Only per-service nodes hold footprint connections; the peer exists when one
 * of them will. */
static int footprint_global_start(const struct config *cfg, char **err)
{
    if (cfg->architecture != ARCH_PER_SERVICE)
        return 0;
    for (size_t i = 0; i < cfg->num_services; i++) {
        const struct task_footprint_config *f = &cfg->services[i].tasks.footprint;
        if (f->mode != TASK_OFF && f->tcp_conns)
            return (footprint_peer = peer_start(err)) ? 0 : -1;
    }
    return 0;
}

static void footprint_global_stop(void)
{
    peer_stop(footprint_peer);
    footprint_peer = NULL;
}

static void *footprint_task_start(struct task_node *node, const void *config, char **err)
{
    struct peer *p = footprint_peer;
    struct footprint *fp =
        footprint_start(config, node->index, p ? &p->addr : NULL, p ? p->addr_len : 0, err);
    if (fp) {
        fp->node = node;
        node->conn_fd = fp->num_tcp ? fp->tcp[0] : -1;
    }
    return fp;
}

const struct task_desc footprint_desc = {
    .spec = &footprint_spec,
    .start = footprint_task_start,
    .stop = footprint_stop,
    .global_start = footprint_global_start,
    .global_stop = footprint_global_stop,
    .threads = footprint_threads,
};
