/*
 * fetch: HTTP GETs through libcurl's multi interface, so the sweep can fetch
 * a CPU profile while it samples the process and checks for Ctrl-C.
 *
 * Every request has a connect timeout and a total timeout, and every body has
 * a size cap (a runaway endpoint is an error, not an out-of-memory).
 * curl_global_init must have run (fetch_global_init, once, before threads).
 */
#ifndef SCALEPROF_FETCH_H
#define SCALEPROF_FETCH_H

#include <curl/curl.h>
#include <stdbool.h>

#include "buf.h"

struct fetch {
    CURL *easy;
    struct buf body; /* owned; capped at the max given to fetch_start */
    long status;     /* HTTP status, 0 when none */
    CURLcode result;
    bool done;
    char error[CURL_ERROR_SIZE];
};

struct fetcher {
    CURLM *multi;
};

int fetch_global_init(void);
/* fetch_get gives up early (an error "interrupted") once *flag is non-zero, so a
 * signal to scaleprof is not held up by a slow endpoint. NULL: never. */
void fetch_set_abort_flag(volatile int *flag);
int fetcher_init(struct fetcher *f);
void fetcher_free(struct fetcher *f);
/* Starts GET url. 0 ok, -1 on setup failure (fx->error says why). */
int fetch_start(struct fetcher *f, struct fetch *fx, const char *url, long timeout_ms,
                size_t max_bytes);
/* Runs the transfers for at most wait_ms (returns early when one finishes).
 * Returns at once when no transfer is running. */
void fetcher_run(struct fetcher *f, int wait_ms);
/* Runs the transfers once; the number still running. */
int fetcher_active(struct fetcher *f);
/* Removes fx from f and frees it (body included). */
void fetch_cleanup(struct fetcher *f, struct fetch *fx);
/* A one-line description of a finished fetch's failure ("HTTP 404", curl's message). */
const char *fetch_error(const struct fetch *fx);

/* A blocking GET with its own multi handle. 0 when an HTTP answer arrived (any
 * status; *status says which), -1 otherwise with err filled. */
int fetch_get(const char *url, long timeout_ms, size_t max_bytes, struct buf *body, long *status,
              char *err, size_t err_size);

#endif
