/* test_tasks_portlist: the /proc/net parser and the owner walk of the portlist task. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tasks/tasks_internal.h"

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", TASKS_TESTDATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char data[8192];
    *len = fread(data, 1, sizeof(data) - 1, f);
    fclose(f);
    char *copy = malloc(*len + 1);
    memcpy(copy, data, *len);
    copy[*len] = '\0';
    return copy;
}

static void parse_fixture(struct portlist *pl, const char *name, bool udp,
                          struct portlist_counts *c)
{
    size_t len;
    char *text = read_fixture(name, &len);
    portlist_parse(pl, text, len, udp, c);
    free(text);
}

static void parse_all(struct portlist *pl, struct portlist_counts *c)
{
    portlist_begin(pl);
    parse_fixture(pl, "tcp", false, c);
    parse_fixture(pl, "tcp6", false, c);
    parse_fixture(pl, "udp", true, c);
    parse_fixture(pl, "udp6", true, c);
    portlist_end(pl, false, c);
}

static void test_fixture_keeps_listeners_and_unconnected_udp(void **state)
{
    struct portlist pl;
    portlist_init(&pl, false);
    struct portlist_counts c = {0};
    parse_all(&pl, &c);
    assert_int_equal(c.rows, 12); /* 6 + 3 + 2 + 1 data rows; headers are not rows */
    assert_int_equal(c.kept, 6);
    assert_int_equal(c.connected, 5); /* two ESTABLISHED, TIME_WAIT, tcp6 and udp connected */
    assert_int_equal(c.other, 1);     /* TCP CLOSE with a zero remote */
    assert_int_equal(c.new_inodes, 6);
    assert_int_equal(portlist_count(&pl), 6);
    static const uint64_t kept[] = {1001, 1002, 2001, 2002, 3001, 4001};
    for (size_t i = 0; i < 6; i++)
        assert_true(portlist_known(&pl, kept[i]));
    static const uint64_t skipped[] = {1003, 1004, 1005, 2003, 3002, 0};
    for (size_t i = 0; i < 6; i++)
        assert_false(portlist_known(&pl, skipped[i]));
    portlist_free(&pl);
}

static void test_second_poll_of_same_rows_finds_nothing_new(void **state)
{
    struct portlist pl;
    portlist_init(&pl, false);
    struct portlist_counts c1 = {0}, c2 = {0};
    parse_all(&pl, &c1);
    parse_all(&pl, &c2);
    assert_int_equal(c2.rows, 12);
    assert_int_equal(c2.kept, 6);
    assert_int_equal(c2.new_inodes, 0);
    portlist_free(&pl);
}

static void test_closed_listener_leaves_the_set(void **state)
{
    struct portlist pl;
    portlist_init(&pl, false);
    struct portlist_counts c = {0};
    parse_all(&pl, &c);
    /* Next poll sees only tcp: the other files' inodes are gone. */
    memset(&c, 0, sizeof(c));
    portlist_begin(&pl);
    parse_fixture(&pl, "tcp", false, &c);
    portlist_end(&pl, false, &c);
    assert_int_equal(portlist_count(&pl), 2);
    assert_true(portlist_known(&pl, 1001));
    assert_false(portlist_known(&pl, 2001));
    assert_false(portlist_known(&pl, 3001));
    portlist_free(&pl);
}

static void test_truncated_and_garbage_rows_are_not_kept(void **state)
{
    static const char text[] =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n"    /* truncated */
        "   1: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 12x4 1\n" /* bad inode */
        "   2: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 777 1\n"  /* good */
        "\n";
    struct portlist pl;
    portlist_init(&pl, false);
    struct portlist_counts c = {0};
    portlist_begin(&pl);
    portlist_parse(&pl, text, strlen(text), false, &c);
    portlist_end(&pl, false, &c);
    assert_int_equal(c.kept, 1);
    assert_true(portlist_known(&pl, 777));
    assert_int_equal(portlist_count(&pl), 1);
    portlist_free(&pl);
}

/* A live poll finds our own listener by inode and maps it to our fd once. */
static void test_live_poll_finds_own_listener_and_walks_fds_once(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 1), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);

    struct portlist pl;
    portlist_init(&pl, false);
    struct portlist_counts c1 = {0};
    uint64_t units = portlist_poll(&pl, &c1);
    assert_true(portlist_known(&pl, st.st_ino));
    assert_true(c1.rows >= 1);
    assert_true(c1.fds_walked >= 1);
    assert_true(c1.owners_found >= 1);
    assert_int_equal(units, c1.rows + c1.fds_walked);

    /* Nothing new in the next poll (unless another process opened a listener
     * meanwhile): when nothing is new, no fd is walked. */
    struct portlist_counts c2 = {0};
    portlist_poll(&pl, &c2);
    assert_true(portlist_known(&pl, st.st_ino));
    if (c2.new_inodes == 0)
        assert_int_equal(c2.fds_walked, 0);
    close(fd);
    portlist_free(&pl);
}

/* scope: all walks every process's fds, so at least as many as scope: self
 * (and the walk over /proc/self alone finds our own inode too). */
static void test_scope_all_walks_other_processes_fds(void **state)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    struct portlist self, all;
    portlist_init(&self, false);
    portlist_init(&all, true);
    struct portlist_counts cs = {0}, ca = {0};
    portlist_poll(&self, &cs);
    portlist_poll(&all, &ca);
    assert_true(portlist_known(&all, st.st_ino));
    assert_true(ca.owners_found >= 1);
    /* our own fds are a subset of every process's fds */
    assert_true(ca.fds_walked >= cs.fds_walked);
    portlist_free(&self);
    portlist_free(&all);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_keeps_listeners_and_unconnected_udp),
        cmocka_unit_test(test_second_poll_of_same_rows_finds_nothing_new),
        cmocka_unit_test(test_closed_listener_leaves_the_set),
        cmocka_unit_test(test_truncated_and_garbage_rows_are_not_kept),
        cmocka_unit_test(test_live_poll_finds_own_listener_and_walks_fds_once),
        cmocka_unit_test(test_scope_all_walks_other_processes_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
