/*
 * admin: the admin listener (see admin.h): /healthz, /metrics (composed
 * here from process_metrics.c, the server and the tasks), and the pprof
 * endpoints (routed to pprof.c). Handlers build a struct admin_reply
 * (admin_reply.h); this file owns the sockets and writes it.
 *
 * Threads: one accept thread "admin" blocked in poll() on the listener and a
 * stop pipe (no timeout, so an idle admin makes no wakeups), and at most
 * ADMIN_MAX_CONNS detached handler threads "admin/conn", one per connection,
 * doing blocking I/O with socket timeouts. A connection beyond the limit gets
 * 503 from the accept thread. Every response carries Connection: close: the
 * clients (Prometheus, pprof tools, curl) open one connection per request
 * anyway, and it keeps a handler's life to one request.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin_reply.h"
#include "buf.h"
#include "http_parse.h"
#include "pprof.h"
#include "process_metrics.h"
#include "profiling.h"
#include "tasks.h"
#include "thread.h"
#include "version.h"

#define ADMIN_MAX_CONNS 8
#define ADMIN_MAX_HEAD 16384u
#define ADMIN_MAX_BODY (64u << 10)
#define ADMIN_MAX_SYMBOL_BODY (4u << 20) /* pprof tools POST every address at once */
#define ADMIN_IO_TIMEOUT_S 10
#define ADMIN_STOP_WAIT_S 5

struct admin {
    const struct config *cfg;
    struct server *srv;
    struct pprof_env env;
    int lfd;
    int stop_pipe[2];
    pthread_t accept_tid;
    char *token; /* bearer token when the admin accepts remote clients */
    size_t token_len;
    double start_time_s;

    pthread_mutex_t mu;
    pthread_cond_t idle_cv; /* signalled when nconns drops */
    int conn_fds[ADMIN_MAX_CONNS];
    int nconns;
    bool stopping;
};

struct admin_conn {
    struct admin *a;
    int fd;
    int slot;
};

/* ---------- small helpers ---------- */

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(err, fmt, ap) < 0)
        *err = NULL;
    va_end(ap);
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void send_reply(int fd, const struct admin_reply *r, bool head_only)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                     "%sConnection: close\r\n\r\n",
                     r->status, status_text(r->status),
                     r->content_type ? r->content_type : "text/plain; charset=utf-8", r->body.len,
                     r->status == 401 ? "WWW-Authenticate: Bearer realm=\"refproxy\"\r\n" : "");
    if (write_all(fd, head, (size_t)n) < 0 || head_only || r->body.len == 0)
        return;
    write_all(fd, r->body.data, r->body.len);
}

/* ---------- /metrics ---------- */

/* The page: the process collector's families, refproxy's own, the
 * allocator's, then the data plane's and the tasks'. */
static void admin_write_metrics(struct admin *a, struct buf *out)
{
    process_metrics_write(out, a->start_time_s);

    process_metrics_head(out, "refproxy_info", "gauge",
                         "refproxy build and configuration; always 1.");
    buf_printf(out, "refproxy_info{version=\"%s\",architecture=\"%s\"} 1\n", SCALEPROF_VERSION,
               architecture_name(a->cfg->architecture));
    process_metrics_head(out, "refproxy_services", "gauge",
                         "Services in the loaded configuration.");
    buf_printf(out, "refproxy_services %zu\n", a->cfg->num_services);
    process_metrics_head(out, "refproxy_workers", "gauge", "Worker threads (shared architecture).");
    buf_printf(out, "refproxy_workers %u\n", a->cfg->workers);
    process_metrics_head(out, "refproxy_heap_profiling", "gauge",
                         "1 when the gperftools heap profiler is running (--heap-profile).");
    buf_printf(out, "refproxy_heap_profiling %d\n", profiling_heap_enabled() ? 1 : 0);
    process_metrics_head(out, "refproxy_cpu_profile_active", "gauge",
                         "1 while a /debug/pprof/profile window is open.");
    buf_printf(out, "refproxy_cpu_profile_active %d\n", pprof_cpu_profile_active());

    process_metrics_write_tcmalloc(out);
    if (a->srv)
        server_write_metrics(a->srv, out);
    tasks_write_metrics(out);
}

