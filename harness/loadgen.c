/*
 * loadgen: open-loop load over libcurl multi, latency from the due time. See loadgen.h.
 *
 * Why the connection budget (issue 17): the first version capped curl's
 * connection cache at 2048 while requests go round-robin over the services,
 * so past 2048 services no connection was ever reused. Every request paid a
 * TCP set-up, curl evicted the oldest cached connection each time, the
 * transfers piled up to the in-flight cap and curl_multi_perform, which walks
 * every transfer, slowed with them: at 10,000 services and 2 requests/s each,
 * 0.1 requests/s per service got through and 97% of requests were never sent.
 * Now the cache holds one connection per service when the fds allow it.
 */
#include "loadgen.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procstat.h"

#define DRAIN_S 2.0
#define CONNECT_TIMEOUT_MS 2000L
/* fds left to the rest of the harness: target pipes, fetches, files being written */
#define FD_RESERVE 256

void loadgen_hist_add(struct loadgen_hist *h, uint64_t us)
{
    int b = us < 1 ? 0 : (int)floor(log2((double)us) * 8.0);
    if (b >= LOADGEN_BUCKETS)
        b = LOADGEN_BUCKETS - 1;
    h->count[b]++;
    h->total++;
    if (us > h->max_us)
        h->max_us = us;
}

uint64_t loadgen_hist_quantile(const struct loadgen_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->total), seen = 0;
    if (want < 1)
        want = 1;
    for (int b = 0; b < LOADGEN_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= want) {
            uint64_t upper = (uint64_t)ceil(exp2((b + 1) / 8.0));
            return upper < h->max_us ? upper : h->max_us;
        }
    }
    return h->max_us;
}

size_t loadgen_connection_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 64;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    rlim_t limit = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_cur;
    if (limit > (rlim_t)1 << 20)
        limit = (rlim_t)1 << 20;
    return limit > 2 * FD_RESERVE ? (size_t)(limit - FD_RESERVE) : (size_t)limit / 2;
}

struct loadgen;
struct shard {
    struct loadgen *lg;
    uint32_t index;
    CURLM *multi;
    double deadline; /* when curl wants CURL_SOCKET_TIMEOUT (on_timer); INFINITY: never */
    bool dirty;      /* something happened: read its finished transfers */
};

struct request {
    CURL *easy;
    struct shard *shard; /* the multi it was last added to */
    double due;
    bool recorded, busy;
};

struct loadgen {
    char **urls;
    size_t n;
    double rps, from, until;
    struct loadgen_opts opts;
    atomic_bool cancel;
    pthread_t thread;
    struct loadgen_hist hist;
    uint64_t requests, errors, good;
    uint64_t by_kind[LOAD_ERR_KINDS];
    uint64_t sockets_opened, sockets_open, sockets_peak;
    struct request *reqs; /* opts.max_in_flight slots */
    size_t *free_slots;   /* a stack of the indexes of idle slots */
    size_t num_free, in_flight;
    size_t persistent;    /* services [0, persistent) keep keep-alive connections */
    struct shard *shards; /* service i belongs to shards[i % num_shards] */
    size_t num_shards;
    int epfd; /* every shard's sockets; data.u64 = shard index << 32 | fd */
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}

/* Socket callbacks, so the figures say how many connections were opened and
 * how many fds the generator held at most. Only the generator's thread runs them. */
static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct loadgen *lg = data;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    lg->sockets_opened++;
    if (++lg->sockets_open > lg->sockets_peak)
        lg->sockets_peak = lg->sockets_open;
    return fd;
}

static int close_socket(void *data, curl_socket_t fd)
{
    struct loadgen *lg = data;
    lg->sockets_open--;
    return close(fd);
}

static enum load_error_kind error_kind(CURLcode res, long status)
{
    switch (res) {
    case CURLE_OK:
        return status >= 500 ? LOAD_ERR_STATUS_5XX : LOAD_ERR_STATUS_OTHER;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return LOAD_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return LOAD_ERR_TIMEOUT;
    default:
        return LOAD_ERR_TRANSPORT;
    }
}

static void count_error(struct loadgen *lg, enum load_error_kind k)
{
    lg->errors++;
    lg->by_kind[k]++;
}

