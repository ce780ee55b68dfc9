/* loadgen: open-loop load over libcurl multi, latency from the due time. See loadgen.h. */
#include "loadgen.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procstat.h"

/* In flight at once; beyond this the generator itself is the bottleneck and says so. */
#define MAX_IN_FLIGHT 2048
#define DRAIN_S 2.0

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

struct request {
    CURL *easy;
    double due;
    bool recorded;
    bool busy;
};

struct loadgen {
    char **urls;
    size_t n;
    double rps, from, until;
    atomic_bool cancel;
    pthread_t thread;
    struct loadgen_hist hist;
    uint64_t requests, errors, good;
    struct request *reqs; /* MAX_IN_FLIGHT slots */
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
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
            lg->errors++;
        }
    }
    r->busy = false;
}

static void *run(void *arg)
{
    struct loadgen *lg = arg;
    CURLM *multi = curl_multi_init();
    if (!multi)
        return NULL;
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)MAX_IN_FLIGHT);
    double interval = 1.0 / (lg->rps * (double)lg->n);
    double start = procstat_now();
    uint64_t j = 0;
    size_t in_flight = 0;
    for (;;) {
        double now = procstat_now();
        bool sending = now < lg->until && !atomic_load(&lg->cancel);
        if (!sending && (in_flight == 0 || now > lg->until + DRAIN_S || atomic_load(&lg->cancel)))
            break;
        while (sending) {
            double due = start + (double)j * interval;
            if (due > now || due >= lg->until)
                break;
            bool recorded = due >= lg->from;
            if (recorded)
                lg->requests++;
            struct request *r = NULL;
            for (size_t k = 0; k < MAX_IN_FLIGHT; k++)
                if (!lg->reqs[(j + k) % MAX_IN_FLIGHT].busy) {
                    r = &lg->reqs[(j + k) % MAX_IN_FLIGHT];
                    break;
                }
            if (!r) {
                lg->errors += recorded; /* the generator could not keep up */
            } else {
                if (!r->easy) {
                    r->easy = curl_easy_init();
                    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, discard);
                    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
                    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
                    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 5000L);
                    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
                    curl_easy_setopt(r->easy, CURLOPT_NOPROXY, "*");
                }
                curl_easy_setopt(r->easy, CURLOPT_URL, lg->urls[j % lg->n]);
                r->due = due;
                r->recorded = recorded;
                r->busy = true;
                curl_multi_add_handle(multi, r->easy);
                in_flight++;
            }
            j++;
        }
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        double done_at = procstat_now();
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct request *r = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            CURLcode res = m->data.result;
            curl_multi_remove_handle(multi, m->easy_handle);
            finish_request(lg, r, res, done_at);
            in_flight--;
        }
        double next = start + (double)j * interval;
        int wait_ms = (int)ceil((next - procstat_now()) * 1000.0);
        if (wait_ms > 50 || !sending)
            wait_ms = 50;
        if (wait_ms > 0)
            curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    /* whatever is still in flight after the drain counts as failed */
    for (size_t k = 0; k < MAX_IN_FLIGHT; k++) {
        struct request *r = &lg->reqs[k];
        if (r->busy) {
            curl_multi_remove_handle(multi, r->easy);
            lg->errors += r->recorded;
            r->busy = false;
        }
        if (r->easy)
            curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_multi_cleanup(multi);
    return NULL;
}

struct loadgen *loadgen_start(char *const *urls, size_t n, double rps, double record_from,
                              double record_until, char **err)
{
    *err = NULL;
    if (n == 0 || rps <= 0) {
        *err = strdup("load: no services or no rate");
        return NULL;
    }
    struct loadgen *lg = calloc(1, sizeof *lg);
    if (!lg || !(lg->urls = calloc(n, sizeof *lg->urls)) ||
        !(lg->reqs = calloc(MAX_IN_FLIGHT, sizeof *lg->reqs))) {
        if (lg)
            free(lg->urls);
        free(lg);
        *err = strdup("out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        lg->urls[i] = strdup(urls[i]);
    lg->n = n;
    lg->rps = rps;
    lg->from = record_from;
    lg->until = record_until;
    atomic_init(&lg->cancel, false);
    int rc = pthread_create(&lg->thread, NULL, run, lg);
    if (rc != 0) {
        if (asprintf(err, "load generator thread: %s", strerror(rc)) < 0)
            *err = NULL;
        for (size_t i = 0; i < n; i++)
            free(lg->urls[i]);
        free(lg->urls);
        free(lg->reqs);
        free(lg);
        return NULL;
    }
    return lg;
}

void loadgen_cancel(struct loadgen *lg)
{
    atomic_store(&lg->cancel, true);
}

void loadgen_finish(struct loadgen *lg, struct loadgen_result *out)
{
    pthread_join(lg->thread, NULL);
    double window = lg->until - lg->from;
    memset(out, 0, sizeof *out);
    out->rps_target = lg->rps;
    out->requests = lg->requests;
    out->errors = lg->errors;
    out->rps_achieved = window > 0 ? (double)lg->good / window / (double)lg->n : 0;
    out->p50_us = loadgen_hist_quantile(&lg->hist, 0.50);
    out->p90_us = loadgen_hist_quantile(&lg->hist, 0.90);
    out->p99_us = loadgen_hist_quantile(&lg->hist, 0.99);
    out->max_us = lg->hist.max_us;
    out->short_of_target = out->rps_achieved < 0.95 * lg->rps;
    for (size_t i = 0; i < lg->n; i++)
        free(lg->urls[i]);
    free(lg->urls);
    free(lg->reqs);
    free(lg);
}
