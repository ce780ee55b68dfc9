/*
 * test_fetch: what a failed fetch says (harness/fetch.c). A profiler turns
 * fetch_error into the point's profile_reason, so a fetch that never got
 * going must say why, not "HTTP 0", and a refused one must name its URL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"

static void test_a_fetch_that_could_not_start_says_why_not_http_0(void **state)
{
    struct fetcher broken = {.multi = NULL}; /* curl_multi_add_handle refuses it */
    struct fetch fx;
    assert_int_equal(fetch_start(&broken, &fx, "http://127.0.0.1:1/", 1000, 1024), -1);
    assert_true(fx.done);
    const char *why = fetch_error(&fx);
    if (!strstr(why, "curl_multi_add_handle failed"))
        fail_msg("fetch_error said '%s'", why);
    fetch_cleanup(&broken, &fx);
}

static void test_a_refused_get_names_its_url(void **state)
{
    /* a port bound but not listening: connections to it are refused */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char url[64], err[CURL_ERROR_SIZE + 256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", ntohs(a.sin_port));
    long status = -1;
    assert_int_equal(fetch_get(url, 2000, 1024, NULL, &status, err, sizeof err), -1);
    if (!strstr(err, url))
        fail_msg("the error '%s' does not name %s", err, url);
    close(fd);
}

int main(void)
{
    fetch_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_fetch_that_could_not_start_says_why_not_http_0),
        cmocka_unit_test(test_a_refused_get_names_its_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
