/* ready: readiness of a target by its admin endpoint or by its service ports. See ready.h. */
#include "ready.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"

void ready_init(struct ready *r, const char *admin, char *const *listen, size_t num_listen)
{
    *r = (struct ready){.admin = admin, .listen = listen, .num_listen = num_listen};
}

static bool http_ok(struct ready *r, const char *path, long timeout_ms)
{
    char url[320], err[CURL_ERROR_SIZE + 256];
    long status = 0;
    snprintf(url, sizeof url, "http://%s%s", r->admin, path);
    if (fetch_get(url, timeout_ms, (size_t)1 << 20, NULL, &status, err, sizeof err) < 0) {
        snprintf(r->last, sizeof r->last, "%.150s", err);
        return false;
    }
    if (status != 200)
        snprintf(r->last, sizeof r->last, "%s answered HTTP %ld", path, status);
    return status == 200;
}

/* Connects to host:port and closes at once. 0 when it accepted; -1 with r->last set. */
static int port_accepts(struct ready *r, const char *addr, long timeout_ms)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hlen = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hlen == 0 || hlen >= sizeof host) {
        snprintf(r->last, sizeof r->last, "%s: not host:port", addr);
        return -1;
    }
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && host[hlen - 1] == ']') { /* [v6] */
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(r->last, sizeof r->last, "%s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int result = -1, error = errno;
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        result = 0;
    } else if (fd >= 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        socklen_t len = sizeof error;
        if (poll(&p, 1, (int)timeout_ms) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0)
            result = 0;
        else if (error == 0)
            error = ETIMEDOUT;
    } else {
        error = errno;
    }
    if (result < 0)
        snprintf(r->last, sizeof r->last, "%s: %s", addr, strerror(error));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return result;
}

bool ready_probe(struct ready *r, long timeout_ms)
{
    if (r->admin) /* no /healthz: a pprof index that answers is ready enough */
        return http_ok(r, "/healthz", timeout_ms) || http_ok(r, "/debug/pprof/", timeout_ms);
    while (r->accepted < r->num_listen) {
        const char *addr = r->listen[r->accepted];
        if (addr && port_accepts(r, addr, timeout_ms) < 0)
            return false;
        r->accepted++;
    }
    return true;
}

void ready_describe(const struct ready *r, char *buf, size_t size)
{
    if (r->admin)
        snprintf(buf, size, "http://%s/healthz (never answered 200%s%s)", r->admin,
                 *r->last ? "; last: " : "", r->last);
    else
        snprintf(buf, size, "every service port to accept connections (%zu of %zu did%s%s)",
                 r->accepted, r->num_listen, *r->last ? "; " : "", r->last);
}
