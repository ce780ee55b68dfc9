/*
 * origin: a small HTTP/1.1 test origin for the integration tests, one thread
 * per connection, blocking I/O. Behaviour by path (substring match):
 *   /hdr       answers with the request head it received, verbatim
 *   /echo      answers with "<length> <fnv1a64 hex>" of the request body
 *   /gen?n=N   answers with N pattern bytes (Content-Length)
 *   /chunked   answers with a chunked body "alpha-beta-gamma"
 *   /slow?ms=N touches MARKER (if given) when the request arrives, sleeps N ms,
 *              then answers "slow done"
 *   /silent    reads the request and never answers
 *   /ws        answers 101 Switching Protocols, then echoes bytes until EOF
 *   /status?code=N answers status N (204, 304...) without a body; 304 carries
 *              Content-Length: 9 as a HEAD-like length that has no body
 *   HEAD       any HEAD request gets "Content-Length: 9" and no body
 *   /conns     answers with the number of connections accepted so far
 *   /stats     answers "OPEN INFLIGHT ACCEPTED": connections open now, /slow
 *              requests sleeping now, connections accepted so far
 *   /reset?n=N announces Content-Length 2N, sends N bytes, then resets (RST)
 *   /malformed answers with Content-Length and Transfer-Encoding together
 *              (a framing error) and keeps the connection open
 *   anything else: "origin ok"
 * Usage: origin PORT [UNIX_SOCKET_PATH [MARKER]]. Prints "ready" when listening.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static atomic_uint accepted;
static atomic_int open_conns, inflight;
static const char *marker;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

struct rd {
    int fd;
    char buf[65536];
    size_t start, end;
};

static int rd_fill(struct rd *r)
{
    if (r->start == r->end)
        r->start = r->end = 0;
    if (r->end == sizeof(r->buf)) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    ssize_t n;
    do
        n = read(r->fd, r->buf + r->end, sizeof(r->buf) - r->end);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    r->end += (size_t)n;
    return 0;
}

/* Reads a line (without CRLF) into out; -1 on EOF. */
static int rd_line(struct rd *r, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            size_t len = (size_t)(nl - (r->buf + r->start));
            size_t copy = len < cap - 1 ? len : cap - 1;
            memcpy(out, r->buf + r->start, copy);
            if (copy && out[copy - 1] == '\r')
                copy--;
            out[copy] = '\0';
            r->start += len + 1;
            return 0;
        }
        if (rd_fill(r) < 0)
            return -1;
    }
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* Consumes n body bytes, hashing them. */
static int rd_body(struct rd *r, uint64_t n, uint64_t *hash)
{
    while (n) {
        if (r->start == r->end && rd_fill(r) < 0)
            return -1;
        size_t k = r->end - r->start;
        if (k > n)
            k = (size_t)n;
        *hash = fnv(*hash, r->buf + r->start, k);
        r->start += k;
        n -= k;
    }
    return 0;
}

static void respond(int fd, int status, const char *extra, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
                     len, extra ? extra : "");
    write_all(fd, head, (size_t)n);
    write_all(fd, body, len);
}

