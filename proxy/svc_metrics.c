/*
 * svc_metrics: per-service request counters and their Prometheus rendering.
 *
 * Each worker keeps its own struct svc_stats per service and updates it with
 * relaxed atomic stores (single writer, no lock, no contended cache line);
 * a scrape sums the workers. Buckets are stored non-cumulative and summed
 * into Prometheus's cumulative form at render time.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include "server_internal.h"

static const uint64_t bucket_us[SVC_BUCKETS] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const bucket_le[SVC_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};
static const char *const uperr_names[UPERR_KINDS] = {"connect", "timeout", "reset", "malformed"};

void svc_metrics_record(struct svc_stats *s, int status, uint64_t duration_ns)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        stat_add(&s->requests[cls - 1], 1);
    uint64_t us = duration_ns / 1000;
    for (int i = 0; i < SVC_BUCKETS; i++) {
        if (us <= bucket_us[i]) {
            stat_add(&s->buckets[i], 1);
            break;
        }
    }
    stat_add(&s->duration_count, 1);
    stat_add(&s->duration_sum_us, us);
}

static uint64_t rd(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Sums one service's counters over every worker that serves it. */
static void sum_service(struct server *srv, uint32_t svc, struct svc_stats *acc_out, int64_t *conns)
{
    uint64_t acc[sizeof(struct svc_stats) / sizeof(uint64_t)] = {0};
    *conns = 0;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (svc < w->svc_first || svc >= w->svc_first + w->svc_count || !w->stats)
            continue;
        const struct svc_stats *s = worker_stats(w, svc);
        const _Atomic uint64_t *p = (const _Atomic uint64_t *)s;
        size_t n = offsetof(struct svc_stats, connections) / sizeof(uint64_t);
        for (size_t k = 0; k < n; k++)
            acc[k] += rd(&p[k]);
        *conns += atomic_load_explicit(&s->connections, memory_order_relaxed);
    }
    size_t n = offsetof(struct svc_stats, connections) / sizeof(uint64_t);
    _Atomic uint64_t *o = (_Atomic uint64_t *)acc_out;
    for (size_t k = 0; k < n; k++)
        atomic_store_explicit(&o[k], acc[k], memory_order_relaxed);
}

void server_write_metrics(struct server *srv, struct buf *out)
{
    const struct config *cfg = srv->cfg;
    size_t n = cfg->num_services;
    struct svc_stats *sums = calloc(n ? n : 1, sizeof(*sums));
    int64_t *conns = calloc(n ? n : 1, sizeof(*conns));
    if (!sums || !conns) {
        free(sums);
        free(conns);
        return;
    }
    for (size_t i = 0; i < n; i++)
        sum_service(srv, (uint32_t)i, &sums[i], &conns[i]);

    static const char *const cls[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    buf_puts(out, "# HELP refproxy_requests_total Requests answered, by service and status class.\n"
                  "# TYPE refproxy_requests_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 5; k++)
            buf_printf(out, "refproxy_requests_total{service=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                       cfg->services[i].name, cls[k], rd(&sums[i].requests[k]));

    buf_puts(out, "# HELP refproxy_request_bytes_total Bytes received from clients.\n"
                  "# TYPE refproxy_request_bytes_total counter\n");
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "refproxy_request_bytes_total{service=\"%s\"} %" PRIu64 "\n",
                   cfg->services[i].name, rd(&sums[i].request_bytes));
    buf_puts(out, "# HELP refproxy_response_bytes_total Bytes sent to clients.\n"
                  "# TYPE refproxy_response_bytes_total counter\n");
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "refproxy_response_bytes_total{service=\"%s\"} %" PRIu64 "\n",
                   cfg->services[i].name, rd(&sums[i].response_bytes));

    buf_puts(out, "# HELP refproxy_request_duration_seconds Time from request head to the end of "
                  "the response.\n"
                  "# TYPE refproxy_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = cfg->services[i].name;
        uint64_t cum = 0;
        for (int k = 0; k < SVC_BUCKETS; k++) {
            cum += rd(&sums[i].buckets[k]);
            buf_printf(out,
                       "refproxy_request_duration_seconds_bucket{service=\"%s\",le=\"%s\"} %" PRIu64
                       "\n",
                       name, bucket_le[k], cum);
        }
        uint64_t count = rd(&sums[i].duration_count);
        buf_printf(out,
                   "refproxy_request_duration_seconds_bucket{service=\"%s\",le=\"+Inf\"} %" PRIu64
                   "\n"
                   "refproxy_request_duration_seconds_sum{service=\"%s\"} %.6f\n"
                   "refproxy_request_duration_seconds_count{service=\"%s\"} %" PRIu64 "\n",
                   name, count, name, (double)rd(&sums[i].duration_sum_us) / 1e6, name, count);
    }

    buf_puts(out, "# HELP refproxy_upstream_errors_total Upstream failures, by kind.\n"
                  "# TYPE refproxy_upstream_errors_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < UPERR_KINDS; k++)
            buf_printf(out,
                       "refproxy_upstream_errors_total{service=\"%s\",kind=\"%s\"} %" PRIu64 "\n",
                       cfg->services[i].name, uperr_names[k], rd(&sums[i].upstream_errors[k]));

    buf_puts(out, "# HELP refproxy_connections_active Open client connections.\n"
                  "# TYPE refproxy_connections_active gauge\n");
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "refproxy_connections_active{service=\"%s\"} %" PRId64 "\n",
                   cfg->services[i].name, conns[i] < 0 ? 0 : conns[i]);
    free(sums);
    free(conns);
}
