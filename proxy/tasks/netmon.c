/*
 * netmon: Tailscale's network monitor (net/netmon on Linux) as a tsnet node
 * runs it, the second super-linear task of docs/DESIGN.md §1.
 *
 * Each instance owns a NETLINK_ROUTE socket subscribed to link, IPv4/IPv6
 * address and route groups, watched on its loop. Every kernel event reaches
 * every instance; each one then, after a debounce, enumerates the interfaces
 * the way Go's net.Interfaces + Interface.Addrs does (one RTM_GETLINK dump, then
 * one full RTM_GETADDR dump per interface, filtered by index) and looks up the
 * default route (RTM_GETROUTE). A ReSTUN-like local-address enumeration also
 * runs every restunMin..restunMax (jittered per instance). Work units are
 * netlink messages processed. Each dump opens its own socket, as Go's
 * syscall.NetlinkRIB does.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tasks_internal.h"

#define NL_BUF 32768
#define NL_MAX_IFACES 4096
#define NL_MAX_RECV 100000 /* bound on datagrams per dump */

struct netmon {
    struct loop *loop;
    int fd;
    struct loop_timer debounce, restun;
    uint32_t debounce_ms, restun_min_ms, restun_max_ms;
    uint32_t rng;
    struct task_stats *st;
    _Atomic uint64_t events, dumps;
    char rx[NL_BUF] __attribute__((aligned(8)));
};

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

typedef void nl_msg_fn(const struct nlmsghdr *h, void *ctx);

/* One dump request on a fresh socket; calls fn for every message until
 * NLMSG_DONE. Returns the number of messages processed or -1. */
static long nl_dump(uint16_t type, unsigned char family, uint32_t seq, nl_msg_fn *fn, void *ctx)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = {
        .h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
              .nlmsg_type = type,
              .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
              .nlmsg_seq = seq},
        .g = {.rtgen_family = family},
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    long msgs = -1;
    char *rx = NULL;
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        goto out;
    /* Heap, not thread-local: static TLS would eat every thread's small stack. */
    rx = malloc(NL_BUF);
    if (!rx)
        goto out;
    msgs = 0;
    for (int i = 0; i < NL_MAX_RECV; i++) {
        ssize_t n = recv(fd, rx, NL_BUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            msgs = -1;
            goto out;
        }
        int len = (int)n; /* int: NLMSG_NEXT may take it below zero on a short tail */
        for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            msgs++;
            if (h->nlmsg_type == NLMSG_DONE)
                goto out;
            if (h->nlmsg_type == NLMSG_ERROR) {
                msgs = -1;
                goto out;
            }
            if (fn)
                fn(h, ctx);
        }
    }
out:
    free(rx);
    close(fd);
    return msgs;
}

struct links {
    int idx[NL_MAX_IFACES];
    size_t n;
};

static void on_link(const struct nlmsghdr *h, void *ctx)
{
    struct links *l = ctx;
    if (h->nlmsg_type != RTM_NEWLINK || l->n >= NL_MAX_IFACES)
        return;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    l->idx[l->n++] = ifi->ifi_index;
}

struct addr_filter {
    int index;
    size_t matched;
};

static void on_addr(const struct nlmsghdr *h, void *ctx)
{
    struct addr_filter *f = ctx;
    if (h->nlmsg_type != RTM_NEWADDR)
        return;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if ((int)ifa->ifa_index == f->index)
        f->matched++;
}

static void on_route(const struct nlmsghdr *h, void *ctx)
{
    size_t *defaults = ctx;
    if (h->nlmsg_type != RTM_NEWROUTE)
        return;
    const struct rtmsg *rt = NLMSG_DATA(h);
    if (rt->rtm_dst_len == 0 && rt->rtm_table == RT_TABLE_MAIN)
        (*defaults)++;
}

long netmon_enumerate(bool with_route)
{
    static _Atomic uint32_t seq_counter;
    uint32_t seq = atomic_fetch_add_explicit(&seq_counter, 1, memory_order_relaxed) + 1;
    struct links *l = malloc(sizeof(*l));
    if (!l)
        return -1;
    l->n = 0;
    long total = nl_dump(RTM_GETLINK, AF_UNSPEC, seq, on_link, l);
    if (total < 0)
        goto out;
    /* Go's Interface.Addrs dumps every address and keeps this interface's. */
    for (size_t i = 0; i < l->n; i++) {
        struct addr_filter f = {.index = l->idx[i]};
        long m = nl_dump(RTM_GETADDR, AF_UNSPEC, seq, on_addr, &f);
        if (m < 0) {
            total = -1;
            goto out;
        }
        total += m;
    }
    if (with_route) {
        size_t defaults = 0;
        long m4 = nl_dump(RTM_GETROUTE, AF_INET, seq, on_route, &defaults);
        long m6 = nl_dump(RTM_GETROUTE, AF_INET6, seq, on_route, &defaults);
        total = (m4 < 0 || m6 < 0) ? -1 : total + m4 + m6;
    }
out:
    free(l);
    return total;
}

