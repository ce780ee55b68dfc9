/*
 * test_ready: readiness by service ports (harness/ready.c), for targets with
 * no admin endpoint: not ready while one port refuses, ready once every port
 * accepts, each port connected once; the message says how far it got.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"
#include "ready.h"
#include "test_util.h"

/* A socket bound to 127.0.0.1:port, listening when listen_now; -1 on failure. */
static int bound(int port, bool listen_now)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        (listen_now && listen(fd, 16) < 0)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Connections waiting on a listening socket (accepts them all, closing each). */
static int drain(int fd)
{
    int n = 0;
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int c; (c = accept(fd, NULL, NULL)) >= 0; n++)
        close(c);
    return n;
}

static void test_ready_when_every_service_port_accepts(void **state)
{
    int base = tu_free_port_range(3);
    assert_true(base > 0);
    int fds[3];
    char *addrs[4];
    for (int i = 0; i < 3; i++) {
        /* the middle port is bound but not listening yet: connections are refused */
        fds[i] = bound(base + i, i != 1);
        assert_true(fds[i] >= 0);
        assert_true(asprintf(&addrs[i], "127.0.0.1:%d", base + i) > 0);
    }
    addrs[3] = NULL; /* a service whose address is unknown is skipped */
    struct ready r;
    ready_init(&r, NULL, addrs, 4);
    assert_false(ready_probe(&r, 1000));
    assert_false(ready_probe(&r, 1000));
    char what[512];
    ready_describe(&r, what, sizeof what);
    char want[128];
    snprintf(want, sizeof want, "(1 of 4 did; 127.0.0.1:%d: Connection refused)", base + 1);
    if (!strstr(what, "every service port to accept connections") || !strstr(what, want))
        fail_msg("described as: %s", what);

    assert_int_equal(listen(fds[1], 16), 0);
    assert_true(ready_probe(&r, 1000));
    /* each port was connected once: the first before, during both probes, never again */
    assert_int_equal(drain(fds[0]), 1);
    assert_int_equal(drain(fds[1]), 1);
    assert_int_equal(drain(fds[2]), 1);
    for (int i = 0; i < 3; i++) {
        close(fds[i]);
        free(addrs[i]);
    }
}

static void test_nothing_to_wait_for_is_ready(void **state)
{
    struct ready r;
    ready_init(&r, NULL, NULL, 0);
    assert_true(ready_probe(&r, 100));
}

static void test_admin_address_is_asked_over_http(void **state)
{
    /* a port that refuses: with an admin address, the ports do not matter */
    int port = tu_free_port();
    char admin[64], *addrs[1] = {admin};
    snprintf(admin, sizeof admin, "127.0.0.1:%d", port);
    struct ready r;
    ready_init(&r, admin, addrs, 1);
    assert_false(ready_probe(&r, 500));
    char what[512], want[128];
    ready_describe(&r, what, sizeof what);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/healthz (never answered 200", port);
    if (!strstr(what, want))
        fail_msg("described as: %s", what);
}

int main(void)
{
    fetch_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_when_every_service_port_accepts),
        cmocka_unit_test(test_nothing_to_wait_for_is_ready),
        cmocka_unit_test(test_admin_address_is_asked_over_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
