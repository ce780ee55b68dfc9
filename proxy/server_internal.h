/*
 * server_internal: the data plane's private types, shared by server.c
 * (workers, listeners, shutdown), conn.c and conn_io.c (the client
 * connection state machine), rewrite.c (head rewriting), upstream.c
 * (upstream connections and pools), respond.c (locally generated responses)
 * and svc_metrics.c (counters).
 *
 * Threading: a worker (shared architecture) or node (per-service
 * architecture) owns its loop, listeners, connections, pools and counters;
 * only its own thread touches them, except the counters, which the admin
 * thread reads with relaxed atomics, and the few fields named below.
 */
#ifndef REFPROXY_SERVER_INTERNAL_H
#define REFPROXY_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "http_parse.h"
#include "loop.h"
#include "server.h"

/* Bytes buffered per direction while streaming a body (backpressure bound). */
#define CONN_BODY_BUF (64 * 1024)
#define CONN_READ_CHUNK (16 * 1024)
#define LINGER_MS 2000
#define ACCEPT_PAUSE_MS 100

/* ---- per-service counters (svc_metrics.c) ---- */

#define SVC_BUCKETS 14
enum upstream_error_kind {
    UPERR_CONNECT,   /* refused, unreachable, connect timeout */
    UPERR_TIMEOUT,   /* no response head in time */
    UPERR_RESET,     /* closed or reset before a complete response */
    UPERR_MALFORMED, /* the response failed to parse */
    UPERR_KINDS,
};

struct svc_stats {
    _Atomic uint64_t requests[5]; /* 1xx..5xx */
    _Atomic uint64_t request_bytes, response_bytes;
    _Atomic uint64_t buckets[SVC_BUCKETS]; /* non-cumulative; summed at scrape */
    _Atomic uint64_t duration_count;
    _Atomic uint64_t duration_sum_us;
    _Atomic uint64_t upstream_errors[UPERR_KINDS];
    _Atomic int64_t connections;
};

static inline void stat_conn(_Atomic int64_t *c, int64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline void stat_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

void svc_metrics_record(struct svc_stats *s, int status, uint64_t duration_ns);

/* ---- upstream connections (upstream.c) ---- */

struct conn;
struct worker;

struct upstream {
    int fd;
    uint32_t svc;
    bool reused; /* came from the pool: may have been closed by the peer */
    bool connecting;
    struct worker *w;
    struct upstream *next; /* pool list */
};

struct pool {
    struct upstream *head;
    uint32_t count;
};

/* Takes an idle pooled connection (unless fresh) or starts a new non-blocking
 * connect. The caller watches the fd. NULL with errno on immediate failure. */
struct upstream *upstream_get(struct worker *w, uint32_t svc, bool fresh);
/* Returns a healthy keep-alive connection to the pool, or closes it. */
void upstream_release(struct upstream *u, bool reusable);
void upstream_pool_close_all(struct worker *w);

/* ---- workers ---- */

struct listener {
    int fd;
    uint32_t svc;
    struct worker *w;
};

struct worker {
    struct server *srv;
    const struct config *cfg;
    struct loop *loop;
    pthread_t tid;
    bool running;
    unsigned index;
    char name[16];

    uint32_t svc_first, svc_count; /* services served: [first, first + count) */
    struct listener *listeners;    /* svc_count entries, fd -1 when closed */
    struct pool *pools;            /* svc_count entries */
    struct svc_stats *stats;       /* svc_count entries; read by the admin thread */

    struct conn *conns; /* doubly linked list of client connections */
    unsigned nconns;
    bool draining;
    bool accept_paused;
    struct loop_timer accept_timer;
    struct node_tasks *tasks; /* per-service architecture */

    struct http_request req; /* parse scratch: big, so one per worker */
    struct http_response resp;
};

struct server {
    const struct config *cfg;
    struct worker *workers;
    unsigned nworkers;
    bool started, tasks_started;
    _Atomic unsigned long inflight;

    pthread_mutex_t lock; /* guards the drain bookkeeping below */
    pthread_cond_t cond;
    unsigned workers_drained;
};

static inline struct svc_stats *worker_stats(struct worker *w, uint32_t svc)
{
    return &w->stats[svc - w->svc_first];
}

static inline const struct service_config *worker_service(struct worker *w, uint32_t svc)
{
    return &w->cfg->services[svc];
}

/* Called by conn.c when a connection goes away; finishes a drain. */
void server_worker_conn_gone(struct worker *w);

/* ---- client connections (conn.c) ---- */

void conn_accept(struct worker *w, uint32_t svc, int fd);
/* Drain: close idle connections now, others after their current response. */
void conn_drain_all(struct worker *w);
/* End of the grace period: close everything. */
void conn_close_all(struct worker *w);

/* ---- head rewriting (rewrite.c) ---- */

/* Matches the request path against the service's prefixes; on a match sets
 * *strip_len to the bytes of the target to drop (0 without stripPrefix). */
bool rewrite_route(const struct service_config *sc, const char *target, size_t target_len,
                   size_t *strip_len);
/* Appends the upstream request head. client_ip is the peer address text. */
int rewrite_request(struct buf *out, const struct service_config *sc,
                    const struct http_request *req, size_t strip_len, const char *client_ip);
/* Appends the client response head. close: add Connection: close. */
int rewrite_response(struct buf *out, const struct http_response *resp, bool close, bool client_10);

/* ---- local responses (respond.c) ---- */

/* Appends a respond service's head to out. Its body is appended too, unless
 * body_src and body_len are given and it is over RESPOND_COPY_MAX: they then
 * get the config's body (which lives as long as the config) for the caller to
 * send after out. Copying a small body costs less than sending it apart, and
 * lets the answers to pipelined requests leave in one write. */
#define RESPOND_COPY_MAX 4096
int respond_service(struct buf *out, const struct service_config *sc, bool head_only, bool close,
                    bool client_10, int *status, const char **body_src, size_t *body_len);
int respond_error(struct buf *out, int status, const char *reason, bool close);
const char *respond_reason_phrase(int status);

#endif