/* ---------- request handling ---------- */

static bool token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Constant time in the secret's content: always walk the full token. */
    volatile unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)((i < alen ? (unsigned char)a[i] : 0) ^ (unsigned char)b[i]);
    return diff == 0;
}

static bool authorized(const struct admin *a, const struct http_request *req)
{
    if (!a->token)
        return true;
    const struct http_field *f = http_find_field(req->fields, req->num_fields, "Authorization");
    if (!f || f->value_len < 7 || strncasecmp(f->value, "Bearer ", 7) != 0)
        return false;
    return token_equal(f->value + 7, f->value_len - 7, a->token, a->token_len);
}

static void route(struct admin *a, const struct pprof_request *pr, struct admin_reply *r)
{
    bool get = !strcmp(pr->method, "GET") || !strcmp(pr->method, "HEAD");
    if (!strcmp(pr->path, "/healthz")) {
        if (!get)
            admin_reply_text(r, 405, "method not allowed");
        else
            admin_reply_text(r, 200, "ok");
    } else if (!strcmp(pr->path, "/metrics")) {
        if (!get) {
            admin_reply_text(r, 405, "method not allowed");
            return;
        }
        r->status = 200;
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        admin_write_metrics(a, &r->body);
    } else if (!pprof_handle(&a->env, pr, r)) {
        admin_reply_text(r, 404, "not found: %s (see /debug/pprof/ for the endpoints)", pr->path);
    }
}

struct body_sink {
    struct buf *body;
    bool overflow;
};

static void body_append(void *arg, const char *data, size_t len)
{
    struct body_sink *s = arg;
    if (buf_append(s->body, data, len) < 0)
        s->overflow = true;
}

static ssize_t read_some(int fd, struct buf *in)
{
    if (buf_reserve(in, 4096) < 0)
        return -2;
    ssize_t n;
    do
        n = recv(fd, in->data + in->len, in->cap - in->len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        in->len += (size_t)n;
        in->data[in->len] = '\0';
    }
    return n;
}

/* Reads one request, handles it and writes the reply. */
static void serve_conn(struct admin *a, int fd)
{
    struct http_limits lim = {ADMIN_MAX_HEAD, 8192, HTTP_MAX_HEADERS};
    struct http_request req;
    struct admin_reply r = {.status = 500};
    struct buf in, body;
    buf_init(&in, ADMIN_MAX_HEAD + ADMIN_MAX_SYMBOL_BODY + 8192);
    buf_init(&body, ADMIN_MAX_SYMBOL_BODY);
    buf_init(&r.body, ADMIN_REPLY_MAX);
    char *method = NULL, *target = NULL;
    bool head_only = false;

    ssize_t head_len;
    for (;;) {
        head_len = http_parse_request(in.data ? in.data : "", in.len, &lim, &req);
        if (head_len != 0)
            break;
        ssize_t n = read_some(fd, &in);
        if (n == 0)
            goto out;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                admin_reply_text(&r, 408, "request head not received in time");
            else
                goto out;
            goto reply;
        }
    }
    if (head_len < 0) {
        admin_reply_text(&r, req.error_status, "%s", req.error_reason);
        goto reply;
    }
    method = strndup(req.method, req.method_len);
    target = strndup(req.target, req.target_len);
    if (!method || !target) {
        admin_reply_text(&r, 500, "out of memory");
        goto reply;
    }
    head_only = !strcmp(method, "HEAD");
    char *q = strchr(target, '?');
    bool symbol = strstr(target, "/symbol") != NULL;
    size_t max_body = symbol ? ADMIN_MAX_SYMBOL_BODY : ADMIN_MAX_BODY;

    if (!authorized(a, &req)) {
        admin_reply_text(&r, 401, "missing or wrong bearer token");
        goto reply;
    }
    if (req.body == HTTP_BODY_LENGTH && req.content_length > max_body) {
        admin_reply_text(&r, 413, "request body over %zu bytes", max_body);
        goto reply;
    }
    if (req.expect_continue && req.body != HTTP_BODY_NONE)
        write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);

    /* The body: what followed the head, then more reads. */
    size_t have = in.len - (size_t)head_len;
    if (req.body == HTTP_BODY_LENGTH) {
        while (have < req.content_length) {
            ssize_t n = read_some(fd, &in);
            if (n <= 0) {
                admin_reply_text(&r, 400, "request body incomplete");
                goto reply;
            }
            have += (size_t)n;
        }
        buf_append(&body, in.data + head_len, (size_t)req.content_length);
    } else if (req.body == HTTP_BODY_CHUNKED) {
        struct http_chunked ch;
        struct body_sink sink = {&body, false};
        http_chunked_init(&ch);
        size_t off = (size_t)head_len;
        for (;;) {
            ssize_t used = http_chunked_feed(&ch, in.data + off, in.len - off, body_append, &sink);
            if (used < 0) {
                admin_reply_text(&r, 400, "%s", ch.error_reason);
                goto reply;
            }
            if (sink.overflow) {
                admin_reply_text(&r, 413, "request body over %zu bytes", max_body);
                goto reply;
            }
            off += (size_t)used;
            if (ch.done)
                break;
            ssize_t n = read_some(fd, &in);
            if (n <= 0) {
                admin_reply_text(&r, n == -2 ? 413 : 400, "request body incomplete");
                goto reply;
            }
        }
    }

    if (q)
        *q++ = '\0';
    struct pprof_request pr = {method, target, q ? q : "", body.data ? body.data : "", body.len};
    route(a, &pr, &r);

