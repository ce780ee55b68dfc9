/* fetch: libcurl multi GETs with timeouts and capped bodies. See fetch.h. */
#include "fetch.h"

#include <stdio.h>
#include <string.h>

/* connect to loopback is instant when anything listens; a slow connect is a broken target */
#define CONNECT_TIMEOUT_MS 2000L

static volatile int *abort_flag;

void fetch_set_abort_flag(volatile int *flag)
{
    abort_flag = flag;
}

int fetch_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int fetcher_init(struct fetcher *f)
{
    f->multi = curl_multi_init();
    return f->multi ? 0 : -1;
}

void fetcher_free(struct fetcher *f)
{
    if (f->multi)
        curl_multi_cleanup(f->multi);
    f->multi = NULL;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct fetch *fx = userdata;
    if (buf_append(&fx->body, ptr, size * nmemb) < 0)
        return 0; /* over the cap: curl aborts with CURLE_WRITE_ERROR */
    return size * nmemb;
}

int fetch_start(struct fetcher *f, struct fetch *fx, const char *url, long timeout_ms,
                size_t max_bytes)
{
    memset(fx, 0, sizeof *fx);
    buf_init(&fx->body, max_bytes);
    fx->easy = curl_easy_init();
    if (!fx->easy) {
        snprintf(fx->error, sizeof fx->error, "curl_easy_init failed");
        fx->result = CURLE_FAILED_INIT; /* so fetch_error tells the failure, not "HTTP 0" */
        fx->done = true;
        return -1;
    }
    curl_easy_setopt(fx->easy, CURLOPT_URL, url);
    curl_easy_setopt(fx->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(fx->easy, CURLOPT_WRITEDATA, fx);
    curl_easy_setopt(fx->easy, CURLOPT_PRIVATE, fx);
    curl_easy_setopt(fx->easy, CURLOPT_ERRORBUFFER, fx->error);
    curl_easy_setopt(fx->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(fx->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(fx->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(fx->easy, CURLOPT_NOPROXY, "*"); /* never send loopback through a proxy */
    if (curl_multi_add_handle(f->multi, fx->easy) != CURLM_OK) {
        snprintf(fx->error, sizeof fx->error, "curl_multi_add_handle failed");
        curl_easy_cleanup(fx->easy);
        fx->easy = NULL;
        fx->result = CURLE_FAILED_INIT;
        fx->done = true;
        return -1;
    }
    return 0;
}

/* Marks the finished transfers done; returns how many finished. */
static int collect_done(struct fetcher *f)
{
    CURLMsg *m;
    int left, finished = 0;
    while ((m = curl_multi_info_read(f->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct fetch *fx = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&fx);
        if (!fx)
            continue;
        fx->result = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &fx->status);
        fx->done = true;
        finished++;
    }
    return finished;
}

void fetcher_run(struct fetcher *f, int wait_ms)
{
    int running = 0;
    curl_multi_perform(f->multi, &running);
    if (collect_done(f) || wait_ms <= 0 || running == 0)
        return;
    curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL);
    curl_multi_perform(f->multi, &running);
    collect_done(f);
}

int fetcher_active(struct fetcher *f)
{
    int running = 0;
    curl_multi_perform(f->multi, &running);
    collect_done(f);
    return running;
}

void fetch_cleanup(struct fetcher *f, struct fetch *fx)
{
    if (fx->easy) {
        curl_multi_remove_handle(f->multi, fx->easy);
        curl_easy_cleanup(fx->easy);
        fx->easy = NULL;
    }
    buf_free(&fx->body);
}

const char *fetch_error(const struct fetch *fx)
{
    static __thread char msg[CURL_ERROR_SIZE + 64];
    if (!fx->done)
        return "not finished";
    if (fx->result != CURLE_OK) {
        snprintf(msg, sizeof msg, "%s", fx->error[0] ? fx->error : curl_easy_strerror(fx->result));
        return msg;
    }
    snprintf(msg, sizeof msg, "HTTP %ld", fx->status);
    return msg;
}

int fetch_get(const char *url, long timeout_ms, size_t max_bytes, struct buf *body, long *status,
              char *err, size_t err_size)
{
    struct fetcher f;
    struct fetch fx;
    if (fetcher_init(&f) < 0) {
        snprintf(err, err_size, "curl_multi_init failed");
        return -1;
    }
    int rc = -1;
    if (fetch_start(&f, &fx, url, timeout_ms, max_bytes) == 0) {
        /* bounded: curl's own total timeout ends the transfer */
        while (!fx.done && !(abort_flag && *abort_flag))
            fetcher_run(&f, 100);
        if (!fx.done) {
            snprintf(err, err_size, "%s: interrupted", url);
        } else if (fx.result == CURLE_OK) {
            rc = 0;
            *status = fx.status;
            if (body) {
                buf_reset(body);
                if (buf_append(body, fx.body.data ? fx.body.data : "", fx.body.len) < 0) {
                    snprintf(err, err_size, "%s: body over the cap", url);
                    rc = -1;
                }
            }
        } else {
            snprintf(err, err_size, "%s: %s", url, fetch_error(&fx));
        }
    } else {
        snprintf(err, err_size, "%s: %s", url, fx.error);
    }
    fetch_cleanup(&f, &fx);
    fetcher_free(&f);
    return rc;
}
