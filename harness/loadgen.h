/*
 * loadgen: an open-loop HTTP load generator (libcurl multi, keep-alive) for
 * `sweep --load`. Request j is due at start + j / (rps * services) and goes
 * to service j mod services, so every service gets rps requests per second
 * spread evenly in time; a request is sent when due whether or not earlier
 * ones have been answered. Latency runs from the due time, not the send time,
 * so a stalled server or generator shows up in the latency instead of
 * silently lowering the rate (no coordinated omission).
 *
 * The generator runs on its own thread from loadgen_start to loadgen_stop.
 */
#ifndef SCALEPROF_LOADGEN_H
#define SCALEPROF_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loadgen_result {
    double rps_target;   /* per service */
    double rps_achieved; /* per service: good answers to requests due in the window / s */
    uint64_t requests;   /* requests due in the window */
    uint64_t errors;     /* of those: failed, timed out, non-2xx/3xx, or never sent */
    uint64_t p50_us, p90_us, p99_us, max_us;
    bool short_of_target; /* achieved below 95% of the target */
};

struct loadgen;

/* urls[0..n) are the services' base URLs (copied). Requests due in
 * [record_from, record_until) (CLOCK_MONOTONIC seconds, see procstat_now) are
 * recorded; sending stops at record_until. NULL and *err (malloc'd) on failure. */
struct loadgen *loadgen_start(char *const *urls, size_t n, double rps, double record_from,
                              double record_until, char **err);
/* Asks the generator to stop early (e.g. on Ctrl-C); loadgen_finish still joins. */
void loadgen_cancel(struct loadgen *lg);
/* Waits for the generator (it drains in-flight requests for at most 2 s after
 * record_until), fills *out and frees lg. */
void loadgen_finish(struct loadgen *lg, struct loadgen_result *out);

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