reply:
    send_reply(fd, &r, head_only);
out:
    free(method);
    free(target);
    buf_free(&in);
    buf_free(&body);
    buf_free(&r.body);
}

static void *conn_main(void *p)
{
    struct admin_conn c = *(struct admin_conn *)p;
    free(p);
    serve_conn(c.a, c.fd);
    shutdown(c.fd, SHUT_WR);
    pthread_mutex_lock(&c.a->mu);
    c.a->conn_fds[c.slot] = -1;
    c.a->nconns--;
    close(c.fd);
    pthread_cond_broadcast(&c.a->idle_cv);
    pthread_mutex_unlock(&c.a->mu);
    return NULL;
}

static void reject_busy(int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 31\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                               "admin busy: too many requests\r\n";
    ssize_t w;
    do
        w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    close(fd);
}

/* Returns false when out of file descriptors: the caller backs off, since the
 * pending connection keeps the listener readable and poll() would spin. */
static bool accept_one(struct admin *a)
{
    int fd;
    do
        fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return !(errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM);

    struct timeval tv = {ADMIN_IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    pthread_mutex_lock(&a->mu);
    int slot = -1;
    for (int i = 0; i < ADMIN_MAX_CONNS && !a->stopping; i++)
        if (a->conn_fds[i] < 0) {
            slot = i;
            break;
        }
    struct admin_conn *c = slot >= 0 ? malloc(sizeof(*c)) : NULL;
    pthread_t tid;
    if (c) {
        *c = (struct admin_conn){a, fd, slot};
        a->conn_fds[slot] = fd;
        a->nconns++;
        if (thread_start(&tid, "admin/conn", 0, conn_main, c) == 0) {
            pthread_detach(tid);
            pthread_mutex_unlock(&a->mu);
            return true;
        }
        a->conn_fds[slot] = -1;
        a->nconns--;
        free(c);
    }
    pthread_mutex_unlock(&a->mu);
    reject_busy(fd);
    return true;
}

static void *accept_main(void *p)
{
    struct admin *a = p;
    struct pollfd pfd[2] = {{a->lfd, POLLIN, 0}, {a->stop_pipe[0], POLLIN, 0}};
    int timeout_ms = -1; /* 100 ms only while backing off from EMFILE */
    for (;;) {
        int n = poll(timeout_ms < 0 ? pfd : pfd + 1, timeout_ms < 0 ? 2 : 1, timeout_ms);
        if (n == 0) { /* back-off over: watch the listener again */
            timeout_ms = -1;
            continue;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            break;
        if (timeout_ms < 0 && (pfd[0].revents & POLLIN) && !accept_one(a))
            timeout_ms = 100;
    }
    return NULL;
}

/* ---------- start/stop ---------- */

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static int load_token(struct admin *a, const char *path, char **err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        set_err(err, "adminTokenFile %s: %s", path, strerror(errno));
        return -1;
    }
    char tok[512];
    size_t n = fread(tok, 1, sizeof(tok) - 1, f);
    fclose(f);
    while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
        n--;
    if (n < 16) {
        set_err(err, "adminTokenFile %s: the token must be at least 16 bytes", path);
        return -1;
    }
    a->token = malloc(n + 1);
    if (!a->token) {
        set_err(err, "out of memory");
        return -1;
    }
    memcpy(a->token, tok, n);
    a->token[n] = '\0';
    a->token_len = n;
    explicit_bzero(tok, sizeof(tok));
    return 0;
}

static void admin_free(struct admin *a)
{
    if (a->lfd >= 0)
        close(a->lfd);
    if (a->stop_pipe[0] >= 0) {
        close(a->stop_pipe[0]);
        close(a->stop_pipe[1]);
    }
    if (a->token) {
        explicit_bzero(a->token, a->token_len);
        free(a->token);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->idle_cv);
    free(a);
}

struct admin *admin_start(const struct config *cfg, struct server *srv, int argc, char **argv,
                          char **err)
{
    *err = NULL;
    struct admin *a = calloc(1, sizeof(*a));
    if (!a) {
        set_err(err, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->srv = srv;
    a->env = (struct pprof_env){cfg, argc, argv};
    a->lfd = -1;
    a->stop_pipe[0] = a->stop_pipe[1] = -1;
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        a->conn_fds[i] = -1;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    a->start_time_s = process_metrics_start_time();

    if (!is_loopback(&cfg->admin) && !cfg->admin_allow_remote) {
        set_err(err,
                "%s is not a loopback address; set adminAllowRemote: true and "
                "adminTokenFile to serve it remotely",
                cfg->admin_text);
        goto fail;
    }
    if (cfg->admin_allow_remote) {
        if (!cfg->admin_token_file) {
            set_err(err, "adminAllowRemote needs adminTokenFile (a bearer token)");
            goto fail;
        }
        if (load_token(a, cfg->admin_token_file, err) < 0)
            goto fail;
    }

    a->lfd = socket(cfg->admin.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (a->lfd < 0 || setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(a->lfd, (const struct sockaddr *)&cfg->admin, cfg->admin_len) < 0 ||
        listen(a->lfd, 64) < 0) {
        set_err(err, "cannot listen: %s", strerror(errno));
        goto fail;
    }
    if (pipe2(a->stop_pipe, O_CLOEXEC) < 0) {
        set_err(err, "pipe: %s", strerror(errno));
        goto fail;
    }
    pprof_open();
    int rc = thread_start(&a->accept_tid, "admin", 0, accept_main, a);
    if (rc) {
        set_err(err, "cannot start the admin thread: %s", strerror(rc));
        goto fail;
    }
    return a;
fail:
    admin_free(a);
    return NULL;
}

void admin_stop(struct admin *a)
{
    if (!a)
        return;
    ssize_t w;
    do
        w = write(a->stop_pipe[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(a->accept_tid, NULL);

    /* Wake the handlers: end a profile window, unblock reads and writes. */
    pprof_shutdown();
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        if (a->conn_fds[i] >= 0)
            shutdown(a->conn_fds[i], SHUT_RDWR);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ADMIN_STOP_WAIT_S;
    while (a->nconns > 0)
        if (pthread_cond_timedwait(&a->idle_cv, &a->mu, &deadline) == ETIMEDOUT)
            break;
    bool idle = a->nconns == 0;
    pthread_mutex_unlock(&a->mu);
    /* A handler stuck past the wait still points at a: leak rather than free under it. */
    if (idle)
        admin_free(a);
}

/* For tests: the bound port. */
int admin_port(const struct admin *a);
int admin_port(const struct admin *a)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(a->lfd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}
