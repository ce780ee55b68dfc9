/*
 * server: refproxy's data plane. Owns the listeners, the worker threads (shared
 * architecture: K workers, an SO_REUSEPORT listener per service per worker) or
 * the node threads (per-service architecture: one event-loop thread per
 * service, which also hosts that node's background tasks through tasks.h), the
 * client connections, and the upstream pools.
 */
#ifndef REFPROXY_SERVER_H
#define REFPROXY_SERVER_H

#include "buf.h"
#include "config.h"

struct server;

/* Binds every listener (so address errors surface before anything runs).
 * Returns NULL and a malloc'd message in *err on failure. cfg must outlive the
 * server. */
struct server *server_create(const struct config *cfg, char **err);
/* Starts the threads. 0 or -1 with *err set. */
int server_start(struct server *srv, char **err);
/* Graceful stop: close listeners, let in-flight requests finish (up to
 * cfg->limits.shutdown_grace_ms), close idle connections, join every thread.
 * Returns the number of requests still in flight when the grace ran out. */
unsigned server_shutdown(struct server *srv);
void server_destroy(struct server *srv);

/* Appends the per-service Prometheus series (requests by status class, bytes,
 * latency histogram, upstream errors, connections) to out. Thread-safe: reads
 * counters that workers update with relaxed atomics. */
void server_write_metrics(struct server *srv, struct buf *out);

/* Requests currently being served (for tests and shutdown accounting). */
unsigned long server_inflight(struct server *srv);

#endif
