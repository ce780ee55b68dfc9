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
 * whatever can move: read the client, classify request-body bytes, write the
 * upstream, read the upstream, classify response bytes, write the client, and
 * finish the exchange when both messages are complete. Bodies are never held
 * whole: a direction's bytes sit in the reader's buffer (at most
 * CONN_BODY_BUF) until the other side takes them, and a full buffer stops
 * reading — that is the backpressure. Body bytes are relayed verbatim; the
 * framing (Content-Length count or http_chunked_feed) only finds the end.
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
    uint8_t req_body, resp_body;
    int status;
    struct loop_timer timer;
    uint64_t deadline;
    uint64_t req_start;
    struct buf in;    /* from the client: head, body bytes, pipelined requests */
    struct buf out;   /* generated for the client: heads, local responses */
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

static void conn_pump(struct conn *c);
static void on_client_event(struct loop *loop, int fd, unsigned events, void *data);
static void on_upstream_event(struct loop *loop, int fd, unsigned events, void *data);

static const struct service_config *svc_of(const struct conn *c)
{
    return &c->w->cfg->services[c->svc];
}

static struct svc_stats *stats_of(struct conn *c)
{
    return worker_stats(c->w, c->svc);
}

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
        svc_stats_record(stats_of(c), c->status, loop_now_ns(c->w->loop) - c->req_start);
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
static void conn_close(struct conn *c)
{
    if (c->state == CS_DEAD)
        return;
    struct worker *w = c->w;
    account_done(c);
    drop_upstream(c, false);
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
    worker_conn_gone(w);
}

/* Queues the last bytes and closes once they are out. */
static void start_closing(struct conn *c)
{
    drop_upstream(c, false);
    c->keep_alive = false;
    c->state = CS_CLOSING;
    buf_reset(&c->in);
}

/* An error status before any response byte went out; otherwise just close. */
static void conn_error(struct conn *c, int status, const char *reason)
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
    start_closing(c);
}

static void upstream_error(struct conn *c, enum upstream_error_kind kind, int status,
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
    c->u_rd = false;  /* pooled connections are idle; fresh ones have said nothing yet */
    c->uhead_sent = 0;
    return 0;
}

static void start_request(struct conn *c, const struct http_request *req, size_t head_len)
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
        respond_service(&c->out, sc, c->is_head, !c->keep_alive, c->client_10, &c->status);
    } else {
        buf_reset(&c->uhead);
        if (rewrite_request(&c->uhead, sc, req, strip, c->client_ip) < 0) {
            buf_consume(&c->in, head_len);
            conn_error(c, 500, "cannot build the upstream request");
            return;
        }
        if (attach_upstream(c, false) < 0) {
            buf_consume(&c->in, head_len);
            upstream_error(c, UPERR_CONNECT, 502, "cannot connect to the upstream");
            return;
        }
    }
    buf_consume(&c->in, head_len);
    if (c->local)
        account_done(c); /* the answer is queued; what remains is draining its body */
}

/* A reused pooled connection failed before any response byte: retry once on a
 * fresh one when that cannot repeat a side effect; otherwise 502. */
static void upstream_failed_early(struct conn *c, const char *reason)
{
    if (c->up && c->up->reused && c->retryable && !c->retried && c->uin.len == 0) {
        drop_upstream(c, false);
        c->retried = true;
        c->up_eof = false;
        if (attach_upstream(c, true) == 0)
            return;
        upstream_error(c, UPERR_CONNECT, 502, "cannot connect to the upstream");
        return;
    }
    upstream_error(c, UPERR_RESET, 502, reason);
}

/* ---- the steps of the pump; each returns whether it made progress ---- */

static size_t client_read_limit(const struct conn *c)
{
    size_t head = (size_t)c->w->cfg->limits.max_header_bytes + 1;
    switch (c->state) {
    case CS_HEAD:
        return c->out.len >= CONN_BODY_BUF ? 0
                                           : (head > CONN_BODY_BUF - 1 ? head : CONN_BODY_BUF - 1);
    case CS_EXCHANGE:
    case CS_TUNNEL:
        return CONN_BODY_BUF - 1;
    case CS_LINGER:
        return SIZE_MAX;
    default:
        return 0;
    }
}

