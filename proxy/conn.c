/*
 * conn: one client connection and, while a request is being proxied, its
 * upstream connection — the state machine at the heart of refproxy.
 *
 * States: HEAD (reading a request head; idle keep-alive when nothing is
 * buffered), EXCHANGE (one request/response in flight), TUNNEL (after a 101:
 * bytes both ways), CLOSING (flush what is queued, then FIN) and LINGER (read
 * and discard until the client closes, so a close with unread input does not
 * turn into an RST that destroys our error response).
 *
 * Every event on either socket (and the timer) runs conn_pump, which moves
 * whatever can move (the steps, in conn_io.c): read the client, classify
 * request-body bytes, write the upstream, read the upstream, classify
 * response bytes, write the client, and finish the exchange when both
 * messages are complete. Bodies are never held
 * whole: a direction's bytes sit in the reader's buffer (at most
 * CONN_BODY_BUF) until the other side takes them, and a full buffer stops
 * reading — that is the backpressure. Body bytes are relayed verbatim; the
 * framing (Content-Length count or http_chunked_feed) only finds the end.
 *
 * Whole answers under CONN_DEFER_MAX wait for the end of the loop iteration
 * before they are written (conn_flush, a loop_deferred): the answers one
 * batch of events produced leave together, so a client or load generator
 * holding many connections wakes once for them. Streamed responses and
 * tunnels are written at once, and a socket whose last write did not take
 * everything is written as soon as it has room, on EPOLLOUT.
 *
 * One timer per connection, re-armed lazily: conn_retime moves c->deadline
 * and only re-arms the loop timer when the deadline moved earlier; a timer
 * that fires early re-arms itself to the current deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn_internal.h"

static void conn_pump(struct conn *c);
static void on_client_event(struct loop *loop, int fd, unsigned events, void *data);
static void on_upstream_event(struct loop *loop, int fd, unsigned events, void *data);

static uint64_t tmo_ms(const struct conn *c, int kind)
{
    const struct limits_config *l = &c->w->cfg->limits;
    const struct service_config *sc = svc_of(c);
    switch (kind) {
    case T_IDLE:
        return l->idle_timeout_ms;
    case T_HEADER:
        return sc->read_header_timeout_ms ? sc->read_header_timeout_ms : l->header_timeout_ms;
    case T_CONNECT:
        return l->upstream_connect_timeout_ms;
    case T_RESPONSE:
        return sc->timeout_ms ? sc->timeout_ms : l->upstream_timeout_ms;
    case T_TUNNEL:
        return l->idle_timeout_ms;
    case T_LINGER:
        return LINGER_MS;
    default:
        return l->body_timeout_ms;
    }
}

/* ---- accounting and teardown ---- */

static void account_done(struct conn *c)
{
    if (!c->inflight)
        return;
    c->inflight = false;
    atomic_fetch_sub_explicit(&c->w->srv->inflight, 1, memory_order_relaxed);
    if (c->status)
        svc_metrics_record(stats_of(c), c->status, loop_now_ns(c->w->loop) - c->req_start);
}

static void drop_upstream(struct conn *c, bool reusable)
{
    if (!c->up)
        return;
    if (!reusable)
        loop_unwatch(c->w->loop, c->up->fd);
    upstream_release(c->up, reusable); /* re-watches it for the pool when reusable */
    c->up = NULL;
    c->umask = 0;
}

/* Closes both sockets now. Safe anywhere: the memory goes when the pump ends. */
void conn_close(struct conn *c)
{
    if (c->state == CS_DEAD)
        return;
    struct worker *w = c->w;
    account_done(c);
    drop_upstream(c, false);
    loop_defer_cancel(w->loop, &c->flush);
    loop_unwatch(w->loop, c->fd);
    close(c->fd);
    loop_timer_cancel(w->loop, &c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    stat_conn(&stats_of(c)->connections, -1);
    c->state = CS_DEAD;
    if (!c->in_pump)
        conn_pump(c); /* frees */
}

static void conn_free(struct conn *c)
{
    struct worker *w = c->w;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->uhead);
    buf_free(&c->uin);
    free(c);
    server_worker_conn_gone(w);
}

/* Queues the last bytes and closes once they are out. */
void conn_start_closing(struct conn *c)
{
    drop_upstream(c, false);
    c->keep_alive = false;
    c->state = CS_CLOSING;
    buf_reset(&c->in);
}

/* An error status before any response byte went out; otherwise just close. */
void conn_error(struct conn *c, int status, const char *reason)
{
    if (c->resp_started) {
        conn_close(c);
        return;
    }
    drop_upstream(c, false);
    c->status = status;
    c->resp_started = true;
    if (respond_error(&c->out, status, reason, true) < 0) {
        conn_close(c);
        return;
    }
    account_done(c);
    conn_start_closing(c);
}

