/*
 * conn_io: the steps of a connection's pump (conn.c runs them in order on
 * every event). Each moves what it can on one socket and returns whether it
 * made progress: read the client, classify request-body bytes, write the
 * upstream, read the upstream, classify response bytes, write the client.
 * Body bytes are relayed verbatim; the framing only finds where they end.
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

/* ---- the steps of the pump; each returns whether it made progress ---- */

size_t conn_io_client_read_limit(const struct conn *c)
{
    size_t head = (size_t)c->w->cfg->limits.max_header_bytes + 1;
    switch (c->state) {
    case CS_HEAD:
        return out_pending(c) >= CONN_BODY_BUF
                   ? 0
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
        if (out_pending(c))
            conn_start_closing(c);
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

bool conn_io_client_read(struct conn *c)
{
    size_t limit = conn_io_client_read_limit(c);
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
 * at once, so conn_io_upstream_write sends the head and them in one writev. A
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

bool conn_io_client_input(struct conn *c)
{
    if (c->state == CS_HEAD) {
        /* a pipelined request waits while a respond body is still going out:
         * its answer must not overtake the body */
        if (!c->in.len || c->out.len >= CONN_BODY_BUF || c->body_left)
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
        conn_start_request(c, req, (size_t)r);
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

bool conn_io_connect_done(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->up->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_upstream_error(c, UPERR_CONNECT, 502, strerror(err));
        return false;
    }
    c->up->connecting = false;
    return true;
}

bool conn_io_upstream_write(struct conn *c)
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
            conn_upstream_failed_early(c, "upstream connection reset");
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
size_t conn_io_upstream_read_limit(const struct conn *c)
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

bool conn_io_upstream_read(struct conn *c)
{
    if (!c->up || c->up->connecting || c->up_eof ||
        (c->state != CS_EXCHANGE && c->state != CS_TUNNEL))
        return false;
    size_t limit = conn_io_upstream_read_limit(c);
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
 * at once, so conn_io_client_write sends the rewritten head and them in one
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

bool conn_io_upstream_input(struct conn *c)
{
    if (c->state != CS_EXCHANGE || !c->up)
        return false;
    if (c->resp_head_done)
        return classify_response_body(c);
    if (!c->uin.len) {
        if (c->up_eof)
            conn_upstream_failed_early(c, "upstream closed the connection before responding");
        return c->up_eof;
    }
    const struct limits_config *l = &c->w->cfg->limits;
    struct http_limits lim = {l->max_header_bytes, l->max_request_line, l->max_headers};
    struct http_response *resp = &c->w->resp;
    const char *m = c->is_head ? "HEAD" : "GET";
    ssize_t r = http_parse_response(c->uin.data, c->uin.len, &lim, m, strlen(m), resp);
    if (r == 0) {
        if (c->up_eof)
            conn_upstream_error(c, UPERR_RESET, 502, "upstream closed mid-response");
        return c->up_eof;
    }
    if (r < 0 || (resp->status == 101 && !c->upgrade_req)) {
        conn_upstream_error(c, UPERR_MALFORMED, 502, r < 0 ? resp->error_reason : "unexpected 101");
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

/* Whether a client write may wait for the end of the loop iteration (see
 * conn.c): only a whole answer under CONN_DEFER_MAX does. A streamed
 * response's head or part of its body goes at once: deferring those halved
 * 1 MiB throughput behind an nginx origin (which sends the head alone). */
static bool may_defer(const struct conn *c, size_t offered)
{
    if (c->flushing || c->client_full || offered >= CONN_DEFER_MAX || c->state == CS_TUNNEL)
        return false;
    if (c->state == CS_EXCHANGE && !c->local)
        return c->resp_head_done && c->resp_classified;
    return true;
}

bool conn_io_client_write(struct conn *c)
{
    if (c->state == CS_HEAD && !out_pending(c))
        return false;
    if (c->state == CS_LINGER || c->state == CS_DEAD)
        return false;
    struct iovec iov[2];
    int n = 0;
    if (c->out.len)
        iov[n++] = (struct iovec){c->out.data, c->out.len};
    size_t body = 0;
    if (c->body_left)
        iov[n++] = (struct iovec){(void *)c->body_src, c->body_left};
    else if (c->state == CS_TUNNEL)
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
    size_t offered = 0;
    for (int i = 0; i < n; i++)
        offered += iov[i].iov_len;
    if (may_defer(c, offered)) {
        loop_defer(c->w->loop, &c->flush); /* see conn.c: answers leave together */
        return false;
    }
    ssize_t w;
    do
        w = writev(c->fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno != EAGAIN)
            conn_close(c);
        c->client_full = true;
        return false;
    }
    c->client_full = (size_t)w < offered;
    stat_add(&stats_of(c)->response_bytes, (uint64_t)w);
    size_t k = (size_t)w;
    size_t o = k < c->out.len ? k : c->out.len;
    buf_consume(&c->out, o);
    k -= o;
    if (k && c->body_left) {
        c->body_src += k;
        c->body_left -= k;
    } else if (k) {
        buf_consume(&c->uin, k);
        if (c->state == CS_EXCHANGE)
            c->resp_fwd -= k;
    }
    conn_release_idle_buffers(c); /* a local answer finished its exchange before it was sent */
    return true;
}
