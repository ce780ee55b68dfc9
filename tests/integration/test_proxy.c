/*
 * test_proxy: refproxy end to end. Starts tests/integration/origin and a
 * refproxy in front of it on free loopback ports (config in a temp dir) and
 * checks the behaviours of issue 2: bodies both ways, streaming, keep-alive
 * reuse, 502/504/431, WebSocket tunnelling, prefixes, unix-socket upstreams,
 * 1000 services, and SIGTERM letting a slow response finish.
 * Usage: test_proxy REFPROXY ORIGIN
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/tcp.h> /* glibc's tcp_info lacks tcpi_notsent_bytes */
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"

static const char *refproxy_bin, *origin_bin;
static char dir[256];
static int origin_port, admin_port;
static int p_front, p_pfx, p_unix, p_down, p_silent, p_respond, p_bigresp;
/* the body of the bigresp service: larger than the socket buffers of a slow client */
#define BIG_RESPOND_BYTES (512u << 10)
static pid_t origin_pid, proxy_pid;
static char origin_sock[300], marker[300];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Byte i of the bigresp body: a position-dependent pattern, so a byte out of
 * place or a repeated stretch shows. */
static char big_byte(size_t i)
{
    return "0123456789abcdefghijklmnopqrstuv"[(i ^ (i >> 5) ^ (i >> 11)) & 31];
}

static pid_t start_refproxy(const char *config, int ready_port, const char *log)
{
    char *argv[] = {(char *)refproxy_bin, "--config", (char *)config, NULL};
    pid_t pid = itest_spawn(argv, log);
    if (pid < 0 || !itest_wait_port(ready_port, pid, 10000))
        return -1;
    return pid;
}

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "/tmp/refproxy-itest-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(origin_sock, sizeof(origin_sock), "%s/origin.sock", dir);
    snprintf(marker, sizeof(marker), "%s/slow.marker", dir);
    origin_port = itest_free_port();
    char port[16], log[300];
    snprintf(port, sizeof(port), "%d", origin_port);
    snprintf(log, sizeof(log), "%s/origin.log", dir);
    char *oargv[] = {(char *)origin_bin, port, origin_sock, marker, NULL};
    origin_pid = itest_spawn(oargv, log);
    if (origin_pid < 0 || !itest_wait_port(origin_port, origin_pid, 5000))
        return -1;

    admin_port = itest_free_port();
    p_front = itest_free_port(), p_pfx = itest_free_port(), p_unix = itest_free_port();
    p_down = itest_free_port(), p_silent = itest_free_port(), p_respond = itest_free_port();
    p_bigresp = itest_free_port();
    int dead_port = itest_free_port(); /* nothing listens there */
    size_t cap = 4096 + BIG_RESPOND_BYTES;
    char *cfg = malloc(cap), path[300];
    if (!cfg)
        return -1;
    int len = snprintf(
        cfg, cap,
        "prometheusAddr: \"127.0.0.1:%d\"\n"
        "limits: {upstreamIdlePerService: 4, shutdownGrace: 5s}\n"
        "services:\n"
        "  - {name: front, listenAddr: \"127.0.0.1:%d\", upstream: \"http://127.0.0.1:%d\",\n"
        "     upstreamHeaders: {X-Up: yes}}\n"
        "  - {name: pfx, listenAddr: \"127.0.0.1:%d\", upstream: \"http://127.0.0.1:%d/base\",\n"
        "     prefixes: [\"/api/\"], stripPrefix: true}\n"
        "  - {name: unixsvc, listenAddr: \"127.0.0.1:%d\", upstreamUnixAddr: \"%s\"}\n"
        "  - {name: down, listenAddr: \"127.0.0.1:%d\", upstream: \"http://127.0.0.1:%d\"}\n"
        "  - {name: silent, listenAddr: \"127.0.0.1:%d\", upstream: \"http://127.0.0.1:%d\",\n"
        "     timeout: 300ms}\n"
        "  - {name: resp, listenAddr: \"127.0.0.1:%d\",\n"
        "     respond: {status: 200, body: \"fixed\", headers: {X-R: one}}}\n",
        admin_port, p_front, origin_port, p_pfx, origin_port, p_unix, origin_sock, p_down,
        dead_port, p_silent, origin_port, p_respond);
    len +=
        snprintf(cfg + len, cap - (size_t)len,
                 "  - {name: bigresp, listenAddr: \"127.0.0.1:%d\", respond: {body: \"", p_bigresp);
    for (size_t i = 0; i < BIG_RESPOND_BYTES; i++)
        cfg[len++] = big_byte(i);
    snprintf(cfg + len, cap - (size_t)len, "\"}}\n");
    snprintf(path, sizeof(path), "%s/proxy.yaml", dir);
    write_file(path, cfg);
    free(cfg);
    snprintf(log, sizeof(log), "%s/proxy.log", dir);
    proxy_pid = start_refproxy(path, p_respond, log);
    return proxy_pid < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    itest_kill(proxy_pid);
    itest_kill(origin_pid);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static void test_get_forwards_with_x_forwarded_and_strips_hop_by_hop(void **state)
{
    int fd = itest_connect(p_front);
    assert_true(fd >= 0);
    const char *req = "GET /hdr?q=1 HTTP/1.1\r\nHost: client.example\r\n"
                      "Connection: keep-alive, X-Drop\r\nX-Drop: secret\r\nKeep-Alive: 5\r\n"
                      "X-Keep: kept\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n";
    itest_reader_reset();
    assert_int_equal(itest_write_all(fd, req, strlen(req)), 0);
    struct itest_resp r;
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 200);
    char want_host[64];
    snprintf(want_host, sizeof(want_host), "Host: 127.0.0.1:%d\n", origin_port);
    assert_non_null(strstr(r.body, "GET /hdr?q=1 HTTP/1.1\n"));
    assert_non_null(strstr(r.body, want_host));
    assert_non_null(strstr(r.body, "X-Keep: kept\n"));
    assert_non_null(strstr(r.body, "X-Forwarded-For: 10.0.0.1, 127.0.0.1\n"));
    assert_non_null(strstr(r.body, "X-Forwarded-Proto: http\n"));
    assert_non_null(strstr(r.body, "X-Forwarded-Host: client.example\n"));
    assert_non_null(strstr(r.body, "X-Up: yes\n"));
    assert_null(strstr(r.body, "X-Drop"));
    assert_null(strstr(r.body, "Keep-Alive"));
    assert_false(r.closed);
    itest_resp_free(&r);
    /* without an X-Forwarded-For of its own, the client's address is the whole list */
    const char *plain = "GET /hdr HTTP/1.1\r\nHost: client.example\r\n\r\n";
    assert_int_equal(itest_write_all(fd, plain, strlen(plain)), 0);
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nX-Forwarded-For: 127.0.0.1\n"));
    itest_resp_free(&r);
    close(fd);
}