static void finish_request(struct loadgen *lg, struct request *r, CURLcode res, double now)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    bool ok = res == CURLE_OK && status >= 200 && status < 400;
    if (r->recorded) {
        if (ok) {
            lg->good++;
            double us = (now - r->due) * 1e6;
            loadgen_hist_add(&lg->hist, us > 0 ? (uint64_t)us : 0);
        } else {
            count_error(lg, error_kind(res, status));
        }
    }
    r->busy = false;
    lg->free_slots[lg->num_free++] = (size_t)(r - lg->reqs);
    lg->in_flight--;
}

static CURL *new_easy(struct loadgen *lg, struct request *r)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    long connect_ms =
        lg->opts.timeout_ms < CONNECT_TIMEOUT_MS ? lg->opts.timeout_ms : CONNECT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, lg->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    /* every service is a host:port of its own in curl's resolver cache, which is
     * pruned on every request while its entries can expire: never let them */
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, lg);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, lg);
    return e;
}

/* Sends request j (due at `due`) in a free slot; without one it is counted as not sent. */
static void send_request(struct loadgen *lg, uint64_t j, double due)
{
    bool recorded = due >= lg->from;
    lg->requests += recorded;
    struct request *r = lg->num_free ? &lg->reqs[lg->free_slots[lg->num_free - 1]] : NULL;
    if (r && !r->easy)
        r->easy = new_easy(lg, r);
    if (!r || !r->easy) {
        if (recorded)
            count_error(lg, LOAD_ERR_NOT_SENT);
        return;
    }
    lg->num_free--;
    lg->in_flight++;
    size_t service = (size_t)(j % lg->n);
    curl_easy_setopt(r->easy, CURLOPT_URL, lg->urls[service]);
    /* past the persistent services a request takes a connection of its own and closes
     * it, so the cached ones are never evicted for it */
    long one_shot = service >= lg->persistent;
    curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, one_shot);
    curl_easy_setopt(r->easy, CURLOPT_FORBID_REUSE, one_shot);
    r->due = due;
    r->recorded = recorded;
    r->busy = true;
    r->shard = &lg->shards[service % lg->num_shards];
    if (curl_multi_add_handle(r->shard->multi, r->easy) != CURLM_OK) {
        /* never on the wire: free the slot (else the drain waits for it) and say so */
        r->busy = false;
        lg->free_slots[lg->num_free++] = (size_t)(r - lg->reqs);
        lg->in_flight--;
        if (recorded)
            count_error(lg, LOAD_ERR_NOT_SENT);
    }
}

/* curl's socket callback: keep the epoll set in step with what curl waits for. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *data, void *socketp)
{
    struct shard *sh = data;
    int epfd = sh->lg->epfd;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.data.u64 = (uint64_t)sh->index << 32 | (uint32_t)fd};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* curl's timer callback: a one-shot timer, -1 to delete it. */
static int on_timer(CURLM *multi, long timeout_ms, void *data)
{
    struct shard *sh = data;
    sh->deadline = timeout_ms < 0 ? INFINITY : procstat_now() + (double)timeout_ms / 1000.0;
    return 0;
}

