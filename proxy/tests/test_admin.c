/*
 * test_admin: the admin listener and its pprof endpoints, over real loopback
 * sockets. Includes admin.c to reach its static functions (their addresses
 * are what /debug/pprof/symbol must resolve) and its connection count.
 * server.c and tasks are stubbed: this tests the admin on its own.
 */
#include "../admin.c"

#include "tcmalloc_compat.h"
#include "threads.h"
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cmocka.h>

/* ---------- stubs for the parts of refproxy the admin reports on ---------- */

void server_write_metrics(struct server *srv, struct buf *out)
{
    (void)srv;
    buf_puts(out, "# HELP refproxy_stub_requests_total Stub.\n"
                  "# TYPE refproxy_stub_requests_total counter\n"
                  "refproxy_stub_requests_total 0\n");
}

void tasks_write_metrics(struct buf *out)
{
    (void)out;
}

const char *architecture_name(enum architecture arch)
{
    return arch == ARCH_SHARED ? "shared" : "per-service";
}

/* ---------- fixtures and a tiny blocking HTTP client ---------- */

static char *test_argv[] = {"refproxy", "--config", "cfg with spaces.yaml", NULL};

struct fixture {
    struct config cfg;
    struct admin *a;
    int port;
    char token_path[64];
};

static void config_for_test(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&cfg->admin;
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s4->sin_port = 0;
    cfg->admin_len = sizeof(*s4);
    cfg->admin_text = "127.0.0.1:0";
    cfg->workers = 1;
    cfg->limits.max_profile_seconds = 5;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    config_for_test(&f->cfg);
    char *err = NULL;
    static int fake_server; /* the stubs never look inside */
    f->a = admin_start(&f->cfg, (struct server *)&fake_server, 3, test_argv, &err);
    if (!f->a) {
        fprintf(stderr, "admin_start: %s\n", err);
        return -1;
    }
    f->port = admin_port(f->a);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    admin_stop(f->a);
    if (f->token_path[0])
        unlink(f->token_path);
    free(f);
    return 0;
}

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct resp {
    int status;
    char *head;
    char *body; /* NUL-terminated */
    size_t body_len;
};

static void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
}

/* Sends raw bytes and reads the whole response (the admin closes). */
static struct resp exchange(int port, const char *raw, size_t raw_len)
{
    struct resp r = {0};
    int fd = connect_port(port);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, raw, raw_len), 0);
    struct buf in;
    buf_init(&in, 512u << 20);
    for (;;) {
        assert_int_equal(buf_reserve(&in, 65536), 0);
        ssize_t n = recv(fd, in.data + in.len, in.cap - in.len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        in.len += (size_t)n;
        in.data[in.len] = '\0';
    }
    close(fd);
    assert_non_null(in.data);
    char *sep = strstr(in.data, "\r\n\r\n");
    assert_non_null(sep);
    r.head = strndup(in.data, (size_t)(sep - in.data));
    r.body_len = in.len - (size_t)(sep + 4 - in.data);
    r.body = malloc(r.body_len + 1);
    memcpy(r.body, sep + 4, r.body_len);
    r.body[r.body_len] = '\0';
    r.status = atoi(in.data + 9);
    buf_free(&in);
    return r;
}

static int file_write(int fd, const char *p, size_t n)
{
    return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static struct resp request(int port, const char *method, const char *target, const char *extra,
                           const char *body)
{
    char *raw;
    size_t blen = body ? strlen(body) : 0;
    int n = asprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s\r\n%s", method, target,
                     extra ? extra : "", body ? "" : "", body ? body : "");
    assert_true(n > 0);
    if (body) {
        free(raw);
        n = asprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n%s",
                     method, target, extra ? extra : "", blen, body);
    }
    struct resp r = exchange(port, raw, (size_t)n);
    free(raw);
    return r;
}

static struct resp get(int port, const char *target)
{
    return request(port, "GET", target, NULL, NULL);
}

/* ---------- tests ---------- */