void conn_upstream_error(struct conn *c, enum upstream_error_kind kind, int status,
                         const char *reason)
{
    stat_add(&stats_of(c)->upstream_errors[kind], 1);
    conn_error(c, status, reason);
}

/* ---- starting a request ---- */

static bool method_is(const struct http_request *r, const char *m)
{
    size_t n = strlen(m);
    return r->method_len == n && !memcmp(r->method, m, n);
}

static int attach_upstream(struct conn *c, bool fresh)
{
    struct upstream *u = upstream_get(c->w, c->svc, fresh);
    if (!u)
        return -1;
    c->up = u;
    c->umask = 0xff; /* forces the first loop_watch in update_watches */
    c->u_rd = false; /* pooled connections are idle; fresh ones have said nothing yet */
    c->uhead_sent = 0;
    return 0;
}

void conn_start_request(struct conn *c, const struct http_request *req, size_t head_len)
{
    struct worker *w = c->w;
    const struct service_config *sc = svc_of(c);
    c->req_start = loop_now_ns(w->loop);
    c->inflight = true;
    atomic_fetch_add_explicit(&w->srv->inflight, 1, memory_order_relaxed);
    c->state = CS_EXCHANGE;
    c->client_10 = req->minor_version == 0;
    c->keep_alive = req->keep_alive && !w->draining;
    c->is_head = method_is(req, "HEAD");
    c->upgrade_req = req->upgrade;
    c->req_body = (uint8_t)req->body;
    c->req_left = req->content_length;
    http_chunked_init(&c->req_ch);
    c->req_classified =
        req->body == HTTP_BODY_NONE || (req->body == HTTP_BODY_LENGTH && req->content_length == 0);
    c->retryable = req->body == HTTP_BODY_NONE && !req->upgrade &&
                   (method_is(req, "GET") || c->is_head || method_is(req, "OPTIONS") ||
                    method_is(req, "TRACE") || method_is(req, "PUT") || method_is(req, "DELETE"));
    c->retried = c->resp_started = c->resp_head_done = c->resp_classified = false;
    c->resp_dechunk = c->up_eof = c->up_bad = c->local = false;
    c->status = 0;
    c->req_fwd = c->resp_fwd = 0;

    size_t strip = 0;
    if (!rewrite_route(sc, req->target, req->target_len, &strip)) {
        c->local = c->resp_started = true;
        c->status = 404;
        respond_error(&c->out, 404, "no route for this path", !c->keep_alive);
    } else if (sc->upstream_kind == UPSTREAM_RESPOND) {
        c->local = c->resp_started = true;
        respond_service(&c->out, sc, c->is_head, !c->keep_alive, c->client_10, &c->status,
                        &c->body_src, &c->body_left);
    } else {
        buf_reset(&c->uhead);
        if (rewrite_request(&c->uhead, sc, req, strip, c->client_ip) < 0) {
            buf_consume(&c->in, head_len);
            conn_error(c, 500, "cannot build the upstream request");
            return;
        }
        if (attach_upstream(c, false) < 0) {
            buf_consume(&c->in, head_len);
            conn_upstream_error(c, UPERR_CONNECT, 502, "cannot connect to the upstream");
            return;
        }
    }
    buf_consume(&c->in, head_len);
    if (c->local)
        account_done(c); /* the answer is queued; what remains is draining its body */
}

/* A reused pooled connection failed before any response byte: retry once on a
 * fresh one when that cannot repeat a side effect; otherwise 502. */
void conn_upstream_failed_early(struct conn *c, const char *reason)
{
    if (c->up && c->up->reused && c->retryable && !c->retried && c->uin.len == 0) {
        drop_upstream(c, false);
        c->retried = true;
        c->up_eof = false;
        if (attach_upstream(c, true) == 0)
            return;
        conn_upstream_error(c, UPERR_CONNECT, 502, "cannot connect to the upstream");
        return;
    }
    conn_upstream_error(c, UPERR_RESET, 502, reason);
}

static void finish_exchange(struct conn *c)
{
    bool req_sent =
        c->req_classified && c->req_fwd == 0 && (c->local || c->uhead_sent == c->uhead.len);
    if (c->up) {
        bool reusable = req_sent && !c->up_bad && c->resp_keep && !c->up_eof && !c->uin.len;
        drop_upstream(c, reusable);
    }
    account_done(c);
    c->served = true;
    buf_reset(&c->uhead);
    if (!req_sent || !c->keep_alive || c->w->draining) {
        conn_start_closing(c);
        return;
    }
    c->state = CS_HEAD;
    conn_release_idle_buffers(c);
}

/* An idle keep-alive connection gives its buffers back (they are allocated
 * again by the next request). */
void conn_release_idle_buffers(struct conn *c)
{
    if (c->state == CS_HEAD && !c->in.len && !out_pending(c)) {
        buf_free(&c->in);
        buf_free(&c->out);
        buf_free(&c->uin);
    }
}