static void test_post_content_length_and_chunked_bodies_reach_origin(void **state)
{
    const char *body = "hello, origin";
    uint64_t h = fnv(14695981039346656037ull, body, strlen(body));
    char want[64];
    snprintf(want, sizeof(want), "%zu %016" PRIx64, strlen(body), h);
    int fd = itest_connect(p_front);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    itest_reader_reset();
    assert_int_equal(itest_write_all(fd, req, (size_t)n), 0);
    struct itest_resp r;
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    itest_resp_free(&r);
    /* same connection, chunked this time, split into three chunks */
    const char *creq = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n2\r\n, \r\n6;ext=1\r\norigin\r\n0\r\n\r\n";
    assert_int_equal(itest_write_all(fd, creq, strlen(creq)), 0);
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    itest_resp_free(&r);
    close(fd);
}

static void test_chunked_response_is_relayed(void **state)
{
    struct itest_resp r;
    assert_int_equal(itest_get(p_front, "/chunked", &r), 200);
    assert_string_equal(r.body, "alpha-beta-gamma");
    assert_non_null(strstr(r.head, "Transfer-Encoding: chunked"));
    itest_resp_free(&r);
}

static long rss_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

/* The body of the origin's /gen?n=TOTAL: TOTAL bytes of its pattern, sampled. */
static void assert_gen_body(const struct itest_resp *r, size_t total)
{
    assert_int_equal(r->body_len, total);
    for (size_t i = 0; i < total; i += 4099)
        assert_int_equal(r->body[i], (char)('a' + (i % 65536) % 26));
}