static void test_healthz_answers_ok(void **state)
{
    struct fixture *f = *state;
    struct resp r = get(f->port, "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    assert_non_null(strstr(r.head, "Connection: close"));
    resp_free(&r);
}

static void test_unknown_path_is_404_and_post_metrics_405(void **state)
{
    struct fixture *f = *state;
    struct resp r = get(f->port, "/etc/passwd");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = get(f->port, "/debug/pprof/nosuch");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = request(f->port, "POST", "/metrics", NULL, "x");
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

static void test_malformed_request_gets_parser_status(void **state)
{
    struct fixture *f = *state;
    static const char bad[] = "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    struct resp r = exchange(f->port, bad, sizeof(bad) - 1);
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

static void test_metrics_pass_promtool(void **state)
{
    struct fixture *f = *state;
    struct resp r = get(f->port, "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/plain; version=0.0.4"));
    static const char *must[] = {
        "# TYPE process_cpu_seconds_total counter\n",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_threads ",
        "\nprocess_open_fds ",
        "\nprocess_start_time_seconds ",
        "refproxy_info{version=\"" SCALEPROF_VERSION "\",architecture=\"shared\"} 1\n",
        "\nrefproxy_services 0\n",
        "\nrefproxy_stub_requests_total 0\n",
#ifdef HAVE_TCMALLOC /* allocator statistics exist only where tcmalloc is linked */
        "\ntcmalloc_current_allocated_bytes ",
        "\ntcmalloc_heap_size_bytes ",
#endif
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (!strstr(r.body, must[i]))
            fail_msg("/metrics lacks %s", must[i]);
    /* CPU seconds carry nanoseconds: nine decimals. */
    const char *cpu = strstr(r.body, "\nprocess_cpu_seconds_total ");
    const char *dot = strchr(cpu + 1, '.');
    assert_int_equal(strspn(dot + 1, "0123456789"), 9);
    /* The thread count is this process's. */
    const char *th = strstr(r.body, "\nprocess_threads ");
    unsigned long long f22[22];
    assert_int_equal(process_metrics_read_stat(f22, 22), 0);
    assert_true(strtoull(th + 17, NULL, 10) >= 2);

    char path[] = "/tmp/test_admin_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(file_write(fd, r.body, r.body_len), 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
    resp_free(&r);
}

static void test_profile_rejects_bad_seconds(void **state)
{
    struct fixture *f = *state;
    static const char *bad[] = {"abc", "0",  "-1", "1.5",         "",
                                "+2",  "2x", " 2", "99999999999", "6" /* above the cap of 5 */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char target[64];
        snprintf(target, sizeof(target), "/debug/pprof/profile?seconds=%s", bad[i]);
        for (char *p = target; *p; p++)
            if (*p == ' ')
                *p = '+'; /* a space is not a valid target byte; '+' still is no number */
        struct resp r = get(f->port, target);
        if (r.status != 400)
            fail_msg("seconds=%s gave %d, want 400", bad[i], r.status);
        assert_int_equal(pprof_cpu_profile_active(), 0);
        resp_free(&r);
    }
    struct resp r = get(f->port, "/debug/pprof/profile?seconds=6");
    assert_non_null(strstr(r.body, "cap of 5"));
    resp_free(&r);
}

struct profile_call {
    int port;
    const char *target;
    struct resp r;
};

static void *profile_thread(void *p)
{
    struct profile_call *c = p;
    c->r = get(c->port, c->target);
    return NULL;
}

static void burn_cpu_ms(int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i * 7;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

/* Total samples in a gperftools CPU profile: header [0, 3, 0, period, 0],
 * records [count, depth, pc...], trailer [0, 1, 0]. -1 if malformed. */
static long profile_total_samples(const char *data, size_t len)
{
    const uintptr_t *w = (const uintptr_t *)data;
    size_t n = len / sizeof(uintptr_t), i = 5;
    long total = 0;
    while (i + 2 <= n) {
        uintptr_t count = w[i], depth = w[i + 1];
        if (count == 0 && depth == 1)
            return total;
        if (depth > 256 || i + 2 + depth > n)
            return -1;
        total += (long)count;
        i += 2 + depth;
    }
    return -1;
}

/* Sum of the samples column (fifth) of /debug/pprof/threads section 1. */
static long threads_total_samples(const char *body)
{
    long total = 0;
    for (const char *line = body; line && *line;) {
        const char *next = strchr(line, '\n');
        if (*line == '#') {
            line = next ? next + 1 : NULL;
            continue;
        }
        const char *tab = line;
        for (int k = 0; k < 4 && tab; k++)
            tab = strchr(tab + 1, '\t');
        const char *eol = strchr(line, '\n');
        if (!tab || (eol && tab > eol))
            break; /* the group sections have three columns */
        total += strtol(tab + 1, NULL, 10);
        line = next ? next + 1 : NULL;
    }
    return total;
}

static void test_concurrent_profile_gets_409_first_unharmed(void **state)
{
    struct fixture *f = *state;
    struct profile_call first = {f->port, "/debug/pprof/profile?seconds=2", {0}};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, profile_thread, &first), 0);
    /* Readiness: wait (bounded) until the first window is open. */
    for (int i = 0; i < 500 && !pprof_cpu_profile_active(); i++)
        usleep(10000);
    if (!pprof_cpu_profile_active()) {
        pthread_join(tid, NULL);
        fail_msg("the first profile did not start: %d %s", first.r.status, first.r.body);
    }
    struct resp second = get(f->port, "/pprof/profile?seconds=1");
    assert_int_equal(second.status, 409);
    assert_non_null(strstr(second.body, "already running"));
    assert_non_null(strchr(second.body, '\n'));
    assert_ptr_equal(strchr(second.body, '\n'), second.body + second.body_len - 1);
    burn_cpu_ms(300);
    pthread_join(tid, NULL);
    assert_int_equal(first.r.status, 200);
    assert_non_null(strstr(first.r.head, "application/octet-stream"));
    /* gperftools CPU profile header: 0, 3 (header words), 0 (version),
     * sampling period in microseconds, 0 (padding). */
    assert_true(first.r.body_len >= 5 * sizeof(uintptr_t));
    uintptr_t hdr[5];
    memcpy(hdr, first.r.body, sizeof(hdr));
    assert_int_equal(hdr[0], 0);
    assert_int_equal(hdr[1], 3);
    assert_int_equal(hdr[2], 0);
    assert_true(hdr[3] > 0 && hdr[3] <= 1000000);
    assert_int_equal(pprof_cpu_profile_active(), 0);
    /* The per-thread sample counts of /debug/pprof/threads add up to the
     * profile's own sample count, and this (busy) test thread got some. */
    long in_profile = profile_total_samples(first.r.body, first.r.body_len);
    assert_true(in_profile > 0);
    struct resp th = get(f->port, "/debug/pprof/threads");
    assert_int_equal(threads_total_samples(th.body), in_profile);
    assert_true(pprof_thread_samples((int)syscall(SYS_gettid)) > 0);
    resp_free(&th);
    resp_free(&first.r);
    resp_free(&second);
}

static void test_heap_without_heap_profile_explains(void **state)
{
    struct fixture *f = *state;
    struct resp r = get(f->port, "/debug/pprof/heap");
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "--heap-profile"));
    assert_non_null(strstr(r.body, "heapProfile: true"));
    resp_free(&r);
}

