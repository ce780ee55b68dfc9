/*
 * conn_internal.h: what conn.c (the state machine: requests, teardown, the
 * pump, watches and timers) and conn_io.c (the pump's steps: reading,
 * classifying and writing bytes on both sockets) share: the connection
 * itself and the functions each calls in the other.
 */
#ifndef REFPROXY_CONN_INTERNAL_H
#define REFPROXY_CONN_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server_internal.h"

enum cstate { CS_HEAD, CS_EXCHANGE, CS_TUNNEL, CS_CLOSING, CS_LINGER, CS_DEAD };
enum tmo { T_NONE, T_IDLE, T_HEADER, T_BODY, T_CONNECT, T_RESPONSE, T_TUNNEL, T_FLUSH, T_LINGER };

struct conn {
    struct worker *w;
    struct conn *prev, *next;
    int fd;
    uint32_t svc;
    uint8_t state, tmo;
    uint8_t cmask, umask; /* what the loop watches on each socket */
    bool in_pump;
    bool served; /* answered at least one request: idle timeout, not header timeout */
    bool client_eof;
    bool keep_alive; /* the client connection survives this exchange */
    bool client_10;
    bool is_head;
    bool local; /* answered by refproxy itself: request body is discarded */
    bool upgrade_req;
    bool retryable; /* idempotent without a body: may be retried once */
    bool retried;
    bool req_classified; /* every request-body byte has been seen */
    bool resp_started;   /* response bytes queued: no error status can follow */
    bool resp_head_done;
    bool resp_classified;
    bool resp_keep;    /* upstream said keep-alive */
    bool resp_dechunk; /* HTTP/1.0 client, chunked response: decode into out */
    bool up_eof, up_bad;
    bool shut_up, shut_client;
    bool c_rd, u_rd; /* readable hints: an event said so and no short read since */
    bool inflight;
    bool flushing;    /* in conn_flush: write the client now */
    bool client_full; /* the last client write did not take everything */
    uint8_t req_body, resp_body;
    int status;
    struct loop_timer timer;
    struct loop_deferred flush; /* client bytes wait here for the end of the iteration */
    uint64_t deadline;
    uint64_t req_start;
    struct buf in;  /* from the client: head, body bytes, pipelined requests */
    struct buf out; /* generated for the client: heads, local responses */
    /* A respond service's body goes out from the config, after out: no copy
     * (at 1 MiB the copy was ~10% of an origin's CPU) and no buffer of its
     * size per connection. Nothing is queued behind it until it is sent. */
    const char *body_src;
    size_t body_left;
    struct buf uhead; /* request head for the upstream, kept until a retry is impossible */
    struct buf uin;   /* from the upstream */
    size_t uhead_sent;
    size_t req_fwd;  /* classified request-body bytes at the front of in */
    size_t resp_fwd; /* classified response-body bytes at the front of uin */
    uint64_t req_left, resp_left;
    struct http_chunked req_ch, resp_ch;
    struct upstream *up;
    char client_ip[INET6_ADDRSTRLEN];
};

/* Whole answers smaller than this wait for the end of the loop iteration (see
 * conn.c); a larger one is a batch by itself and goes at once. */
#define CONN_DEFER_MAX (16 * 1024)

/* Bytes queued for the client that are refproxy's own: out, then body_src. */
static inline size_t out_pending(const struct conn *c)
{
    return c->out.len + c->body_left;
}

static inline const struct service_config *svc_of(const struct conn *c)
{
    return &c->w->cfg->services[c->svc];
}

static inline struct svc_stats *stats_of(struct conn *c)
{
    return worker_stats(c->w, c->svc);
}

/* conn.c: teardown, errors and starting a request */
void conn_close(struct conn *c);
void conn_start_closing(struct conn *c);
void conn_error(struct conn *c, int status, const char *reason);
void conn_upstream_error(struct conn *c, enum upstream_error_kind kind, int status,
                         const char *reason);
void conn_start_request(struct conn *c, const struct http_request *req, size_t head_len);
void conn_upstream_failed_early(struct conn *c, const char *reason);
void conn_release_idle_buffers(struct conn *c);

/* conn_io.c: the steps of the pump; each returns whether it made progress */
size_t conn_io_client_read_limit(const struct conn *c);
bool conn_io_client_read(struct conn *c);
bool conn_io_client_input(struct conn *c);
bool conn_io_connect_done(struct conn *c);
bool conn_io_upstream_write(struct conn *c);
size_t conn_io_upstream_read_limit(const struct conn *c);
bool conn_io_upstream_read(struct conn *c);
bool conn_io_upstream_input(struct conn *c);
bool conn_io_client_write(struct conn *c);

#endif
