/*
 * pprof: the /debug/pprof/ endpoints (also under /pprof/), answering the way
 * Go's net/http/pprof does so google-pprof (perl), go tool pprof and the
 * standalone pprof all read them: CPU profile windows, heap profiles,
 * symbols, cmdline, threads and an index. See pprof.h.
 *
 * One CPU profile at a time (gperftools has one profiler per process): the
 * window is a timed condition wait in the handler thread, so nothing else
 * blocks and admin_stop can end it early.
 */
#include "pprof.h"

#include <errno.h>
#include <gperftools/profiler.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "profiling.h"
#include "symbolize.h"
#include "tcmalloc_compat.h"
#include "threads.h"

#define PPROF_DEFAULT_SECONDS 30
#define PPROF_FALLBACK_CAP 300

static pthread_mutex_t prof_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t prof_cv;
static pthread_once_t prof_once = PTHREAD_ONCE_INIT;
static bool prof_active, prof_shutdown;

/*
 * Samples per thread in the last CPU profile window. gperftools' profile
 * format has no thread identity, so the profiler's filter_in_thread hook
 * (called in the SIGPROF handler of the thread that got the signal) counts
 * them here: it proves the per-thread timers put samples on the threads that
 * burned the CPU. Async-signal-safe: gettid and atomics on a fixed table.
 */
#define SAMPLE_SLOTS 4096
static _Atomic int sample_tid[SAMPLE_SLOTS];
static _Atomic unsigned sample_count[SAMPLE_SLOTS];

static int count_sample(void *arg)
{
    (void)arg;
    int tid = (int)syscall(SYS_gettid);
    unsigned h = ((unsigned)tid * 2654435761u) % SAMPLE_SLOTS;
    for (unsigned i = 0; i < SAMPLE_SLOTS; i++, h = (h + 1) % SAMPLE_SLOTS) {
        int cur = atomic_load_explicit(&sample_tid[h], memory_order_relaxed);
        if (cur == 0) {
            int zero = 0;
            if (!atomic_compare_exchange_strong(&sample_tid[h], &zero, tid) && zero != tid)
                continue;
            cur = tid;
        }
        if (cur == tid) {
            atomic_fetch_add_explicit(&sample_count[h], 1, memory_order_relaxed);
            break;
        }
    }
    return 1; /* keep every sample */
}

static void samples_reset(void)
{
    for (unsigned i = 0; i < SAMPLE_SLOTS; i++) {
        atomic_store(&sample_count[i], 0);
        atomic_store(&sample_tid[i], 0);
    }
}

unsigned pprof_thread_samples(int tid)
{
    unsigned h = ((unsigned)tid * 2654435761u) % SAMPLE_SLOTS;
    for (unsigned i = 0; i < SAMPLE_SLOTS; i++, h = (h + 1) % SAMPLE_SLOTS) {
        int cur = atomic_load(&sample_tid[h]);
        if (cur == tid)
            return atomic_load(&sample_count[h]);
        if (cur == 0)
            return 0;
    }
    return 0;
}

static void prof_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&prof_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void pprof_open(void)
{
    pthread_once(&prof_once, prof_init);
    pthread_mutex_lock(&prof_mu);
    prof_shutdown = false;
    pthread_mutex_unlock(&prof_mu);
}

void pprof_shutdown(void)
{
    pthread_once(&prof_once, prof_init);
    pthread_mutex_lock(&prof_mu);
    prof_shutdown = true;
    pthread_cond_broadcast(&prof_cv);
    pthread_mutex_unlock(&prof_mu);
}

int pprof_cpu_profile_active(void)
{
    pthread_mutex_lock(&prof_mu);
    int active = prof_active;
    pthread_mutex_unlock(&prof_mu);
    return active;
}

bool pprof_parse_seconds(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

/* Finds key in an "a=b&c=d" query; *val points into query. */
static bool query_get(const char *query, size_t qlen, const char *key, const char **val,
                      size_t *vlen)
{
    size_t klen = strlen(key);
    const char *p = query, *end = query + qlen;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            *val = p + klen + 1;
            *vlen = (size_t)(stop - *val);
            return true;
        }
        p = stop + 1;
    }
    return false;
}

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(out, chunk, n) < 0) {
            rc = -1;
            break;
        }
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