static void test_64mib_upload_and_download_stream_with_bounded_memory(void **state)
{
    const size_t total = 64u << 20;
    static char blk[65536];
    for (size_t i = 0; i < sizeof(blk); i++)
        blk[i] = (char)(i * 7 + 3);
    uint64_t h = 14695981039346656037ull;
    for (size_t off = 0; off < total; off += sizeof(blk))
        h = fnv(h, blk, sizeof(blk));
    int fd = itest_connect(p_front);
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n", total);
    assert_int_equal(itest_write_all(fd, req, (size_t)n), 0);
    for (size_t off = 0; off < total; off += sizeof(blk))
        assert_int_equal(itest_write_all(fd, blk, sizeof(blk)), 0);
    struct itest_resp r;
    itest_reader_reset();
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    char want[64];
    snprintf(want, sizeof(want), "%zu %016" PRIx64, total, h);
    assert_string_equal(r.body, want);
    itest_resp_free(&r);

    /* download: the origin's pattern, checksummed here */
    n = snprintf(req, sizeof(req), "GET /gen?n=%zu HTTP/1.1\r\nHost: a\r\n\r\n", total);
    assert_int_equal(itest_write_all(fd, req, (size_t)n), 0);
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_gen_body(&r, total);
    itest_resp_free(&r);
    close(fd);
    /* A proxy that buffered a whole body would have peaked above 64 MiB. */
    long hwm = rss_hwm_kb(proxy_pid);
    assert_true(hwm > 0);
    assert_true(hwm < 32 * 1024);
}

static unsigned origin_conns(void)
{
    struct itest_resp r;
    char path[32];
    snprintf(path, sizeof(path), "/conns");
    int fd = itest_connect(origin_port);
    const char *req = "GET /conns HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n";
    itest_reader_reset();
    itest_write_all(fd, req, strlen(req));
    unsigned n = 0;
    if (itest_read_response(fd, false, &r) == 0)
        n = (unsigned)atoi(r.body);
    itest_resp_free(&r);
    close(fd);
    return n;
}

static void test_keep_alive_reuses_pooled_upstream_connections(void **state)
{
    struct itest_resp r;
    assert_int_equal(itest_get(p_front, "/warm", &r), 200); /* one pooled connection exists */
    itest_resp_free(&r);
    unsigned before = origin_conns();
    /* 30 requests on one client connection, then 20 on fresh client connections */
    int fd = itest_connect(p_front);
    itest_reader_reset();
    for (int i = 0; i < 30; i++) {
        const char *req = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_int_equal(itest_write_all(fd, req, strlen(req)), 0);
        assert_int_equal(itest_read_response(fd, false, &r), 0);
        assert_string_equal(r.body, "origin ok");
        itest_resp_free(&r);
    }
    close(fd);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(itest_get(p_front, "/y", &r), 200);
        itest_resp_free(&r);
    }
    unsigned after = origin_conns();
    /* +1 for the /conns probe itself; sequential requests reuse the pooled one */
    assert_int_equal(after - before, 1);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    int fd = itest_connect(p_front);
    const char *reqs = "GET /a1 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                       "GET /hdr HTTP/1.1\r\nHost: a\r\n\r\n";
    itest_reader_reset();
    assert_int_equal(itest_write_all(fd, reqs, strlen(reqs)), 0);
    struct itest_resp r;
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_string_equal(r.body, "origin ok");
    itest_resp_free(&r);
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(strncmp(r.body, "3 ", 2), 0);
    itest_resp_free(&r);
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_non_null(strstr(r.body, "GET /hdr HTTP/1.1"));
    itest_resp_free(&r);
    close(fd);
}

static void test_upstream_down_gives_502(void **state)
{
    struct itest_resp r;
    assert_int_equal(itest_get(p_down, "/", &r), 502);
    itest_resp_free(&r);
}

