/*
 * admin: the admin listener (prometheusAddr, default 127.0.0.1:9099).
 * /healthz, /metrics, and the pprof-compatible endpoints under /debug/pprof/
 * (also under /pprof/). It runs on its own threads, blocking, so it never
 * wakes the data plane and an idle refproxy makes no wakeups; a CPU profile
 * request sleeps for its window without blocking anything else.
 */
#ifndef REFPROXY_ADMIN_H
#define REFPROXY_ADMIN_H

#include "config.h"
#include "server.h"

struct admin;

/* Binds and starts serving. argv is kept for /debug/pprof/cmdline. Returns NULL
 * and a malloc'd *err on failure. */
struct admin *admin_start(const struct config *cfg, struct server *srv, int argc, char **argv,
                          char **err);
void admin_stop(struct admin *a);

#endif