static void *serve(void *arg)
{
    struct rd *r = calloc(1, sizeof(*r));
    r->fd = (int)(intptr_t)arg;
    char line[8192], head[70000];
    for (;;) {
        char reqline[8192];
        if (rd_line(r, reqline, sizeof(reqline)) < 0)
            break;
        size_t hl = (size_t)snprintf(head, sizeof(head), "%s\n", reqline);
        uint64_t clen = 0;
        int chunked = 0, close_after = 0;
        for (;;) {
            if (rd_line(r, line, sizeof(line)) < 0)
                goto out;
            if (!line[0])
                break;
            if (hl < sizeof(head) - 1)
                hl += (size_t)snprintf(head + hl, sizeof(head) - hl, "%s\n", line);
            if (!strncasecmp(line, "Content-Length:", 15))
                clen = strtoull(line + 15, NULL, 10);
            if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line, "chunked"))
                chunked = 1;
            if (!strncasecmp(line, "Connection:", 11) && strstr(line, "close"))
                close_after = 1;
        }
        uint64_t hash = 14695981039346656037ull, total = 0;
        if (chunked) {
            for (;;) {
                if (rd_line(r, line, sizeof(line)) < 0)
                    goto out;
                uint64_t sz = strtoull(line, NULL, 16);
                if (!sz) {
                    while (rd_line(r, line, sizeof(line)) == 0 && line[0])
                        ;
                    break;
                }
                if (rd_body(r, sz, &hash) < 0 || rd_line(r, line, sizeof(line)) < 0)
                    goto out;
                total += sz;
            }
        } else if (clen) {
            if (rd_body(r, clen, &hash) < 0)
                goto out;
            total = clen;
        }
        char body[128];
        if (!strncmp(reqline, "HEAD ", 5)) {
            const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
            write_all(r->fd, resp, strlen(resp));
        } else if (strstr(reqline, "/status?code=")) {
            int code = atoi(strstr(reqline, "/status?code=") + 13);
            int n = snprintf(body, sizeof(body), "HTTP/1.1 %d X\r\n%s\r\n", code,
                             code == 304 ? "Content-Length: 9\r\n" : "");
            write_all(r->fd, body, (size_t)n);
        } else if (strstr(reqline, "/hdr")) {
            respond(r->fd, 200, NULL, head, hl);
        } else if (strstr(reqline, "/echo")) {
            int n = snprintf(body, sizeof(body), "%" PRIu64 " %016" PRIx64, total, hash);
            respond(r->fd, 200, NULL, body, (size_t)n);
        } else if (strstr(reqline, "/gen?n=")) {
            uint64_t n = strtoull(strstr(reqline, "/gen?n=") + 7, NULL, 10);
            char h[128];
            int k =
                snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %" PRIu64 "\r\n\r\n", n);
            write_all(r->fd, h, (size_t)k);
            char blk[65536];
            for (size_t i = 0; i < sizeof(blk); i++)
                blk[i] = (char)('a' + i % 26);
            while (n) {
                size_t m = n < sizeof(blk) ? (size_t)n : sizeof(blk);
                if (write_all(r->fd, blk, m) < 0)
                    goto out;
                n -= m;
            }
        } else if (strstr(reqline, "/chunked")) {
            const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "6\r\nalpha-\r\n5\r\nbeta-\r\n5\r\ngamma\r\n0\r\n\r\n";
            write_all(r->fd, resp, strlen(resp));
        } else if (strstr(reqline, "/slow?ms=")) {
            long ms = atol(strstr(reqline, "/slow?ms=") + 9);
            if (marker) {
                FILE *f = fopen(marker, "w");
                if (f)
                    fclose(f);
            }
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            atomic_fetch_add(&inflight, 1);
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
            atomic_fetch_sub(&inflight, 1);
            respond(r->fd, 200, NULL, "slow done", 9);
        } else if (strstr(reqline, "/silent")) {
            while (rd_fill(r) == 0)
                r->start = r->end;
            break;
        } else if (strstr(reqline, "/ws")) {
            const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n\r\n";
            write_all(r->fd, resp, strlen(resp));
            for (;;) {
                if (r->start == r->end && rd_fill(r) < 0)
                    break;
                if (write_all(r->fd, r->buf + r->start, r->end - r->start) < 0)
                    break;
                r->start = r->end;
            }
            break;
        } else if (strstr(reqline, "/stats")) {
            int n = snprintf(body, sizeof(body), "%d %d %u", atomic_load(&open_conns),
                             atomic_load(&inflight), atomic_load(&accepted));
            respond(r->fd, 200, NULL, body, (size_t)n);
        } else if (strstr(reqline, "/reset?n=")) {
            uint64_t n = strtoull(strstr(reqline, "/reset?n=") + 9, NULL, 10);
            char h[128], blk[4096];
            int k = snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %" PRIu64 "\r\n\r\n",
                             2 * n);
            write_all(r->fd, h, (size_t)k);
            memset(blk, 'r', sizeof(blk));
            for (uint64_t left = n; left;) {
                size_t m = left < sizeof(blk) ? (size_t)left : sizeof(blk);
                if (write_all(r->fd, blk, m) < 0)
                    break;
                left -= m;
            }
            struct linger lg = {1, 0}; /* close with RST, not FIN */
            setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            break;
        } else if (strstr(reqline, "/malformed")) {
            const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
            write_all(r->fd, resp, strlen(resp));
        } else if (strstr(reqline, "/conns")) {
            int n = snprintf(body, sizeof(body), "%u", atomic_load(&accepted));
            respond(r->fd, 200, NULL, body, (size_t)n);
        } else {
            respond(r->fd, 200, NULL, "origin ok", 9);
        }
        if (close_after)
            break;
    }
out:
    close(r->fd);
    atomic_fetch_sub(&open_conns, 1);
    free(r);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        atomic_fetch_add(&accepted, 1);
        atomic_fetch_add(&open_conns, 1);
        /* head and body go out in two writes: no Nagle delay between them */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* Small stacks: the load tests hold thousands of connections. */
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 1024 * 1024);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&open_conns, 1);
        }
        pthread_attr_destroy(&at);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: origin PORT [UNIX_SOCKET_PATH [MARKER]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
        perror("origin: bind");
        return 1;
    }
    if (argc >= 3 && argv[2][0]) {
        int ufd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un su = {.sun_family = AF_UNIX};
        snprintf(su.sun_path, sizeof(su.sun_path), "%s", argv[2]);
        unlink(argv[2]);
        if (bind(ufd, (struct sockaddr *)&su, sizeof(su)) < 0 || listen(ufd, 512) < 0) {
            perror("origin: unix bind");
            return 1;
        }
        pthread_t t;
        pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)ufd);
    }
    if (argc >= 4)
        marker = argv[3];
    printf("ready\n");
    fflush(stdout);
    accept_loop((void *)(intptr_t)lfd);
    return 0;
}