/* Reads into b up to limit bytes in total; returns bytes read, 0 on EOF, -1
 * with errno (EAGAIN when nothing is there). expect is how many bytes the
 * caller knows are coming (a body's remaining length): the buffer grows to
 * take them in one read, up to limit. Otherwise it grows 4 KiB at a time, so
 * a slow client's trickle cannot make it large. Before, a 1 MiB body went
 * through an 8 KiB buffer: 256 system calls per response, 0.4x HAProxy. */
static ssize_t read_into(int fd, struct buf *b, size_t limit, uint64_t expect, bool *hint)
{
    size_t want = limit - b->len;
    if (want > 4096 && expect < want)
        want = expect > 4096 ? (size_t)expect : 4096;
    if (buf_reserve(b, want) < 0) {
        errno = ENOMEM;
        return -1;
    }
    size_t room = b->cap - 1 - b->len;
    if (room > limit - b->len)
        room = limit - b->len;
    ssize_t n;
    do
        n = read(fd, b->data + b->len, room);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    /* A short read drained the socket: skip the read that would say EAGAIN
     * until epoll reports it readable again (level-triggered, so none is lost). */
    if ((n > 0 && (size_t)n < room) || (n < 0 && errno == EAGAIN))
        *hint = false;
    return n;
}

static void on_client_eof(struct conn *c)
{
    switch (c->state) {
    case CS_HEAD:
        if (c->out.len)
            start_closing(c);
        else
            conn_close(c);
        break;
    case CS_EXCHANGE:
        if (c->local && c->req_classified)
            break;     /* the answer is queued; HEAD state decides */
        conn_close(c); /* client gone mid-request: the upstream connection goes too */
        break;
    case CS_LINGER:
        conn_close(c);
        break;
    default:
        break; /* TUNNEL: half-close handled by the tunnel steps */
    }
}

static bool step_client_read(struct conn *c)
{
    size_t limit = client_read_limit(c);
    if (c->client_eof || c->in.len >= limit)
        return false;
    if (!c->c_rd)
        return false;
    if (c->state == CS_LINGER) {
        char scratch[4096];
        ssize_t n;
        do
            n = read(c->fd, scratch, sizeof(scratch));
        while (n < 0 && errno == EINTR);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            conn_close(c);
        c->c_rd = n > 0;
        return n > 0;
    }
    uint64_t expect = c->state == CS_EXCHANGE && c->req_body == HTTP_BODY_LENGTH ? c->req_left : 0;
    ssize_t n = read_into(c->fd, &c->in, limit, expect, &c->c_rd);
    if (n > 0) {
        stat_add(&stats_of(c)->request_bytes, (uint64_t)n);
        return true;
    }
    if (n == 0) {
        c->client_eof = true;
        on_client_eof(c);
        return true;
    }
    if (errno != EAGAIN)
        conn_close(c);
    return false;
}

static bool classify_request_body(struct conn *c)
{
    size_t avail = c->in.len - c->req_fwd;
    if (c->req_classified || !avail)
        return false;
    if (c->req_body == HTTP_BODY_LENGTH) {
        size_t n = avail < c->req_left ? avail : (size_t)c->req_left;
        c->req_fwd += n;
        c->req_left -= n;
        c->req_classified = c->req_left == 0;
        return n > 0;
    }
    ssize_t r = http_chunked_feed(&c->req_ch, c->in.data + c->req_fwd, avail, NULL, NULL);
    if (r < 0) {
        conn_error(c, 400, c->req_ch.error_reason);
        return true;
    }
    c->req_fwd += (size_t)r;
    c->req_classified = c->req_ch.done;
    return r > 0 || c->req_classified;
}

/* Body bytes that came in the same read as the request head are classified
 * at once, so step_upstream_write sends the head and them in one writev. A
 * framing error is left to the regular step (after the head went out), so
 * what either peer sees on bad input does not change. */
static void classify_request_early(struct conn *c)
{
    if (c->state != CS_EXCHANGE || c->local || c->req_classified || !c->in.len)
        return;
    if (c->req_body == HTTP_BODY_CHUNKED) {
        struct http_chunked probe = c->req_ch;
        if (http_chunked_feed(&probe, c->in.data, c->in.len, NULL, NULL) < 0)
            return;
    }
    classify_request_body(c);
}

