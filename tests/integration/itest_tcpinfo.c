/*
 * itest_tcpinfo: the kernel's tcp_info for the far end of a loopback
 * connection, i.e. the server's own socket, read with sock_diag (the netlink
 * interface `ss -ti` uses). Lets a test check what a server leaves queued in
 * its socket without any help from the server.
 */
#include "itest.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h> /* glibc's tcp_info lacks tcpi_notsent_bytes */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int itest_peer_tcp_info(int fd, struct tcp_info *out)
{
    struct sockaddr_in me, peer;
    socklen_t len = sizeof(me);
    if (getsockname(fd, (struct sockaddr *)&me, &len) < 0 || me.sin_family != AF_INET)
        return -1;
    len = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
        return -1;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return -1;
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nh = {.nlmsg_len = sizeof(msg),
               .nlmsg_type = SOCK_DIAG_BY_FAMILY,
               .nlmsg_flags = NLM_F_REQUEST},
        .req = {.sdiag_family = AF_INET,
                .sdiag_protocol = IPPROTO_TCP,
                .idiag_ext = 1 << (INET_DIAG_INFO - 1),
                .idiag_states = ~0u,
                /* the far end: its source is our peer, its destination is us */
                .id = {.idiag_sport = peer.sin_port,
                       .idiag_dport = me.sin_port,
                       .idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
    };
    memcpy(msg.req.id.idiag_src, &peer.sin_addr, 4);
    memcpy(msg.req.id.idiag_dst, &me.sin_addr, 4);
    int rc = -1;
    char resp[8192];
    if (send(nl, &msg, sizeof(msg), 0) < 0)
        goto out;
    ssize_t n = recv(nl, resp, sizeof(resp), 0);
    for (struct nlmsghdr *h = (struct nlmsghdr *)resp; n > 0 && NLMSG_OK(h, (size_t)n);
         h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
            break; /* NLMSG_ERROR: no such socket */
        struct inet_diag_msg *d = NLMSG_DATA(h);
        int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*d)));
        for (struct rtattr *a = (struct rtattr *)(d + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type != INET_DIAG_INFO)
                continue;
            size_t got = (size_t)RTA_PAYLOAD(a);
            if (got > sizeof(*out))
                got = sizeof(*out);
            memset(out, 0, sizeof(*out));
            memcpy(out, RTA_DATA(a), got);
            rc = 0;
        }
        break;
    }
out:
    close(nl);
    return rc;
}
