/*
 * loadgen: an open-loop HTTP load generator (libcurl multi, keep-alive) for
 * `sweep --load`. Request j is due at start + j / (rps * services) and goes
 * to service j mod services, so every service gets rps requests per second
 * spread evenly in time; a request is sent when due whether or not earlier
 * ones have been answered. Latency runs from the due time, not the send time,
 * so a stalled server or generator shows up in the latency instead of
 * silently lowering the rate (no coordinated omission).
 *
 * Connections: one keep-alive connection per service is kept and reused
 * (more when a service has several requests in flight), up to a budget of
 * file descriptors (loadgen_connection_budget); the first round of requests,
 * normally in the warm-up, opens them. Requests in flight are capped
 * (max_in_flight); a request due while every slot is busy is not sent and
 * counts as an error of kind not_sent, so a generator that cannot keep up
 * says so in its figures instead of quietly sending less.
 *
 * The generator runs on its own thread from loadgen_start to loadgen_finish.
 */
#ifndef SCALEPROF_LOADGEN_H
#define SCALEPROF_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "load_rule.h"

#define LOADGEN_MAX_IN_FLIGHT 2048
#define LOADGEN_TIMEOUT_MS 5000L

/* Limits of one generator; a zero field takes its default. Tests shrink them
 * to make a generator fall short on purpose. */
struct loadgen_opts {
    size_t max_in_flight;   /* default LOADGEN_MAX_IN_FLIGHT */
    size_t max_connections; /* default loadgen_connection_budget() */
    long timeout_ms;        /* per request, connect included; default LOADGEN_TIMEOUT_MS */
};

struct loadgen_result {
    double rps_target;   /* per service */
    double rps_achieved; /* per service: good answers to requests due in the window / s */
    uint64_t requests;   /* requests due in the window */
    uint64_t errors;     /* of those: failed, timed out, non-2xx/3xx, or never sent */
    uint64_t errors_by_kind[LOAD_ERR_KINDS]; /* adds up to errors */
    uint64_t p50_us, p90_us, p99_us, max_us;
    uint64_t connections_opened; /* over the whole run, warm-up included */
    uint64_t connections_peak;   /* most sockets open at once: the generator's fds */
    size_t connection_budget;    /* the cap it ran with */
    size_t kept_alive;           /* services with keep-alive connections (the rest: one-shot) */
    bool short_of_target;        /* achieved below 95% of the target */
    bool underloaded;            /* load_rule_underloaded of these figures */
};

struct loadgen;

/* How many connections a generator may hold open: the soft RLIMIT_NOFILE
 * (raised to the hard limit first; a process-wide side effect, harmless for
 * the harness) less a reserve for the harness's own files and fetches. */
size_t loadgen_connection_budget(void);

/* urls[0..n) are the services' base URLs (copied). Requests due in
 * [record_from, record_until) (CLOCK_MONOTONIC seconds, see procstat_now) are
 * recorded; sending stops at record_until. opts may be NULL (defaults).
 * NULL and *err (malloc'd) on failure. */
struct loadgen *loadgen_start(char *const *urls, size_t n, double rps, double record_from,
                              double record_until, const struct loadgen_opts *opts, char **err);
/* Asks the generator to stop early (e.g. on Ctrl-C); loadgen_finish still joins. */
void loadgen_cancel(struct loadgen *lg);
/* Waits for the generator (it drains in-flight requests for at most 2 s after
 * record_until), fills *out and frees lg. */
void loadgen_finish(struct loadgen *lg, struct loadgen_result *out);

/* The result as the rule's figures (load_rule.h). */
void loadgen_figures(const struct loadgen_result *r, struct load_figures *f);

/* The latency histogram, exposed for tests: log buckets, 8 per power of two. */
#define LOADGEN_BUCKETS (8 * 40)
struct loadgen_hist {
    uint64_t count[LOADGEN_BUCKETS];
    uint64_t total, max_us;
};
void loadgen_hist_add(struct loadgen_hist *h, uint64_t us);
/* The q-quantile (0 < q <= 1), as its bucket's upper bound capped at the max seen. */
uint64_t loadgen_hist_quantile(const struct loadgen_hist *h, double q);

#endif