static bool step_complete(struct conn *c)
{
    switch (c->state) {
    case CS_EXCHANGE:
        if (c->local) {
            if (!c->req_classified || c->req_fwd)
                return false;
        } else if (!c->resp_head_done || !c->resp_classified || c->resp_fwd ||
                   (c->resp_dechunk && c->uin.len)) {
            return false;
        }
        finish_exchange(c);
        return true;
    case CS_TUNNEL:
        if (c->client_eof && c->up_eof && !c->in.len && !c->uin.len && !out_pending(c)) {
            conn_close(c);
            return true;
        }
        return false;
    case CS_CLOSING:
        if (out_pending(c))
            return false;
        shutdown(c->fd, SHUT_WR);
        c->state = CS_LINGER;
        return true;
    default:
        return false;
    }
}

/* ---- watches and the timer ---- */

static enum tmo desired_tmo(const struct conn *c)
{
    switch (c->state) {
    case CS_HEAD:
        return c->in.len || !c->served ? T_HEADER : T_IDLE;
    case CS_EXCHANGE:
        if (c->local)
            return T_BODY;
        if (c->up && c->up->connecting)
            return T_CONNECT;
        if (!c->resp_head_done && c->req_classified && !c->req_fwd && c->uhead_sent == c->uhead.len)
            return T_RESPONSE;
        return T_BODY;
    case CS_TUNNEL:
        return T_TUNNEL;
    case CS_CLOSING:
        return T_FLUSH;
    case CS_LINGER:
        return T_LINGER;
    default:
        return T_NONE;
    }
}

static void conn_retime(struct conn *c, bool progressed)
{
    enum tmo kind = desired_tmo(c);
    uint64_t now = loop_now_ns(c->w->loop);
    if (kind != c->tmo) {
        /* Entering HEADER from IDLE starts the header clock at the first byte. */
        c->tmo = (uint8_t)kind;
        c->deadline = now + tmo_ms(c, kind) * 1000000ull;
    } else if (progressed && (kind == T_BODY || kind == T_TUNNEL || kind == T_FLUSH)) {
        c->deadline = now + tmo_ms(c, kind) * 1000000ull;
    }
    if (!loop_timer_armed(&c->timer) || c->timer.deadline_ns > c->deadline)
        loop_timer_arm_at(c->w->loop, &c->timer, c->deadline);
}

static void update_watches(struct conn *c)
{
    unsigned cm = 0;
    if (!c->client_eof && c->in.len < conn_io_client_read_limit(c))
        cm |= LOOP_READABLE;
    if (!loop_deferred_queued(&c->flush) &&
        (out_pending(c) || (c->state == CS_TUNNEL && c->uin.len) ||
         (c->state == CS_EXCHANGE && c->resp_head_done && c->resp_fwd)))
        cm |= LOOP_WRITABLE;
    if (cm != c->cmask) {
        if (loop_watch(c->w->loop, c->fd, cm, on_client_event, c) < 0) {
            conn_close(c);
            return;
        }
        c->cmask = (uint8_t)cm;
    }
    if (!c->up)
        return;
    unsigned um = 0;
    if (c->up->connecting) {
        um = LOOP_WRITABLE;
    } else {
        if (!c->up_eof && c->uin.len < conn_io_upstream_read_limit(c))
            um |= LOOP_READABLE;
        if (c->uhead_sent < c->uhead.len || (c->state == CS_EXCHANGE && c->req_fwd) ||
            (c->state == CS_TUNNEL && c->in.len))
            um |= LOOP_WRITABLE;
    }
    if (um != c->umask) {
        if (loop_watch(c->w->loop, c->up->fd, um, on_upstream_event, c) < 0) {
            conn_close(c);
            return;
        }
        c->umask = (uint8_t)um;
    }
}

static void conn_pump(struct conn *c)
{
    if (c->in_pump)
        return;
    c->in_pump = true;
    bool any = false;
    for (int i = 0; i < 16 && c->state != CS_DEAD; i++) {
        bool p = conn_io_client_read(c);
        if (c->state != CS_DEAD)
            p |= conn_io_client_input(c);
        if (c->state != CS_DEAD)
            p |= conn_io_upstream_write(c);
        if (c->state != CS_DEAD)
            p |= conn_io_upstream_read(c);
        if (c->state != CS_DEAD)
            p |= conn_io_upstream_input(c);
        if (c->state != CS_DEAD)
            p |= conn_io_client_write(c);
        if (c->state != CS_DEAD)
            p |= step_complete(c);
        any |= p;
        if (!p)
            break;
    }
    if (c->state != CS_DEAD)
        conn_retime(c, any);
    if (c->state != CS_DEAD)
        update_watches(c);
    c->in_pump = false;
    c->flushing = false;
    if (c->state == CS_DEAD)
        conn_free(c);
}