static void test_silent_upstream_gives_504_after_timeout(void **state)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct itest_resp r;
    assert_int_equal(itest_get(p_silent, "/silent", &r), 504);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 290); /* the configured 300 ms, not earlier */
    itest_resp_free(&r);
}

static void test_70kib_header_gives_431_and_other_connections_survive(void **state)
{
    int other = itest_connect(p_front); /* open before the bad request */
    int fd = itest_connect(p_front);
    enum { big = 70 * 1024 };
    static char req[big + 128];
    int n = sprintf(req, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(req + n, 'x', big);
    memcpy(req + n + big, "\r\n\r\n", 5);
    itest_write_all(fd, req, (size_t)n + big + 4); /* may fail once refproxy closes */
    struct itest_resp r;
    itest_reader_reset();
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 431);
    assert_true(r.closed);
    itest_resp_free(&r);
    close(fd);
    const char *ok = "GET /still HTTP/1.1\r\nHost: a\r\n\r\n";
    itest_reader_reset();
    assert_int_equal(itest_write_all(other, ok, strlen(ok)), 0);
    assert_int_equal(itest_read_response(other, false, &r), 0);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    close(other);
}

static void test_bad_request_gets_parser_status_and_close(void **state)
{
    int fd = itest_connect(p_front);
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n";
    itest_reader_reset();
    assert_int_equal(itest_write_all(fd, req, strlen(req)), 0);
    struct itest_resp r;
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 400);
    assert_true(r.closed);
    itest_resp_free(&r);
    close(fd);
}

static void test_websocket_upgrade_tunnels_both_ways(void **state)
{
    int fd = itest_connect(p_front);
    const char *req =
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    itest_reader_reset();
    assert_int_equal(itest_write_all(fd, req, strlen(req)), 0);
    struct itest_resp r;
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_int_equal(r.status, 101);
    assert_non_null(strstr(r.head, "Upgrade: websocket"));
    itest_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        char msg[32], got[32];
        int n = snprintf(msg, sizeof(msg), "frame-%d", i);
        assert_int_equal(itest_write_all(fd, msg, (size_t)n), 0);
        int have = 0;
        while (have < n) {
            ssize_t k = read(fd, got + have, (size_t)(n - have));
            assert_true(k > 0);
            have += (int)k;
        }
        assert_memory_equal(got, msg, (size_t)n);
    }
    close(fd);
}

static void test_prefix_is_matched_and_stripped(void **state)
{
    struct itest_resp r;
    assert_int_equal(itest_get(p_pfx, "/api/hdr?x=1", &r), 200);
    assert_non_null(strstr(r.body, "GET /base/hdr?x=1 HTTP/1.1\n"));
    itest_resp_free(&r);
    assert_int_equal(itest_get(p_pfx, "/other/hdr", &r), 404);
    itest_resp_free(&r);
}

static void test_unix_socket_upstream(void **state)
{
    struct itest_resp r;
    assert_int_equal(itest_get(p_unix, "/hdr", &r), 200);
    assert_non_null(strstr(r.body, "GET /hdr HTTP/1.1\n"));
    itest_resp_free(&r);
}

static void test_respond_service_answers_directly(void **state)
{
    struct itest_resp r;
    assert_int_equal(itest_get(p_respond, "/anything", &r), 200);
    assert_string_equal(r.body, "fixed");
    assert_non_null(strstr(r.head, "X-R: one"));
    itest_resp_free(&r);
}

/* Answers made from one batch of events leave together (conn.c defers client
 * writes to the end of the loop iteration): eight pipelined requests that
 * arrive in one segment are answered in one segment, not eight. */
