/*
 * test_tasks_netmon: netlink events reach every per-service netmon and the
 * shared one once. main() forks; the child unshares a private network
 * namespace (root needed; exit 77 = skipped otherwise) and runs the tests
 * there, adding and removing 127.0.0.77/8 on its own lo, so the only events the
 * sockets see are ours and nothing touches the host.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tasks.h"
#include "tasks/tasks_internal.h"
#include "test_tasks_util.h"

static int lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    int rc = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -1 : 0;
    ifr.ifr_flags |= IFF_UP;
    if (rc == 0)
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Adds (add) or removes 127.0.0.77/8 on lo; waits for the kernel's ack. */
static int addr_change(bool add)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct {
        struct nlmsghdr h;
        struct ifaddrmsg a;
        char attrs[64];
    } req = {0};
    req.h.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    req.h.nlmsg_seq = 1;
    req.a.ifa_family = AF_INET;
    req.a.ifa_prefixlen = 8;
    req.a.ifa_scope = RT_SCOPE_HOST; /* the kernel wants host scope for 127/8 */
    req.a.ifa_index = if_nametoindex("lo");
    uint32_t ip = htonl(0x7f00004d); /* 127.0.0.77 */
    size_t off = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.a)));
    for (int i = 0; i < 2; i++) {
        struct rtattr *rta = (struct rtattr *)((char *)&req + off);
        rta->rta_type = i == 0 ? IFA_LOCAL : IFA_ADDRESS;
        rta->rta_len = RTA_LENGTH(sizeof(ip));
        memcpy(RTA_DATA(rta), &ip, sizeof(ip));
        off += RTA_ALIGN(rta->rta_len);
    }
    req.h.nlmsg_len = (uint32_t)off;
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    int rc = -1;
    char ack[1024];
    if (sendto(fd, &req, off, 0, (struct sockaddr *)&k, sizeof(k)) == (ssize_t)off) {
        ssize_t n = recv(fd, ack, sizeof(ack), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)ack;
        if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR) {
            int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (e)
                fprintf(stderr, "%s 127.0.0.77/8 on lo: %s\n", add ? "add" : "del", strerror(-e));
            rc = e == 0 ? 0 : -1;
        }
    }
    close(fd);
    return rc;
}

static struct tasks_config netmon_cfg(enum task_mode mode)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.netmon.mode = mode;
    tc.netmon.debounce_ms = 100;
    /* ReSTUN far away so every run in the test comes from our events. */
    tc.netmon.restun_min_ms = tc.netmon.restun_max_ms = 3600 * 1000;
    return tc;
}

static bool wait_dumps_nodes(struct test_nodes *tn, size_t n, uint64_t min)
{
    for (int i = 0; i < 2000; i++) {
        size_t ok = 0;
        for (size_t j = 0; j < n; j++)
            ok += tasks_node_netmon_dumps(test_node(tn, j)) >= min;
        if (ok == n)
            return true;
        usleep(5000);
    }
    return false;
}

static bool wait_dumps_shared(uint64_t min)
{
    for (int i = 0; i < 2000 && tasks_shared_netmon_dumps() < min; i++)
        usleep(5000);
    return tasks_shared_netmon_dumps() >= min;
}

static void test_per_service_netmon_sees_event_in_every_node(void **state)
{
    struct tasks_config tc = netmon_cfg(TASK_PER_SERVICE);
    struct test_nodes *tn = test_nodes_start(4, &tc, ARCH_PER_SERVICE);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(tasks_node_netmon_events(test_node(tn, i)), 0);
    /* add and remove back to back: both land in one debounce window */
    assert_int_equal(addr_change(true), 0);
    assert_int_equal(addr_change(false), 0);
    assert_true(wait_dumps_nodes(tn, 4, 1));
    for (size_t i = 0; i < 4; i++) {
        struct node_tasks *nt = test_node(tn, i);
        assert_true(tasks_node_netmon_events(nt) >= 2);   /* NEWADDR and DELADDR at least */
        assert_int_equal(tasks_node_netmon_dumps(nt), 1); /* debounced into one dump */
    }
    /* A later event is a second dump in every node. */
    assert_int_equal(addr_change(true), 0);
    assert_true(wait_dumps_nodes(tn, 4, 2));
    assert_int_equal(addr_change(false), 0);
    assert_true(wait_dumps_nodes(tn, 4, 3));
    struct task_counts c;
    assert_int_equal(task_stats_read_task("netmon", &c), 4);
    assert_false(task_stats_read("netmon", "shared", &c));
    test_nodes_stop(tn);
}

static void test_shared_netmon_sees_event_once(void **state)
{
    struct tasks_config tc = netmon_cfg(TASK_SHARED);
    struct test_nodes *tn = test_nodes_start(4, &tc, ARCH_PER_SERVICE);
    assert_int_equal(test_count_threads("shared/netmon"), 1);
    assert_int_equal(addr_change(true), 0);
    assert_int_equal(addr_change(false), 0);
    assert_true(wait_dumps_shared(1));
    assert_true(tasks_shared_netmon_events() >= 2);
    assert_int_equal(tasks_shared_netmon_dumps(), 1);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(tasks_node_netmon_events(test_node(tn, i)), 0);
    struct task_counts c;
    assert_int_equal(task_stats_read_task("netmon", &c), 1);
    assert_true(task_stats_read("netmon", "shared", &c));
    assert_true(c.runs >= 2);           /* one readable wakeup, one dump */
    assert_true(c.work_units > c.runs); /* the dump processed several messages */
    test_nodes_stop(tn);
}

static int run_netmon_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_service_netmon_sees_event_in_every_node),
        cmocka_unit_test(test_shared_netmon_sees_event_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0) {
            fprintf(stderr, "unshare(CLONE_NEWNET): %s: needs root, skipped\n", strerror(errno));
            _exit(77);
        }
        if (lo_up() < 0) {
            fprintf(stderr, "bringing lo up in the namespace: %s\n", strerror(errno));
            _exit(1);
        }
        _exit(run_netmon_tests() ? 1 : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "test child died: signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}