static void test_symbol_get_and_head(void **state)
{
    struct fixture *f = *state;
    struct resp r = get(f->port, "/debug/pprof/symbol");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "num_symbols: 1\n");
    resp_free(&r);
    r = request(f->port, "HEAD", "/pprof/symbol", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    resp_free(&r);
}

static void test_symbol_post_resolves_static_functions_both_styles(void **state)
{
    struct fixture *f = *state;
    uintptr_t conn = (uintptr_t)conn_main, acc = (uintptr_t)accept_main + 3;
    char body[256];
    /* perl google-pprof zero-pads to 16 digits; go pprof does not. */
    snprintf(body, sizeof(body), "0x%016lx+0x%lx+0x1", (unsigned long)conn, (unsigned long)acc);
    struct resp r = request(f->port, "POST", "/debug/pprof/symbol", NULL, body);
    assert_int_equal(r.status, 200);
    char want[128];
    snprintf(want, sizeof(want), "0x%lx\tconn_main\n", (unsigned long)conn);
    if (!strstr(r.body, want))
        fail_msg("want %s in %s", want, r.body);
    snprintf(want, sizeof(want), "0x%lx\taccept_main\n", (unsigned long)acc);
    assert_non_null(strstr(r.body, want));
    /* 0x1 maps to nothing: no line for it. */
    assert_null(strstr(r.body, "0x1\t"));
    resp_free(&r);

    r = request(f->port, "POST", "/debug/pprof/symbol", NULL, "0xZZ+0x10");
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

static void test_symbol_post_over_cap_is_413(void **state)
{
    struct fixture *f = *state;
    static const char raw[] = "POST /debug/pprof/symbol HTTP/1.1\r\nHost: a\r\n"
                              "Content-Length: 99999999\r\n\r\n0x1";
    struct resp r = exchange(f->port, raw, sizeof(raw) - 1);
    assert_int_equal(r.status, 413);
    resp_free(&r);
}

static void test_cmdline_is_argv_by_lines(void **state)
{
    struct fixture *f = *state;
    struct resp r = get(f->port, "/debug/pprof/cmdline");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "refproxy\n--config\ncfg with spaces.yaml");
    resp_free(&r);
}