static bool step_client_input(struct conn *c)
{
    if (c->state == CS_HEAD) {
        if (!c->in.len || c->out.len >= CONN_BODY_BUF)
            return false;
        const struct limits_config *l = &c->w->cfg->limits;
        struct http_limits lim = {l->max_header_bytes, l->max_request_line, l->max_headers};
        struct http_request *req = &c->w->req;
        ssize_t r = http_parse_request(c->in.data, c->in.len, &lim, req);
        if (r == 0)
            return false;
        if (r < 0) {
            c->client_10 = false;
            conn_error(c, req->error_status ? req->error_status : 400, req->error_reason);
            return true;
        }
        start_request(c, req, (size_t)r);
        classify_request_early(c);
        return true;
    }
    if (c->state != CS_EXCHANGE)
        return false;
    bool progress = classify_request_body(c);
    if (c->state == CS_EXCHANGE && c->local && c->req_fwd) {
        buf_consume(&c->in, c->req_fwd); /* local answers discard the body */
        c->req_fwd = 0;
        progress = true;
    }
    return progress;
}

static bool connect_done(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->up->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        upstream_error(c, UPERR_CONNECT, 502, strerror(err));
        return false;
    }
    c->up->connecting = false;
    return true;
}

static bool step_upstream_write(struct conn *c)
{
    if (!c->up || c->up->connecting || (c->state != CS_EXCHANGE && c->state != CS_TUNNEL))
        return false;
    struct iovec iov[2];
    int n = 0;
    size_t head_left = c->uhead.len - c->uhead_sent;
    if (head_left)
        iov[n++] = (struct iovec){c->uhead.data + c->uhead_sent, head_left};
    size_t body = c->state == CS_TUNNEL ? c->in.len : c->req_fwd;
    if (body)
        iov[n++] = (struct iovec){c->in.data, body};
    if (!n) {
        if (c->state == CS_TUNNEL && c->client_eof && !c->shut_up) {
            shutdown(c->up->fd, SHUT_WR);
            c->shut_up = true;
        }
        return false;
    }
    ssize_t w;
    do
        w = writev(c->up->fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno == EAGAIN)
            return false;
        if (c->state == CS_TUNNEL || c->resp_head_done)
            conn_close(c);
        else
            upstream_failed_early(c, "upstream connection reset");
        return true;
    }
    size_t k = (size_t)w;
    size_t h = k < head_left ? k : head_left;
    c->uhead_sent += h;
    k -= h;
    if (k) {
        buf_consume(&c->in, k);
        if (c->state == CS_EXCHANGE)
            c->req_fwd -= k;
    }
    return true;
}

/* How much upstream input may be buffered: a whole head before it parses
 * (the parser rejects anything longer), one body window after. */
static size_t upstream_read_limit(const struct conn *c)
{
    if (c->resp_dechunk && c->out.len >= CONN_BODY_BUF)
        return 0;
    size_t limit = CONN_BODY_BUF - 1;
    if (!c->resp_head_done && c->state == CS_EXCHANGE) {
        size_t head = (size_t)c->w->cfg->limits.max_header_bytes + 1;
        limit = head > limit ? head : limit;
    }
    return limit;
}

static bool step_upstream_read(struct conn *c)
{
    if (!c->up || c->up->connecting || c->up_eof ||
        (c->state != CS_EXCHANGE && c->state != CS_TUNNEL))
        return false;
    size_t limit = upstream_read_limit(c);
    if (c->uin.len >= limit || !c->u_rd)
        return false;
    /* A body of known length: its remaining bytes. Chunked or close-delimited:
     * unknown, so the whole window (given back when the connection is idle). */
    uint64_t expect = 0;
    if (c->state == CS_EXCHANGE && c->resp_head_done)
        expect = c->resp_body == HTTP_BODY_LENGTH ? c->resp_left : UINT64_MAX;
    ssize_t n = read_into(c->up->fd, &c->uin, limit, expect, &c->u_rd);
    if (n > 0)
        return true;
    if (n == 0 || errno != EAGAIN) {
        c->up_eof = true;
        c->up_bad = true;
        return true;
    }
    return false;
}

static void dechunk_data(void *arg, const char *data, size_t len)
{
    struct conn *c = arg;
    if (buf_append(&c->out, data, len) < 0)
        c->up_bad = true;
}

