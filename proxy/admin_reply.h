/*
 * admin_reply: the answer an admin endpoint builds. Handlers (pprof.c, and
 * admin.c's own /healthz and /metrics) fill one; admin.c owns the socket and
 * writes it. Its own header so that the admin listener and the modules behind
 * it share the reply without including each other.
 */
#ifndef REFPROXY_ADMIN_REPLY_H
#define REFPROXY_ADMIN_REPLY_H

#include "buf.h"

/* Reply caps: the largest body a handler may build (a CPU profile of the
 * maximum window with deep stacks fits comfortably). */
#define ADMIN_REPLY_MAX (256u << 20)

struct admin_reply {
    int status;
    const char *content_type; /* static string */
    struct buf body;          /* owned; admin.c frees it */
};

/* Sets status and a one-line text/plain body (a newline is appended),
 * replacing whatever the body held. Returns nothing: a message the body's cap
 * refuses (or no memory) leaves the body without it, the status still set. */
void admin_reply_text(struct admin_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