static void test_perl_pprof_appended_pages_route(void **state)
{
    struct fixture *f = *state;
    /* What google-pprof requests when given .../profile?seconds=2 as its URL. */
    struct resp r = get(f->port, "/debug/pprof/profile?seconds=2/pprof/symbol");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "num_symbols: 1\n");
    resp_free(&r);
    r = get(f->port, "/debug/pprof/profile?seconds=2/pprof/cmdline");
    assert_int_equal(r.status, 200);
    assert_int_equal(strncmp(r.body, "refproxy\n", 9), 0);
    resp_free(&r);
    /* The user's seconds win over the tool's; 9 is over the test cap of 5. */
    r = get(f->port, "/debug/pprof/profile?seconds=9/pprof/profile?seconds=1");
    assert_int_equal(r.status, 400);
    resp_free(&r);
}

static pthread_barrier_t names_ready;
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t names_cv = PTHREAD_COND_INITIALIZER;
static bool names_done;

static void *named_idle(void *p)
{
    (void)p;
    pthread_barrier_wait(&names_ready);
    pthread_mutex_lock(&names_mu);
    while (!names_done)
        pthread_cond_wait(&names_cv, &names_mu);
    pthread_mutex_unlock(&names_mu);
    return NULL;
}

static void test_threads_lists_every_thread_and_groups(void **state)
{
    struct fixture *f = *state;
    static const char *names[] = {"svc1/portlist", "svc2/portlist", "svc2/netmon", "w0", "w1"};
    enum { N = 5 };
    pthread_t tids[N];
    pthread_barrier_init(&names_ready, NULL, N + 1);
    names_done = false;
    for (int i = 0; i < N; i++)
        assert_int_equal(thread_start(&tids[i], names[i], 0, named_idle, NULL), 0);
    pthread_barrier_wait(&names_ready);

    struct resp r = get(f->port, "/debug/pprof/threads");
    assert_int_equal(r.status, 200);
    /* Every thread of the process right now has a line: compare with /proc. */
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int listed = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char comm[64], path[300], line[400];
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *cf = fopen(path, "r");
        if (!cf)
            continue;
        if (!fgets(comm, sizeof(comm), cf))
            comm[0] = '\0';
        fclose(cf);
        comm[strcspn(comm, "\n")] = '\0';
        if (!strcmp(comm, "admin/conn"))
            continue; /* the handler that served the request has exited or is exiting */
        snprintf(line, sizeof(line), "\n%s\t%s\t", e->d_name, comm);
        if (!strstr(r.body, line))
            fail_msg("thread %s (%s) missing from\n%s", e->d_name, comm, r.body);
        listed++;
    }
    closedir(d);
    assert_true(listed >= N + 2); /* main, admin, the five */
    assert_non_null(strstr(r.body, "\tadmin\t"));
    const char *prefix = strstr(r.body, "# by prefix\n");
    const char *role = strstr(r.body, "# by role\n");
    assert_non_null(prefix);
    assert_non_null(role);
    assert_true(strstr(prefix, "\nsvc1\t1\t") < role);
    assert_true(strstr(prefix, "\nsvc2\t2\t") < role);
    assert_true(strstr(prefix, "\nw\t2\t") < role);
    assert_non_null(strstr(role, "\nportlist\t2\t"));
    assert_non_null(strstr(role, "\nnetmon\t1\t"));
    resp_free(&r);

    pthread_mutex_lock(&names_mu);
    names_done = true;
    pthread_cond_broadcast(&names_cv);
    pthread_mutex_unlock(&names_mu);
    for (int i = 0; i < N; i++)
        pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&names_ready);
}