static bool classify_response_body(struct conn *c)
{
    size_t avail = c->uin.len - c->resp_fwd;
    if (c->resp_classified)
        return false;
    if (c->resp_body == HTTP_BODY_CLOSE) {
        c->resp_fwd += avail;
        c->resp_classified = c->up_eof;
        return avail > 0 || c->resp_classified;
    }
    if (!avail) {
        if (c->up_eof) { /* truncated: the client cannot be told, only closed */
            stat_add(&stats_of(c)->upstream_errors[UPERR_RESET], 1);
            conn_close(c);
            return true;
        }
        return false;
    }
    if (c->resp_body == HTTP_BODY_LENGTH) {
        size_t n = avail < c->resp_left ? avail : (size_t)c->resp_left;
        c->resp_fwd += n;
        c->resp_left -= n;
        c->resp_classified = c->resp_left == 0;
        return n > 0;
    }
    ssize_t r;
    if (c->resp_dechunk) {
        r = http_chunked_feed(&c->resp_ch, c->uin.data, c->uin.len, dechunk_data, c);
        if (r > 0)
            buf_consume(&c->uin, (size_t)r);
    } else {
        r = http_chunked_feed(&c->resp_ch, c->uin.data + c->resp_fwd, avail, NULL, NULL);
        if (r > 0)
            c->resp_fwd += (size_t)r;
    }
    if (r < 0) {
        stat_add(&stats_of(c)->upstream_errors[UPERR_MALFORMED], 1);
        conn_close(c);
        return true;
    }
    c->resp_classified = c->resp_ch.done;
    return r > 0 || c->resp_classified;
}

/* Body bytes that came in the same read as the response head are classified
 * at once, so step_client_write sends the rewritten head and them in one
 * writev (one segment, one client wakeup) instead of two. Only when that
 * cannot fail: truncation and framing errors are left to the regular step,
 * after the head went out, as before. Dechunking (HTTP/1.0 clients) appends
 * to out as it goes, so it stays on the regular path. */
static void classify_response_early(struct conn *c)
{
    if (c->resp_classified || c->resp_dechunk || !c->uin.len)
        return;
    if (c->resp_body == HTTP_BODY_CHUNKED) {
        struct http_chunked probe = c->resp_ch;
        if (http_chunked_feed(&probe, c->uin.data, c->uin.len, NULL, NULL) < 0)
            return;
    }
    classify_response_body(c);
}

static bool step_upstream_input(struct conn *c)
{
    if (c->state != CS_EXCHANGE || !c->up)
        return false;
    if (c->resp_head_done)
        return classify_response_body(c);
    if (!c->uin.len) {
        if (c->up_eof)
            upstream_failed_early(c, "upstream closed the connection before responding");
        return c->up_eof;
    }
    const struct limits_config *l = &c->w->cfg->limits;
    struct http_limits lim = {l->max_header_bytes, l->max_request_line, l->max_headers};
    struct http_response *resp = &c->w->resp;
    const char *m = c->is_head ? "HEAD" : "GET";
    ssize_t r = http_parse_response(c->uin.data, c->uin.len, &lim, m, strlen(m), resp);
    if (r == 0) {
        if (c->up_eof)
            upstream_error(c, UPERR_RESET, 502, "upstream closed mid-response");
        return c->up_eof;
    }
    if (r < 0 || (resp->status == 101 && !c->upgrade_req)) {
        upstream_error(c, UPERR_MALFORMED, 502, r < 0 ? resp->error_reason : "unexpected 101");
        return true;
    }
    if (resp->status < 200 && resp->status != 101) {
        /* Interim (100 Continue, 103): relay to 1.1 clients, keep waiting. */
        if (!c->client_10)
            rewrite_response(&c->out, resp, false, false);
        buf_consume(&c->uin, (size_t)r);
        return true;
    }
    c->status = resp->status;
    c->resp_started = c->resp_head_done = true;
    if (resp->status == 101) {
        rewrite_response(&c->out, resp, false, c->client_10);
        buf_consume(&c->uin, (size_t)r);
        c->state = CS_TUNNEL;
        c->shut_up = c->shut_client = false;
        return true;
    }
    c->resp_dechunk = c->client_10 && resp->body == HTTP_BODY_CHUNKED;
    if (resp->body == HTTP_BODY_CLOSE || c->resp_dechunk || c->w->draining)
        c->keep_alive = false;
    c->resp_keep = resp->keep_alive;
    c->resp_body = (uint8_t)resp->body;
    c->resp_left = resp->content_length;
    http_chunked_init(&c->resp_ch);
    c->resp_classified = resp->body == HTTP_BODY_NONE ||
                         (resp->body == HTTP_BODY_LENGTH && resp->content_length == 0);
    rewrite_response(&c->out, resp, !c->keep_alive, c->client_10);
    buf_consume(&c->uin, (size_t)r);
    classify_response_early(c);
    return true;
}

