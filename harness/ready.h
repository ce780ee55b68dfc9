/*
 * ready: has a target come up? The sweep asks after starting each point's
 * target, every 50 ms until its deadline.
 *
 * - A target with an HTTP admin address is ready when GET /healthz answers
 *   200, or, lacking /healthz, GET /debug/pprof/ does.
 * - A target without one (nginx, HAProxy, a template's server: the point
 *   file's admin is null) is ready when every service port accepts a TCP
 *   connection. Ports are tried in order and one that accepted is not tried
 *   again, so a target of 10,000 services sees each port connected once
 *   (opened and closed at once: no request is sent).
 * - A target with neither (no admin address, no listen address known) is
 *   ready as soon as it runs: there is nothing to ask.
 */
#ifndef SCALEPROF_READY_H
#define SCALEPROF_READY_H

#include <stdbool.h>
#include <stddef.h>

struct ready {
    const char *admin;   /* borrowed: host:port, or NULL */
    char *const *listen; /* borrowed: the services' host:port (NULL entries are skipped) */
    size_t num_listen;
    size_t accepted; /* ports tried in order that accepted so far */
    char last[160];  /* the last probe's failure, for the message */
};

void ready_init(struct ready *r, const char *admin, char *const *listen, size_t num_listen);
/* One probe: true when the target is ready. Each connection or request is
 * bounded by timeout_ms. */
bool ready_probe(struct ready *r, long timeout_ms);
/* What was waited for and how far it got, for the failure message:
 * "http://127.0.0.1:9099/healthz (never answered 200)" or
 * "every service port to accept connections (2 of 5 did; 127.0.0.1:18003:
 * Connection refused)". */
void ready_describe(const struct ready *r, char *buf, size_t size);

#endif