static void test_thread_name_prefix_and_role(void **state)
{
    (void)state;
    static const struct {
        const char *name, *prefix, *role;
    } rows[] = {
        {"svc12/portlist", "svc12", "portlist"},
        {"w3", "w", "w"},
        {"shared/netmon", "shared", "netmon"},
        {"admin/conn", "admin", "conn"},
        {"refproxy", "refproxy", "refproxy"},
        {"svc7/idle3", "svc7", "idle"},
        {"42", "4", "4"} /* a name of digits keeps its first one */,
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char k[16];
        threads_name_prefix(rows[i].name, k, sizeof(k));
        assert_string_equal(k, rows[i].prefix);
        threads_name_role(rows[i].name, k, sizeof(k));
        assert_string_equal(k, rows[i].role);
    }
}

static void test_parse_seconds_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
        uint32_t v;
    } rows[] = {
        {"1", true, 1},    {"30", true, 30}, {"300", true, 300},       {"007", true, 7},
        {"0", false, 0},   {"", false, 0},   {"-1", false, 0},         {"1e3", false, 0},
        {"1.0", false, 0}, {"x", false, 0},  {"1234567890", false, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint32_t v = 0;
        assert_int_equal(pprof_parse_seconds(rows[i].in, strlen(rows[i].in), &v), rows[i].ok);
        if (rows[i].ok)
            assert_int_equal(v, rows[i].v);
    }
}