static void conn_flush(struct loop *loop, struct loop_deferred *d, void *data)
{
    struct conn *c = data;
    c->flushing = true;
    conn_pump(c);
}

static void on_client_event(struct loop *loop, int fd, unsigned events, void *data)
{
    struct conn *c = data;
    if (events & (LOOP_READABLE | LOOP_HANGUP))
        c->c_rd = true;
    /* HUP/ERR while we are not reading cannot be consumed by a read, and
     * level-triggered it would repeat: the client is gone. */
    if ((events & LOOP_HANGUP) && !(c->cmask & LOOP_READABLE) && !(events & LOOP_WRITABLE)) {
        c->in_pump = true;
        conn_close(c);
        c->in_pump = false;
    }
    conn_pump(c);
}

static void on_upstream_event(struct loop *loop, int fd, unsigned events, void *data)
{
    struct conn *c = data;
    if (events & (LOOP_READABLE | LOOP_HANGUP))
        c->u_rd = true;
    c->in_pump = true;
    if (c->up && c->up->connecting) {
        if (events & (LOOP_WRITABLE | LOOP_HANGUP))
            conn_io_connect_done(c);
    } else if ((events & LOOP_HANGUP) && !(c->umask & LOOP_READABLE) && !(events & LOOP_WRITABLE)) {
        c->up_eof = c->up_bad = true;
        if (c->state == CS_EXCHANGE && !c->resp_head_done)
            conn_upstream_failed_early(c, "upstream connection reset");
        else
            conn_close(c);
    }
    c->in_pump = false;
    conn_pump(c);
}

static void on_timer(struct loop *loop, struct loop_timer *t, void *data)
{
    struct conn *c = data;
    if (loop_now_ns(loop) < c->deadline) {
        loop_timer_arm_at(loop, t, c->deadline); /* activity moved it: lazy re-arm */
        return;
    }
    c->in_pump = true;
    switch (c->tmo) {
    case T_HEADER:
        if (c->in.len)
            conn_error(c, 408, "request head not received in time");
        else
            conn_close(c);
        break;
    case T_CONNECT:
        conn_upstream_error(c, UPERR_CONNECT, 502, "upstream connect timeout");
        break;
    case T_RESPONSE:
        conn_upstream_error(c, UPERR_TIMEOUT, 504, "upstream response timeout");
        break;
    case T_BODY:
        if (c->state == CS_EXCHANGE && !c->resp_started && !c->local && !c->req_classified)
            conn_error(c, 408, "request body not received in time");
        else if (c->state == CS_EXCHANGE && !c->resp_started && !c->local)
            conn_upstream_error(c, UPERR_TIMEOUT, 504, "upstream stalled");
        else
            conn_close(c);
        break;
    default: /* idle keep-alive, tunnel idle, flush or linger: close silently */
        conn_close(c);
        break;
    }
    c->in_pump = false;
    conn_pump(c);
}

/* ---- worker entry points ---- */

void conn_accept(struct worker *w, uint32_t svc, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->svc = svc;
    c->state = CS_HEAD;
    c->tmo = T_NONE;
    c->cmask = 0xff;
    c->c_rd = true; /* the request may already be there */
    buf_init(&c->in, 0);
    buf_init(&c->out, 0);
    buf_init(&c->uhead, 0);
    buf_init(&c->uin, 0);
    loop_timer_init(&c->timer, on_timer, c);
    loop_deferred_init(&c->flush, conn_flush, c);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    strcpy(c->client_ip, "unknown");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->client_ip,
                      sizeof(c->client_ip));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->client_ip,
                      sizeof(c->client_ip));
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Keep at most one body window unsent in the kernel (writes stop and
     * EPOLLOUT waits once that much is queued). Without it a client that
     * stops reading pins up to the autotuned send buffer: 3.5 MB per
     * connection against 64 KiB (test_stalled_client_pins_one_window...).
     * And a full queue is sent from ACK processing in the receiver's context,
     * on loopback the client's CPU: with 1 MiB responses and origin and wrk
     * sharing CPU 1, 1516 req/s without against 1873 with (HAProxy 1563). */
    int lowat = CONN_BODY_BUF;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    stat_conn(&stats_of(c)->connections, 1);
    conn_pump(c); /* data may already be there (deferred accept) */
}

void conn_drain_all(struct worker *w)
{
    struct conn *next;
    for (struct conn *c = w->conns; c; c = next) {
        next = c->next;
        if (c->state == CS_HEAD && !c->in.len && !out_pending(c))
            conn_close(c);
        else if (c->state == CS_HEAD)
            c->keep_alive = false;
    }
}

void conn_close_all(struct worker *w)
{
    while (w->conns)
        conn_close(w->conns);
}
