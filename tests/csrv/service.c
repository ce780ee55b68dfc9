/*
 * service: a csrv service thread (see service.h). One poll() loop per thread
 * serves the port and keeps the tick: the shape of a per-service "node" whose
 * background work runs on a timer beside its listener.
 */
#include "service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX 8192
/* A client that connects and says nothing holds its service this long at most. */
#define READ_TIMEOUT_MS 200
#define THREAD_STACK (256 * 1024)

int service_listen(struct service *s, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errlen, "service '%s': listen on 127.0.0.1:%d: %s", s->cfg->name,
                 s->cfg->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    s->listen_fd = fd;
    return 0;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request head (bounded in size and time) and answers it; GET gets 200. */
static void answer(struct service *s, int fd)
{
    struct timeval tv = {0, READ_TIMEOUT_MS * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[REQUEST_MAX + 1];
    size_t got = 0;
    bool complete = false;
    while (got < REQUEST_MAX && !complete) {
        ssize_t n = recv(fd, req + got, REQUEST_MAX - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
        complete = strstr(req, "\r\n\r\n") || strstr(req, "\n\n");
    }
    if (got == 0)
        return; /* a readiness probe: connected and closed */
    char body[128], head[256];
    int status = !complete ? 400 : !strncmp(req, "GET ", 4) ? 200 : 405;
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                                         : "Method Not Allowed";
    int blen = snprintf(body, sizeof body, "csrv %s %d\n", s->cfg->name, status);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                        "%sConnection: close\r\n\r\n",
                        status, reason, blen, status == 405 ? "Allow: GET\r\n" : "");
    send_all(fd, head, (size_t)hlen);
    send_all(fd, body, (size_t)blen);
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *service_run(void *arg)
{
    struct service *s = arg;
    long long next = now_ms() + s->interval_ms;
    for (;;) {
        long long wait = next - now_ms();
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        int r = poll(&p, 1, wait > 0 ? (int)wait : 0);
        if (r > 0) {
            int fd;
            while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                answer(s, fd);
                close(fd);
            }
        }
        long long now = now_ms();
        if (now < next)
            continue;
        s->sink += service_digest(s->work, s->index);
        s->sink += peers_compare(s->work, s->index);
        /* a late tick is not made up in a burst: the load stays per interval */
        next += s->interval_ms;
        if (next <= now)
            next = now + s->interval_ms;
    }
    return NULL;
}

int service_start(struct service *s)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    int rc = pthread_create(&s->thread, &attr, service_run, s);
    pthread_attr_destroy(&attr);
    if (rc == 0) {
        char name[16];
        snprintf(name, sizeof name, "svc%zu", s->index);
        pthread_setname_np(s->thread, name);
    }
    return rc;
}