static void handle_profile(const struct pprof_env *env, const char *query, size_t qlen,
                           struct admin_reply *r)
{
    uint32_t cap = env->cfg->limits.max_profile_seconds;
    if (!cap)
        cap = PPROF_FALLBACK_CAP;
    uint32_t seconds = PPROF_DEFAULT_SECONDS;
    const char *v;
    size_t vlen;
    if (query_get(query, qlen, "seconds", &v, &vlen) && !pprof_parse_seconds(v, vlen, &seconds)) {
        admin_reply_text(r, 400, "seconds=%.*s is not a positive integer",
                         (int)(vlen > 32 ? 32 : vlen), v);
        return;
    }
    if (seconds > cap) {
        admin_reply_text(r, 400, "seconds=%u is above the cap of %u (limits.maxProfileSeconds)",
                         seconds, cap);
        return;
    }

    pthread_once(&prof_once, prof_init);
    pthread_mutex_lock(&prof_mu);
    if (prof_shutdown) {
        pthread_mutex_unlock(&prof_mu);
        admin_reply_text(r, 503, "refproxy is shutting down");
        return;
    }
    struct ProfilerState st;
    ProfilerGetCurrentState(&st);
    if (prof_active || st.enabled) {
        pthread_mutex_unlock(&prof_mu);
        admin_reply_text(r, 409, "a CPU profile is already running; retry when it ends");
        return;
    }
    prof_active = true;
    pthread_mutex_unlock(&prof_mu);

    /* A private directory: nobody else can swap the file under us. */
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], path[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/refproxy-prof-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        admin_reply_text(r, 500, "mkdtemp %s: %s", dir, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof(path), "%s/cpu.prof", dir);
    struct ProfilerOptions opts = {.filter_in_thread = count_sample, .filter_in_thread_arg = NULL};
    samples_reset(); /* no window is open: nothing counts concurrently */
    if (!ProfilerStartWithOptions(path, &opts)) {
        admin_reply_text(r, 409,
                         "the gperftools CPU profiler would not start "
                         "(another profile running?)");
        rmdir(dir);
        goto done;
    }

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&prof_mu);
    /* A condition wait is immune to SIGPROF (it never fails with EINTR) and
     * lets admin_stop end the window. */
    while (!prof_shutdown)
        if (pthread_cond_timedwait(&prof_cv, &prof_mu, &deadline) == ETIMEDOUT)
            break;
    bool cut_short = prof_shutdown;
    pthread_mutex_unlock(&prof_mu);

    ProfilerStop();
    if (cut_short) {
        admin_reply_text(r, 503, "refproxy is shutting down; profile discarded");
    } else if (read_file(path, &r->body) < 0) {
        admin_reply_text(r, 500, "cannot read the profile: %s", strerror(errno));
    } else {
        r->status = 200;
        r->content_type = "application/octet-stream";
    }
    unlink(path);
    rmdir(dir);
done:
    pthread_mutex_lock(&prof_mu);
    prof_active = false;
    pthread_mutex_unlock(&prof_mu);
}

static void handle_heap(struct admin_reply *r)
{
    if (profiling_heap_problem()) {
        admin_reply_text(r, 501, "%s", profiling_heap_problem());
        return;
    }
    if (!profiling_heap_enabled()) {
        admin_reply_text(r, 404,
                         "heap profiling is off: start refproxy with --heap-profile "
                         "(or heapProfile: true in the config) to serve /debug/pprof/heap");
        return;
    }
    char *p = GetHeapProfile();
    if (!p) {
        admin_reply_text(r, 500, "GetHeapProfile failed");
        return;
    }
    r->status = 200;
    r->content_type = "text/plain; charset=utf-8";
    if (buf_puts(&r->body, p) < 0)
        admin_reply_text(r, 500, "heap profile too large");
    free(p);
}

static void handle_symbol(const struct pprof_request *req, struct admin_reply *r)
{
    if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
        /* Any N > 0 tells the clients symbols are available. */
        admin_reply_text(r, 200, "num_symbols: 1");
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        admin_reply_text(r, 405, "use GET, HEAD or POST");
        return;
    }
    r->status = 200;
    r->content_type = "text/plain; charset=utf-8";
    if (symbolize_post(req->body, req->body_len, &r->body) < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", r->body.data ? r->body.data : "symbolization failed");
        admin_reply_text(r, 400, "%s", msg);
    }
}

