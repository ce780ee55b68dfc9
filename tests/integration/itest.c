/* itest: process and HTTP helpers for the integration tests (see itest.h). */
#include "itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 32
static pid_t children[MAX_CHILDREN];
static bool atexit_done;

static void kill_all(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0)
            itest_kill(children[i]);
}

int itest_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

pid_t itest_spawn(char *const argv[], const char *log_path)
{
    if (!atexit_done) {
        atexit(kill_all);
        atexit_done = true;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] <= 0) {
            children[i] = pid;
            break;
        }
    }
    return pid;
}

static void forget(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

void itest_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    forget(pid);
}

int itest_signal_wait(pid_t pid, int sig, int timeout_ms)
{
    kill(pid, sig);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            forget(pid);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    itest_kill(pid);
    return -1;
}

int itest_connect(int port)
{
    return itest_connect_ip("127.0.0.1", port);
}

int itest_connect_ip(const char *ip, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

bool itest_wait_port(int port, pid_t child, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int fd = itest_connect(port);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        if (child > 0 && waitpid(child, NULL, WNOHANG) == child) {
            forget(child);
            return false;
        }
        usleep(10000);
    }
    return false;
}

int itest_write_all(int fd, const void *p, size_t n)
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

/* One reader: bytes beyond the current response stay for the next call. */
static char rbuf[1 << 17];
static size_t rstart, rend;

void itest_reader_reset(void)
{
    rstart = rend = 0;
}

static int fill(int fd)
{
    if (rstart == rend)
        rstart = rend = 0;
    if (rend == sizeof(rbuf)) {
        memmove(rbuf, rbuf + rstart, rend - rstart);
        rend -= rstart;
        rstart = 0;
        if (rend == sizeof(rbuf))
            return -1;
    }
    ssize_t n;
    do
        n = read(fd, rbuf + rend, sizeof(rbuf) - rend);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return (int)n - 1; /* -1 EOF, -2 error/timeout */
    rend += (size_t)n;
    return 0;
}

static int read_line(int fd, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(rbuf + rstart, '\n', rend - rstart);
        if (nl) {
            size_t len = (size_t)(nl - (rbuf + rstart));
            size_t copy = len < cap - 1 ? len : cap - 1;
            memcpy(out, rbuf + rstart, copy);
            if (copy && out[copy - 1] == '\r')
                copy--;
            out[copy] = '\0';
            rstart += len + 1;
            return 0;
        }
        if (fill(fd) < 0)
            return -1;
    }
}

static int append(struct itest_resp *r, size_t *cap, const char *p, size_t n)
{
    if (r->body_len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap : 4096);
        while (nc < r->body_len + n + 1)
            nc *= 2;
        char *b = realloc(r->body, nc);
        if (!b)
            return -1;
        r->body = b;
        *cap = nc;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

static int read_n(int fd, struct itest_resp *r, size_t *cap, unsigned long long n)
{
    while (n) {
        if (rstart == rend && fill(fd) < 0)
            return -1;
        size_t k = rend - rstart;
        if (k > n)
            k = (size_t)n;
        if (append(r, cap, rbuf + rstart, k) < 0)
            return -1;
        rstart += k;
        n -= k;
    }
    return 0;
}

int itest_read_response(int fd, bool is_head, struct itest_resp *r)
{
    memset(r, 0, sizeof(*r));
    char line[8192];
    size_t hcap = 0, hlen = 0, bcap = 0;
    unsigned long long clen = 0;
    bool has_len = false, chunked = false;
    for (;;) {
        if (read_line(fd, line, sizeof(line)) < 0)
            return -1;
        size_t n = strlen(line);
        if (hlen + n + 2 > hcap) {
            hcap = (hlen + n + 2) * 2;
            r->head = realloc(r->head, hcap);
        }
        memcpy(r->head + hlen, line, n);
        hlen += n;
        r->head[hlen++] = '\n';
        r->head[hlen] = '\0';
        if (!n) {
            if (r->status >= 100 && r->status < 200 && r->status != 101) {
                hlen = 0; /* interim response: read the final one */
                r->status = 0;
                continue;
            }
            break;
        }
        if (!r->status && !strncmp(line, "HTTP/1.", 7))
            r->status = atoi(line + 9);
        else if (!strncasecmp(line, "Content-Length:", 15)) {
            clen = strtoull(line + 15, NULL, 10);
            has_len = true;
        } else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line, "chunked"))
            chunked = true;
        else if (!strncasecmp(line, "Connection:", 11) && strcasestr(line, "close"))
            r->closed = true;
    }
    append(r, &bcap, "", 0);
    if (is_head || r->status == 204 || r->status == 304 || r->status == 101)
        return 0;
    if (chunked) {
        for (;;) {
            if (read_line(fd, line, sizeof(line)) < 0)
                return -1;
            unsigned long long sz = strtoull(line, NULL, 16);
            if (!sz) {
                while (read_line(fd, line, sizeof(line)) == 0 && line[0])
                    ;
                return 0;
            }
            if (read_n(fd, r, &bcap, sz) < 0 || read_line(fd, line, sizeof(line)) < 0)
                return -1;
        }
    }
    if (has_len)
        return read_n(fd, r, &bcap, clen);
    for (;;) { /* delimited by close */
        int rc = fill(fd);
        if (rc == -1)
            break;
        if (rc < 0)
            return -1;
        append(r, &bcap, rbuf + rstart, rend - rstart);
        rstart = rend;
    }
    r->closed = true;
    return 0;
}

void itest_resp_free(struct itest_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int itest_get(int port, const char *path, struct itest_resp *r)
{
    return itest_get_ip("127.0.0.1", port, path, r);
}

int itest_get_ip(const char *ip, int port, const char *path, struct itest_resp *r)
{
    memset(r, 0, sizeof(*r));
    int fd = itest_connect_ip(ip, port);
    if (fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test.local\r\n\r\n", path);
    itest_reader_reset();
    int rc = itest_write_all(fd, req, (size_t)n) == 0 ? itest_read_response(fd, false, r) : -1;
    close(fd);
    return rc < 0 ? -1 : r->status;
}