static void test_pipelined_answers_leave_in_one_write(void **state)
{
    enum { K = 8 };
    int fd = itest_connect(p_respond);
    assert_true(fd >= 0);
    char reqs[K * 64];
    size_t len = 0;
    for (int i = 0; i < K; i++)
        len += (size_t)snprintf(reqs + len, sizeof(reqs) - len,
                                "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
    assert_int_equal(itest_write_all(fd, reqs, len), 0);
    struct itest_resp r;
    itest_reader_reset();
    for (int i = 0; i < K; i++) {
        assert_int_equal(itest_read_response(fd, false, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "fixed");
        itest_resp_free(&r);
    }
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    assert_int_equal(ti.tcpi_data_segs_in, 1);
    close(fd);
}

/* A loopback connection to port whose 16 KiB receive buffer makes the client
 * fall behind a large response. */
static int connect_slow_reader(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int rcv = 16384;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void assert_big_body(const struct itest_resp *r)
{
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, BIG_RESPOND_BYTES);
    for (size_t i = 0; i < BIG_RESPOND_BYTES; i++)
        if (r->body[i] != big_byte(i))
            fail_msg("respond body byte %zu is '%c', not '%c'", i, r->body[i], big_byte(i));
}

/* A respond body goes out from the config after its head. Requests pipelined
 * behind it (a HEAD and another GET) wait their turn: every byte arrives, in
 * order, while the client reads slowly through a small receive buffer. */
static void test_large_respond_body_stays_ahead_of_pipelined_answers(void **state)
{
    int fd = connect_slow_reader(p_bigresp);
    const char *reqs = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "HEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(itest_write_all(fd, reqs, strlen(reqs)), 0);
    usleep(100000); /* refproxy fills the client's window and has to wait */
    struct itest_resp r;
    itest_reader_reset();
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_big_body(&r);
    itest_resp_free(&r);
    assert_int_equal(itest_read_response(fd, true, &r), 0);
    assert_int_equal(r.status, 200);
    char want[64];
    snprintf(want, sizeof(want), "Content-Length: %u", BIG_RESPOND_BYTES);
    const char *cl = strstr(r.head, want);
    if (!cl || (cl[strlen(want)] >= '0' && cl[strlen(want)] <= '9'))
        fail_msg("HEAD answer without \"%s\": %s", want, r.head);
    assert_int_equal(r.body_len, 0);
    itest_resp_free(&r);
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_big_body(&r);
    itest_resp_free(&r);
    close(fd);
}

static void test_1000_services_each_answer_with_their_own_body(void **state)
{
    enum { N = 1000 };
    /* One free port, a loopback address per service (127.1.x.y): no port races. */
    int port = itest_free_port();
    size_t cap = (size_t)N * 160 + 256;
    char *cfg = malloc(cap);
    int apt = itest_free_port();
    size_t len = (size_t)snprintf(cfg, cap, "prometheusAddr: \"127.0.0.1:%d\"\nservices:\n", apt);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(cfg + len, cap - len,
                                "  - {name: s%d, listenAddr: \"127.1.%d.%d:%d\", "
                                "respond: {body: \"body-of-%d\"}}\n",
                                i, i / 250, i % 250 + 1, port, i);
    char path[300], log[300];
    snprintf(path, sizeof(path), "%s/many.yaml", dir);
    snprintf(log, sizeof(log), "%s/many.log", dir);
    write_file(path, cfg);
    free(cfg);
    pid_t pid = start_refproxy(path, apt, log); /* admin starts after every listener */
    assert_true(pid > 0);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        struct itest_resp r;
        char want[32], ip[32];
        snprintf(want, sizeof(want), "body-of-%d", i);
        snprintf(ip, sizeof(ip), "127.1.%d.%d", i / 250, i % 250 + 1);
        if (itest_get_ip(ip, port, "/", &r) != 200 || strcmp(r.body, want))
            bad++;
        itest_resp_free(&r);
    }
    itest_kill(pid);
    assert_int_equal(bad, 0);
}

static void test_sigterm_lets_slow_response_finish(void **state)
{
    int port = itest_free_port(), apt = itest_free_port();
    char cfg[512], path[300], log[300];
    snprintf(cfg, sizeof(cfg),
             "prometheusAddr: \"127.0.0.1:%d\"\nlimits: {shutdownGrace: 5s}\nservices:\n"
             "  - {name: slow, listenAddr: \"127.0.0.1:%d\", upstream: \"http://127.0.0.1:%d\"}\n",
             apt, port, origin_port);
    snprintf(path, sizeof(path), "%s/slow.yaml", dir);
    snprintf(log, sizeof(log), "%s/slow.log", dir);
    write_file(path, cfg);
    unlink(marker);
    pid_t pid = start_refproxy(path, port, log);
    assert_true(pid > 0);
    int fd = itest_connect(port);
    const char *req = "GET /slow?ms=700 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(itest_write_all(fd, req, strlen(req)), 0);
    /* readiness: the origin touches the marker when the request reaches it */
    struct stat st;
    for (int i = 0; i < 500 && stat(marker, &st) < 0; i++)
        usleep(10000);
    assert_int_equal(stat(marker, &st), 0);
    kill(pid, SIGTERM);
    struct itest_resp r;
    itest_reader_reset();
    int rc = itest_read_response(fd, false, &r);
    close(fd);
    int status = itest_signal_wait(pid, 0, 6000); /* already signalled: just wait */
    assert_int_equal(rc, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow done");
    assert_true(r.closed); /* drain: the response says Connection: close */
    itest_resp_free(&r);
    assert_int_equal(status, 0);
    assert_true(itest_connect(port) < 0); /* no longer accepting */
}

/* A client that stops reading a large response pins at most about one body
 * window unsent in refproxy's socket (TCP_NOTSENT_LOWAT): the rest waits
 * upstream, not in kernel memory. Reading on then gets every byte. */
static void test_stalled_client_pins_one_window_in_the_kernel(void **state)
{
    const size_t total = 8u << 20;
    int fd = connect_slow_reader(p_front);
    char req[128];
    int n = snprintf(req, sizeof(req), "GET /gen?n=%zu HTTP/1.1\r\nHost: a\r\n\r\n", total);
    assert_int_equal(itest_write_all(fd, req, (size_t)n), 0);
    /* wait until the server's queue stops changing: that is where it settles */
    struct tcp_info ti;
    uint32_t last = UINT32_MAX, peak = 0;
    int steady = 0;
    for (int i = 0; i < 100 && steady < 5; i++) {
        usleep(20000);
        assert_int_equal(itest_peer_tcp_info(fd, &ti), 0);
        peak = ti.tcpi_notsent_bytes > peak ? ti.tcpi_notsent_bytes : peak;
        steady = ti.tcpi_notsent_bytes == last ? steady + 1 : 0;
        last = ti.tcpi_notsent_bytes;
    }
    assert_true(steady >= 5);
    assert_true(peak > 0); /* the client really is behind */
    /* the limit (64 KiB) plus the one write that crossed it */
    assert_true(peak <= 2 * 65536);
    struct itest_resp r;
    itest_reader_reset();
    assert_int_equal(itest_read_response(fd, false, &r), 0);
    assert_gen_body(&r, total);
    itest_resp_free(&r);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_proxy REFPROXY ORIGIN\n");
        return 2;
    }
    refproxy_bin = argv[1];
    origin_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_forwards_with_x_forwarded_and_strips_hop_by_hop),
        cmocka_unit_test(test_post_content_length_and_chunked_bodies_reach_origin),
        cmocka_unit_test(test_chunked_response_is_relayed),
        cmocka_unit_test(test_64mib_upload_and_download_stream_with_bounded_memory),
        cmocka_unit_test(test_keep_alive_reuses_pooled_upstream_connections),
        cmocka_unit_test(test_pipelined_requests_answered_in_order),
        cmocka_unit_test(test_upstream_down_gives_502),
        cmocka_unit_test(test_silent_upstream_gives_504_after_timeout),
        cmocka_unit_test(test_70kib_header_gives_431_and_other_connections_survive),
        cmocka_unit_test(test_bad_request_gets_parser_status_and_close),
        cmocka_unit_test(test_websocket_upgrade_tunnels_both_ways),
        cmocka_unit_test(test_prefix_is_matched_and_stripped),
        cmocka_unit_test(test_unix_socket_upstream),
        cmocka_unit_test(test_respond_service_answers_directly),
        cmocka_unit_test(test_pipelined_answers_leave_in_one_write),
        cmocka_unit_test(test_large_respond_body_stays_ahead_of_pipelined_answers),
        cmocka_unit_test(test_1000_services_each_answer_with_their_own_body),
        cmocka_unit_test(test_sigterm_lets_slow_response_finish),
        cmocka_unit_test(test_stalled_client_pins_one_window_in_the_kernel),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