static void netmon_debounced(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct netmon *nm = data;
    uint64_t t0 = task_cpu_now();
    long m = netmon_enumerate(true);
    atomic_fetch_add_explicit(&nm->dumps, 1, memory_order_relaxed);
    task_stats_record(nm->st, t0, m > 0 ? (uint64_t)m : 0);
}

static void netmon_arm_restun(struct netmon *nm)
{
    uint32_t span =
        nm->restun_max_ms > nm->restun_min_ms ? nm->restun_max_ms - nm->restun_min_ms : 0;
    uint32_t delay = nm->restun_min_ms + (span ? rng_next(&nm->rng) % (span + 1) : 0);
    loop_timer_arm(nm->loop, &nm->restun, delay);
}

static void netmon_restun(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct netmon *nm = data;
    uint64_t t0 = task_cpu_now();
    long m = netmon_enumerate(false);
    task_stats_record(nm->st, t0, m > 0 ? (uint64_t)m : 0);
    netmon_arm_restun(nm);
}

static void netmon_readable(struct loop *loop, int fd, unsigned events, void *data)
{
    struct netmon *nm = data;
    uint64_t t0 = task_cpu_now();
    char *rx = nm->rx;
    uint64_t msgs = 0;
    bool overrun = false;
    for (int i = 0; i < 1024; i++) { /* drain, bounded per wakeup */
        ssize_t n = recv(fd, rx, NL_BUF, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOBUFS) { /* events were lost: still a change */
            overrun = true;
            continue;
        }
        if (n <= 0)
            break;
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
            msgs++;
    }
    if (overrun && !msgs)
        msgs = 1;
    atomic_fetch_add_explicit(&nm->events, msgs, memory_order_relaxed);
    if (msgs && !loop_timer_armed(&nm->debounce))
        loop_timer_arm(loop, &nm->debounce, nm->debounce_ms);
    task_stats_record(nm->st, t0, msgs);
}

static void *netmon_start(struct task_node *node, const void *config, char **err)
{
    const struct task_netmon_config *c = config;
    struct loop *loop = node->loop;
    const char *service = node->service;
    uint32_t seed = node->seed;
    struct netmon *nm = calloc(1, sizeof(*nm));
    if (!nm || !(nm->st = task_stats_get(netmon_spec.name, service))) {
        free(nm);
        tasks_set_err(err, "netmon %s: out of memory", service);
        return NULL;
    }
    nm->loop = loop;
    nm->debounce_ms = c->debounce_ms ? c->debounce_ms : 250;
    nm->restun_min_ms = c->restun_min_ms ? c->restun_min_ms : 20000;
    nm->restun_max_ms =
        c->restun_max_ms >= nm->restun_min_ms ? c->restun_max_ms : nm->restun_min_ms;
    nm->rng = seed * 2654435761u + 1;
    nm->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    struct sockaddr_nl sa = {
        .nl_family = AF_NETLINK,
        .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                     RTMGRP_IPV6_ROUTE,
    };
    if (nm->fd < 0 || bind(nm->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        loop_watch(loop, nm->fd, LOOP_READABLE, netmon_readable, nm) < 0) {
        tasks_set_err(err, "netmon %s: netlink socket: %s", service, strerror(errno));
        if (nm->fd >= 0)
            close(nm->fd);
        free(nm);
        return NULL;
    }
    loop_timer_init(&nm->debounce, netmon_debounced, nm);
    loop_timer_init(&nm->restun, netmon_restun, nm);
    netmon_arm_restun(nm);
    return nm;
}

static void netmon_stop(void *instance)
{
    struct netmon *nm = instance;
    if (!nm)
        return;
    loop_unwatch(nm->loop, nm->fd);
    close(nm->fd);
    loop_timer_cancel(nm->loop, &nm->debounce);
    loop_timer_cancel(nm->loop, &nm->restun);
    free(nm);
}

const struct task_desc netmon_desc = {
    .spec = &netmon_spec,
    .start = netmon_start,
    .stop = netmon_stop,
};

uint64_t netmon_events(const struct netmon *nm)
{
    return nm ? atomic_load_explicit(&nm->events, memory_order_relaxed) : 0;
}

uint64_t netmon_dumps(const struct netmon *nm)
{
    return nm ? atomic_load_explicit(&nm->dumps, memory_order_relaxed) : 0;
}