static bool step_client_write(struct conn *c)
{
    if (c->state == CS_HEAD && !c->out.len)
        return false;
    if (c->state == CS_LINGER || c->state == CS_DEAD)
        return false;
    struct iovec iov[2];
    int n = 0;
    if (c->out.len)
        iov[n++] = (struct iovec){c->out.data, c->out.len};
    size_t body = 0;
    if (c->state == CS_TUNNEL)
        body = c->uin.len;
    else if (c->state == CS_EXCHANGE && c->up && c->resp_head_done && !c->resp_dechunk)
        body = c->resp_fwd;
    if (body)
        iov[n++] = (struct iovec){c->uin.data, body};
    if (!n) {
        if (c->state == CS_TUNNEL && c->up_eof && !c->shut_client) {
            shutdown(c->fd, SHUT_WR);
            c->shut_client = true;
        }
        return false;
    }
    ssize_t w;
    do
        w = writev(c->fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno != EAGAIN)
            conn_close(c);
        return false;
    }
    stat_add(&stats_of(c)->response_bytes, (uint64_t)w);
    size_t k = (size_t)w;
    size_t o = k < c->out.len ? k : c->out.len;
    buf_consume(&c->out, o);
    k -= o;
    if (k) {
        buf_consume(&c->uin, k);
        if (c->state == CS_EXCHANGE)
            c->resp_fwd -= k;
    }
    return true;
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
        start_closing(c);
        return;
    }
    c->state = CS_HEAD;
    if (!c->in.len && !c->out.len) { /* idle: give the memory back */
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
        if (c->client_eof && c->up_eof && !c->in.len && !c->uin.len && !c->out.len) {
            conn_close(c);
            return true;
        }
        return false;
    case CS_CLOSING:
        if (c->out.len)
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
    if (!c->client_eof && c->in.len < client_read_limit(c))
        cm |= LOOP_READABLE;
    if (c->out.len || (c->state == CS_TUNNEL && c->uin.len) ||
        (c->state == CS_EXCHANGE && c->resp_head_done && c->resp_fwd))
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
        if (!c->up_eof && c->uin.len < upstream_read_limit(c))
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
        bool p = step_client_read(c);
        if (c->state != CS_DEAD)
            p |= step_client_input(c);
        if (c->state != CS_DEAD)
            p |= step_upstream_write(c);
        if (c->state != CS_DEAD)
            p |= step_upstream_read(c);
        if (c->state != CS_DEAD)
            p |= step_upstream_input(c);
        if (c->state != CS_DEAD)
            p |= step_client_write(c);
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
    if (c->state == CS_DEAD)
        conn_free(c);
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
            connect_done(c);
    } else if ((events & LOOP_HANGUP) && !(c->umask & LOOP_READABLE) && !(events & LOOP_WRITABLE)) {
        c->up_eof = c->up_bad = true;
        if (c->state == CS_EXCHANGE && !c->resp_head_done)
            upstream_failed_early(c, "upstream connection reset");
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
        upstream_error(c, UPERR_CONNECT, 502, "upstream connect timeout");
        break;
    case T_RESPONSE:
        upstream_error(c, UPERR_TIMEOUT, 504, "upstream response timeout");
        break;
    case T_BODY:
        if (c->state == CS_EXCHANGE && !c->resp_started && !c->local && !c->req_classified)
            conn_error(c, 408, "request body not received in time");
        else if (c->state == CS_EXCHANGE && !c->resp_started && !c->local)
            upstream_error(c, UPERR_TIMEOUT, 504, "upstream stalled");
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
        if (c->state == CS_HEAD && !c->in.len && !c->out.len)
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