static void handle_cmdline(const struct pprof_env *env, struct admin_reply *r)
{
    r->status = 200;
    r->content_type = "text/plain; charset=utf-8";
    for (int i = 0; i < env->argc; i++)
        buf_printf(&r->body, "%s%s", i ? "\n" : "", env->argv[i]);
}

static void handle_mallocstats(struct admin_reply *r)
{
    char text[16384];
    MallocExtension_GetStats(text, sizeof(text));
    admin_reply_text(r, 200, "%s", text);
}

static void handle_index(struct admin_reply *r)
{
    r->status = 200;
    r->content_type = "text/html; charset=utf-8";
    buf_puts(&r->body,
             "<html><head><title>refproxy /debug/pprof/</title></head><body>\n"
             "<h1>refproxy /debug/pprof/</h1>\n<p>gperftools profiles, readable by "
             "google-pprof, go tool pprof and pprof (also under /pprof/).</p>\n<ul>\n"
             "<li><a href=\"profile?seconds=30\">profile</a>?seconds=N: CPU profile over N "
             "seconds (gperftools binary format; one at a time, 409 otherwise)</li>\n"
             "<li><a href=\"heap\">heap</a>: heap profile (needs --heap-profile)</li>\n"
             "<li><a href=\"symbol\">symbol</a>: GET num_symbols, POST 0xADDR+0xADDR... "
             "to resolve addresses</li>\n"
             "<li><a href=\"cmdline\">cmdline</a>: argv, one per line</li>\n"
             "<li><a href=\"threads\">threads</a>: every thread with its name, state and "
             "CPU time; counts per name prefix</li>\n"
             "<li><a href=\"mallocstats\">mallocstats</a>: tcmalloc statistics</li>\n"
             "</ul>\n<p>Also: <a href=\"/metrics\">/metrics</a>, "
             "<a href=\"/healthz\">/healthz</a>.</p>\n</body></html>\n");
}

bool pprof_handle(const struct pprof_env *env, const struct pprof_request *req,
                  struct admin_reply *r)
{
    const char *path = req->path, *query = req->query;
    size_t qlen = strlen(query);
    char page_buf[64];

    /* google-pprof (perl) given ".../debug/pprof/profile?seconds=2" takes the
     * whole URL as its base and appends its own page to it:
     * "/debug/pprof/profile?seconds=2/pprof/symbol". The page it meant is
     * after the last "/pprof/"; the user's own query comes before it. */
    const char *appended = NULL;
    for (const char *p = strstr(query, "/pprof/"); p; p = strstr(p + 1, "/pprof/"))
        appended = p;
    const char *page_query = "";
    if (appended) {
        qlen = (size_t)(appended - query);
        const char *page = appended + 7;
        const char *pq = strchr(page, '?');
        size_t plen = pq ? (size_t)(pq - page) : strlen(page);
        snprintf(page_buf, sizeof(page_buf), "/pprof/%.*s", (int)(plen > 40 ? 40 : plen), page);
        path = page_buf;
        page_query = pq ? pq + 1 : "";
        /* The user's ?seconds= wins over the tool's default --seconds. */
        const char *v;
        size_t vlen;
        if (!query_get(query, qlen, "seconds", &v, &vlen)) {
            query = page_query;
            qlen = strlen(page_query);
        }
    }

    if (!strncmp(path, "/debug/pprof", 12))
        path += 6;
    if (strncmp(path, "/pprof", 6) != 0 || (path[6] != '/' && path[6] != '\0'))
        return false;
    const char *name = path[6] ? path + 7 : "";

    bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (strcmp(name, "symbol") != 0 && !get) {
        admin_reply_text(r, 405, "use GET");
        return true;
    }
    if (!*name)
        handle_index(r);
    else if (!strcmp(name, "profile"))
        handle_profile(env, query, qlen, r);
    else if (!strcmp(name, "heap"))
        handle_heap(r);
    else if (!strcmp(name, "symbol"))
        handle_symbol(req, r);
    else if (!strcmp(name, "cmdline"))
        handle_cmdline(env, r);
    else if (!strcmp(name, "threads")) {
        r->status = 200;
        r->content_type = "text/plain; charset=utf-8";
        if (threads_write(&r->body, pprof_thread_samples) < 0)
            admin_reply_text(r, 500, "cannot read /proc/self/task");
    } else if (!strcmp(name, "mallocstats"))
        handle_mallocstats(r);
    else
        admin_reply_text(r, 404, "unknown profile %s (see /debug/pprof/)", name);
    return true;
}