static void reap(struct loadgen *lg, struct shard *sh)
{
    CURLMsg *m;
    int left;
    double done_at = procstat_now();
    sh->dirty = false;
    while ((m = curl_multi_info_read(sh->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct request *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode res = m->data.result;
        curl_multi_remove_handle(sh->multi, m->easy_handle);
        finish_request(lg, r, res, done_at);
    }
}

/* Runs every shard whose timer is due; returns the earliest timer left. */
static double run_timers(struct loadgen *lg)
{
    int running;
    double now = procstat_now(), next = INFINITY;
    for (size_t s = 0; s < lg->num_shards; s++) {
        struct shard *sh = &lg->shards[s];
        if (sh->deadline <= now) {
            sh->deadline = INFINITY; /* one-shot: on_timer sets the next one */
            curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            sh->dirty = true;
        }
        if (sh->dirty)
            reap(lg, sh);
        next = fmin(next, sh->deadline);
    }
    return next;
}

/* The event loop: curl's socket interface over one epoll set, so a wake-up
 * costs what happened rather than a walk over every transfer in flight. */
static void *run(void *arg)
{
    struct loadgen *lg = arg;
    double interval = 1.0 / (lg->rps * (double)lg->n);
    double start = procstat_now();
    uint64_t j = 0;
    struct epoll_event events[256];
    for (;;) {
        double now = procstat_now();
        bool cancel = atomic_load(&lg->cancel), sending = now < lg->until && !cancel;
        if (!sending && (lg->in_flight == 0 || now > lg->until + DRAIN_S || cancel))
            break;
        for (; sending; j++) {
            double due = start + (double)j * interval;
            if (due > now || due >= lg->until)
                break;
            send_request(lg, j, due);
        }
        double wake = run_timers(lg);
        /* sleep until the next due request (at most 1 ms late: the latency counts it),
         * a curl timer, or socket activity */
        if (sending)
            wake = fmin(wake, start + (double)j * interval);
        double wait_ms = ceil((wake - procstat_now()) * 1000.0);
        int got = epoll_wait(lg->epfd, events, 256, (int)fmax(0, fmin(wait_ms, 50)));
        for (int e = 0; e < got; e++) {
            struct shard *sh = &lg->shards[events[e].data.u64 >> 32];
            int fd = (int)(events[e].data.u64 & 0xffffffffu), running;
            uint32_t ev = events[e].events;
            int mask = (ev & EPOLLIN ? CURL_CSELECT_IN : 0) |
                       (ev & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                       (ev & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(sh->multi, fd, mask, &running);
            sh->dirty = true;
        }
        for (size_t s = 0; got > 0 && s < lg->num_shards; s++)
            if (lg->shards[s].dirty)
                reap(lg, &lg->shards[s]);
    }
    /* whatever is still in flight after the drain was not answered in time */
    for (size_t k = 0; k < lg->opts.max_in_flight; k++) {
        struct request *r = &lg->reqs[k];
        if (!r->easy)
            continue;
        if (r->busy) {
            curl_multi_remove_handle(r->shard->multi, r->easy);
            if (r->recorded)
                count_error(lg, LOAD_ERR_TIMEOUT);
        }
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    return NULL;
}

/* Services per curl multi handle. With Debian 12's curl 7.88, perf put most of
 * the generator's time in a loop over a multi's whole connection cache that runs
 * for every finished transfer, so one multi holding a connection per service
 * cost O(services) per request. 10,000 services at 0.2 requests/s each, one
 * multi: median latency 131 ms, p99 2 s; in shards of 64: 1.1 ms and 13 ms. */
#define SHARD_SERVICES 64

static int init_shards(struct loadgen *lg)
{
    lg->num_shards = (lg->n + SHARD_SERVICES - 1) / SHARD_SERVICES;
    lg->shards = calloc(lg->num_shards, sizeof *lg->shards);
    if (!lg->shards)
        return -1;
    /* A keep-alive connection per service when the budget allows. Otherwise the first
     * services keep theirs and the rest open one per request: an LRU cache smaller
     * than the round-robin over services would reuse nothing at all. A quarter of the
     * budget (at most the in-flight cap) stays for those one-shot connections. */
    size_t conns = lg->opts.max_connections;
    size_t spare = conns / 4 < lg->opts.max_in_flight ? conns / 4 : lg->opts.max_in_flight;
    lg->persistent = lg->n <= conns - spare ? lg->n : conns - spare;
    /* a shard's idle cache and its total both hold its share of the budget */
    long share = (long)(conns / lg->num_shards);
    if (share < 1)
        share = 1;
    /* several connections to one service only when it has several requests in flight;
     * capped so that a slow service queues (its latency shows it) instead of taking
     * the whole budget */
    size_t per_service = lg->opts.max_in_flight / lg->n;
    long per_host = per_service < 4 ? 4 : per_service > 64 ? 64 : (long)per_service;
    for (size_t s = 0; s < lg->num_shards; s++) {
        struct shard *sh = &lg->shards[s];
        sh->lg = lg;
        sh->index = (uint32_t)s;
        sh->deadline = INFINITY;
        if (!(sh->multi = curl_multi_init()))
            return -1;
        curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, share);
        curl_multi_setopt(sh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, share);
        curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
    }
    return 0;
}

static void free_lg(struct loadgen *lg)
{
    if (!lg)
        return;
    for (size_t i = 0; lg->urls && i < lg->n; i++)
        free(lg->urls[i]);
    free(lg->urls);
    free(lg->reqs);
    free(lg->free_slots);
    for (size_t s = 0; lg->shards && s < lg->num_shards; s++)
        if (lg->shards[s].multi)
            curl_multi_cleanup(lg->shards[s].multi); /* closes the cached connections */
    free(lg->shards);
    if (lg->epfd >= 0)
        close(lg->epfd);
    free(lg);
}

struct loadgen *loadgen_start(char *const *urls, size_t n, double rps, double record_from,
                              double record_until, const struct loadgen_opts *opts, char **err)
{
    *err = NULL;
    if (n == 0 || !(rps > 0)) {
        *err = strdup("load: no services or no rate");
        return NULL;
    }
    struct loadgen *lg = calloc(1, sizeof *lg);
    if (lg) {
        lg->n = n;
        lg->epfd = -1;
        if (opts)
            lg->opts = *opts;
        if (!lg->opts.max_in_flight)
            lg->opts.max_in_flight = LOADGEN_MAX_IN_FLIGHT;
        if (!lg->opts.max_connections)
            lg->opts.max_connections = loadgen_connection_budget();
        if (lg->opts.timeout_ms <= 0)
            lg->opts.timeout_ms = LOADGEN_TIMEOUT_MS;
        lg->urls = calloc(n, sizeof *lg->urls);
        lg->epfd = epoll_create1(EPOLL_CLOEXEC);
        lg->reqs = calloc(lg->opts.max_in_flight, sizeof *lg->reqs);
        lg->free_slots = calloc(lg->opts.max_in_flight, sizeof *lg->free_slots);
    }
    bool ok = lg && lg->urls && lg->reqs && lg->free_slots && lg->epfd >= 0;
    ok = ok && init_shards(lg) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = (lg->urls[i] = strdup(urls[i])) != NULL;
    if (!ok) {
        free_lg(lg);
        *err = strdup("load generator: out of memory or file descriptors");
        return NULL;
    }
    /* popped from the end: slot 0 goes first */
    for (size_t k = 0; k < lg->opts.max_in_flight; k++)
        lg->free_slots[k] = lg->opts.max_in_flight - 1 - k;
    lg->num_free = lg->opts.max_in_flight;
    lg->rps = rps;
    lg->from = record_from;
    lg->until = record_until;
    atomic_init(&lg->cancel, false);
    int rc = pthread_create(&lg->thread, NULL, run, lg);
    if (rc != 0) {
        if (asprintf(err, "load generator thread: %s", strerror(rc)) < 0)
            *err = NULL;
        free_lg(lg);
        return NULL;
    }
    return lg;
}

void loadgen_cancel(struct loadgen *lg)
{
    atomic_store(&lg->cancel, true);
}

void loadgen_figures(const struct loadgen_result *r, struct load_figures *f)
{
    f->rps_target = r->rps_target;
    f->rps_achieved = r->rps_achieved;
    f->requests = (double)r->requests;
    f->errors = (double)r->errors;
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        f->by_kind[k] = (double)r->errors_by_kind[k];
}

void loadgen_finish(struct loadgen *lg, struct loadgen_result *out)
{
    pthread_join(lg->thread, NULL);
    double window = lg->until - lg->from;
    memset(out, 0, sizeof *out);
    out->rps_target = lg->rps;
    out->requests = lg->requests;
    out->errors = lg->errors;
    memcpy(out->errors_by_kind, lg->by_kind, sizeof out->errors_by_kind);
    out->rps_achieved = window > 0 ? (double)lg->good / window / (double)lg->n : 0;
    out->p50_us = loadgen_hist_quantile(&lg->hist, 0.50);
    out->p90_us = loadgen_hist_quantile(&lg->hist, 0.90);
    out->p99_us = loadgen_hist_quantile(&lg->hist, 0.99);
    out->max_us = lg->hist.max_us;
    out->connections_opened = lg->sockets_opened;
    out->connections_peak = lg->sockets_peak;
    out->connection_budget = lg->opts.max_connections;
    out->kept_alive = lg->persistent;
    out->short_of_target = out->rps_achieved < LOAD_RULE_MIN_RATE_SHARE * lg->rps;
    struct load_figures f;
    loadgen_figures(out, &f);
    out->underloaded = load_rule_underloaded(&f);
    free_lg(lg);
}