static void test_connections_over_limit_get_503(void **state)
{
    struct fixture *f = *state;
    int idle[ADMIN_MAX_CONNS];
    for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
        idle[i] = connect_port(f->port);
        assert_true(idle[i] >= 0);
    }
    /* Readiness: every idle connection holds a handler. */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->a->mu);
        int n = f->a->nconns;
        pthread_mutex_unlock(&f->a->mu);
        if (n == ADMIN_MAX_CONNS)
            break;
        usleep(10000);
    }
    assert_int_equal(f->a->nconns, ADMIN_MAX_CONNS);
    int fd = connect_port(f->port);
    char text[256] = {0};
    ssize_t n = recv(fd, text, sizeof(text) - 1, 0);
    assert_true(n > 12);
    assert_int_equal(strncmp(text, "HTTP/1.1 503", 12), 0);
    close(fd);
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        close(idle[i]);
    /* The handlers see EOF and free their slots; then requests work again. */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->a->mu);
        int left = f->a->nconns;
        pthread_mutex_unlock(&f->a->mu);
        if (left == 0)
            break;
        usleep(10000);
    }
    struct resp r = get(f->port, "/healthz");
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_remote_admin_requires_bearer_token(void **state)
{
    (void)state;
    struct fixture f = {0};
    config_for_test(&f.cfg);
    snprintf(f.token_path, sizeof(f.token_path), "/tmp/test_admin_token_XXXXXX");
    int fd = mkstemp(f.token_path);
    assert_true(fd >= 0);
    assert_int_equal(file_write(fd, "s3cret-token-0123456789\n", 24), 0);
    close(fd);
    f.cfg.admin_allow_remote = true;
    f.cfg.admin_token_file = f.token_path;
    char *err = NULL;
    f.a = admin_start(&f.cfg, NULL, 1, test_argv, &err);
    assert_non_null(f.a);
    int port = admin_port(f.a);
    struct resp r = get(port, "/metrics");
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = request(port, "GET", "/healthz", "Authorization: Bearer s3cret-token-012345678\r\n", NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = request(port, "GET", "/healthz", "Authorization: Bearer s3cret-token-01234567890\r\n",
                NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = request(port, "GET", "/healthz", "Authorization: Bearer s3cret-token-0123456789\r\n", NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    admin_stop(f.a);

    /* Without a token file, a remote admin refuses to start. */
    f.cfg.admin_token_file = NULL;
    assert_null(admin_start(&f.cfg, NULL, 1, test_argv, &err));
    assert_non_null(strstr(err, "adminTokenFile"));
    free(err);
    unlink(f.token_path);
}

static void test_non_loopback_needs_allow_remote(void **state)
{
    (void)state;
    struct config cfg;
    config_for_test(&cfg);
    ((struct sockaddr_in *)&cfg.admin)->sin_addr.s_addr = htonl(0x0a000001); /* 10.0.0.1 */
    cfg.admin_text = "10.0.0.1:9099";
    char *err = NULL;
    assert_null(admin_start(&cfg, NULL, 1, test_argv, &err));
    assert_non_null(strstr(err, "adminAllowRemote"));
    free(err);
}

/* Last: the heap profiler stays on for the rest of the process. */
static void test_heap_profile_served_when_enabled(void **state)
{
    struct fixture *f = *state;
    f->cfg.heap_profile = true;
    assert_int_equal(profiling_start(&f->cfg), 0);
    if (profiling_heap_problem()) {
        /* A sanitizer build: malloc is not tcmalloc's, and the endpoint says so. */
        assert_false(profiling_heap_enabled());
        struct resp r = get(f->port, "/debug/pprof/heap");
        assert_int_equal(r.status, 501);
        assert_non_null(strstr(r.body, "needs tcmalloc"));
        resp_free(&r);
        return;
    }
    assert_true(profiling_heap_enabled());
    void *keep = malloc(1 << 20); /* something live to report */
    struct resp r = get(f->port, "/debug/pprof/heap");
    assert_int_equal(r.status, 200);
    assert_int_equal(strncmp(r.body, "heap profile: ", 14), 0);
    assert_non_null(strstr(r.body, "MAPPED_LIBRARIES:"));
    resp_free(&r);
    r = get(f->port, "/metrics");
    assert_non_null(strstr(r.body, "\nrefproxy_heap_profiling 1\n"));
    resp_free(&r);
    free(keep);
    HeapProfilerStop();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_answers_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404_and_post_metrics_405, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_request_gets_parser_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_pass_promtool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_rejects_bad_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_profile_gets_409_first_unharmed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heap_without_heap_profile_explains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbol_get_and_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbol_post_resolves_static_functions_both_styles,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbol_post_over_cap_is_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmdline_is_argv_by_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perl_pprof_appended_pages_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_lists_every_thread_and_groups, setup,
                                        teardown),
        cmocka_unit_test(test_thread_name_prefix_and_role),
        cmocka_unit_test(test_parse_seconds_table),
        cmocka_unit_test_setup_teardown(test_connections_over_limit_get_503, setup, teardown),
        cmocka_unit_test(test_remote_admin_requires_bearer_token),
        cmocka_unit_test(test_non_loopback_needs_allow_remote),
        cmocka_unit_test_setup_teardown(test_heap_profile_served_when_enabled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
