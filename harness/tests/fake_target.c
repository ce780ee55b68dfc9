/*
 * fake_target: a stand-in target for the harness tests, so sweeps can be
 * tested without refproxy. It reads prometheusAddr from the config it is
 * given and serves /healthz, /metrics, /debug/pprof/ (index),
 * /debug/pprof/profile?seconds=N (waits N s, then a minimal valid gperftools
 * CPU profile) and /debug/pprof/threads ("threads: N" then one line per
 * thread). A burner thread spins for --burn-ms of every 100 ms, so the CPU
 * the harness measures is known.
 *
 *   fake_target --config FILE [--burn-ms M] [--idle-threads K] [--exit-code C]
 *               [--never-ready] [--ready-after-ms M] [--die-in-profile] [--hang-profile]
 *               [--hang-threads]
 *               [--profile-bytes B] [--term-delay-ms M] [--fork-child]
 *               [--workers K [--respawn-ms M]]
 * --exit-code makes it exit at once with C (a target that fails to start).
 * A process tree, like nginx (issue 19: measuring a target's whole tree):
 * --workers K makes the master fork K worker processes (comm "fake_worker")
 * that do the burning, --burn-ms of every 100 ms each, while the master only
 * serves HTTP and reaps; the tree then uses K * burn-ms / 100 of a CPU.
 * --respawn-ms M makes each worker exit after M ms and the master fork a
 * replacement, so workers come and go inside a measurement window; the
 * replacement goes on with its slot's burn schedule, catching up what a busy
 * machine held its predecessor back from, so the tree's CPU is K * burn-ms / 100
 * with respawns too. Workers
 * die with the master (PR_SET_PDEATHSIG) and the master reaps every one.
 * Fault modes for test_faults: --never-ready answers 503 on /healthz and the
 * pprof index forever (--ready-after-ms M: until M ms after start);
 * --die-in-profile logs a few lines and SIGKILLs itself 300 ms into the
 * profile request (dies inside the window); --hang-profile never answers the
 * profile, --hang-threads never answers /debug/pprof/threads; --profile-bytes
 * pads the profile to about B bytes (a point too big for the disk);
 * --term-delay-ms takes M ms to exit after SIGTERM (a long "stopping" phase);
 * --fork-child leaves a child process in its group.
 * Load (issue 17: the underloaded rule): --serve-services also listens on every
 * `listenAddr:` of the config (at most 64), where `/` answers --answer-status S
 * (default 200) after --answer-delay-ms M; without it the services' ports
 * refuse connections. So a sweep under --load can meet a target that answers
 * 5xx, one that answers too slowly for the rate, and one that is not there.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int burn_ms = 0;
static bool never_ready, die_in_profile, hang_profile, hang_threads;
static long ready_after_ms = 0, profile_bytes = 0, term_delay_ms = -1, respawn_ms = 0;
static long answer_delay_ms = 0;
static int answer_status = 200;
static bool serve_services;
static struct timespec started;

static long ms_since_start(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - started.tv_sec) * 1000 + (now.tv_nsec - started.tv_nsec) / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* --term-delay-ms: SIGTERM is blocked everywhere and taken here, so stopping takes a while. */
static void *term_waiter(void *arg)
{
    sigset_t *set = arg;
    int sig;
    sigwait(set, &sig);
    fprintf(stderr, "fake_target: SIGTERM; exiting in %ld ms\n", term_delay_ms);
    sleep_ms(term_delay_ms);
    _exit(0);
    return NULL;
}

static struct timespec add_ms(struct timespec t, long ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_nsec -= 1000000000L;
        t.tv_sec++;
    }
    return t;
}

/* Burns burn_ms of thread CPU in every 100 ms period of a fixed schedule that
 * began at `from`, so the caller uses burn_ms / 100 of a CPU whenever the
 * machine has it to give, and catches up (bursts back to back) when it did not.
 * Returns at from + for_ms, or never when for_ms <= 0. Only clock_gettime and
 * clock_nanosleep: safe in a child forked from threads. */
static void burn(struct timespec from, long for_ms)
{
    volatile uint64_t x = 0;
    struct timespec next = from, end = add_ms(from, for_ms);
    for (;;) {
        struct timespec c0, c;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        do {
            for (int i = 0; i < 10000; i++)
                x++;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
        } while ((double)(c.tv_sec - c0.tv_sec) * 1e3 + (double)(c.tv_nsec - c0.tv_nsec) / 1e6 <
                 burn_ms);
        next = add_ms(next, 100);
        bool ends = for_ms > 0 && (next.tv_sec > end.tv_sec ||
                                   (next.tv_sec == end.tv_sec && next.tv_nsec >= end.tv_nsec));
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ends ? &end : &next, NULL);
        if (ends)
            return;
    }
}

static void *burner(void *arg)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    burn(now, 0);
    return NULL;
}

static void *idler(void *arg)
{
    for (;;)
        pause();
    return NULL;
}

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int status, const char *type, const void *body, size_t len)
{
    char head[256];
    const char *reason = status == 200   ? "OK"
                         : status == 503 ? "Service Unavailable"
                         : status >= 500 ? "Server Error"
                                         : "Not Found";
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, type, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void serve_profile(int fd, const char *path)
{
    const char *q = strstr(path, "seconds=");
    int seconds = q ? atoi(q + 8) : 30;
    if (die_in_profile) {
        for (int i = 1; i <= 3; i++)
            fprintf(stderr, "fake_target: last words %d\n", i);
        sleep_ms(300);
        raise(SIGKILL);
    }
    while (hang_profile)
        pause();
    sleep_ms(seconds * 1000L);
    /* header 0,3,0,period,0; one record of count 7 at one pc; trailer 0,1,0 */
    uintptr_t words[] = {0, 3, 0, 10000, 0, 7, 1, 0x401000, 0, 1, 0};
    const char *maps = "00400000-00401000 r-xp 00000000 00:00 0 /fake_target\n";
    size_t len = sizeof words + strlen(maps);
    /* padding: more (identical) maps lines, still a valid profile */
    while (len < (size_t)profile_bytes)
        len += strlen(maps);
    char *body = malloc(len);
    memcpy(body, words, sizeof words);
    for (size_t off = sizeof words; off < len; off += strlen(maps))
        memcpy(body + off, maps, strlen(maps));
    respond(fd, 200, "application/octet-stream", body, len);
    free(body);
}

static void serve_threads(int fd)
{
    while (hang_threads)
        pause();
    char body[65536];
    size_t n = (size_t)snprintf(body, sizeof body, "# fake_target threads: %d\n", thread_count());
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < sizeof body - 128)
        if (e->d_name[0] != '.')
            n += (size_t)snprintf(body + n, sizeof body - n, "%s fake\n", e->d_name);
    if (d)
        closedir(d);
    respond(fd, 200, "text/plain", body, n);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[4096];
    ssize_t got = recv(fd, req, sizeof req - 1, 0);
    if (got > 0) {
        req[got] = '\0';
        char path[1024] = "";
        sscanf(req, "GET %1023s", path);
        bool ready = !never_ready && ms_since_start() >= ready_after_ms;
        if (!ready && (!strcmp(path, "/healthz") || !strcmp(path, "/debug/pprof/"))) {
            respond(fd, 503, "text/plain", "not ready\n", 10);
        } else if (!strcmp(path, "/healthz")) {
            respond(fd, 200, "text/plain", "ok\n", 3);
        } else if (!strcmp(path, "/metrics")) {
            const char *m = "# TYPE fake_up gauge\nfake_up 1\n";
            respond(fd, 200, "text/plain; version=0.0.4", m, strlen(m));
        } else if (!strncmp(path, "/debug/pprof/profile", 20)) {
            serve_profile(fd, path);
        } else if (!strcmp(path, "/debug/pprof/threads")) {
            serve_threads(fd);
        } else if (!strcmp(path, "/debug/pprof/")) {
            respond(fd, 200, "text/plain", "profile\nthreads\n", 16);
        } else if (!strcmp(path, "/")) { /* a service's answer to the load */
            if (answer_delay_ms > 0)
                sleep_ms(answer_delay_ms);
            respond(fd, answer_status, "text/plain", "ok\n", 3);
        } else {
            respond(fd, 404, "text/plain", "not found\n", 10);
        }
    }
    close(fd);
    return NULL;
}

/* A worker process: burns like the burner thread on its slot's schedule from
 * `from`, until from + respawn_ms when set, then exits. Forked from the
 * master's main thread, which lives as long as the master, so
 * PR_SET_PDEATHSIG fires exactly when the master dies. */
static void worker_run(pid_t master, struct timespec from)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != master)
        _exit(0); /* the master died before prctl took effect */
    prctl(PR_SET_NAME, "fake_worker");
    burn(from, respawn_ms);
    _exit(0);
}

static pid_t worker_fork(pid_t master, struct timespec from)
{
    for (;;) {
        pid_t pid = fork();
        if (pid == 0)
            worker_run(master, from);
        if (pid > 0)
            return pid;
        fprintf(stderr, "fake_target: fork a worker: %s; retrying\n", strerror(errno));
        sleep_ms(100);
    }
}

/* The master's main thread with --workers: forks k workers, then reaps every
 * child that exits and replaces each worker (another child, --fork-child's,
 * is reaped but not replaced). A replacement goes on with its slot's schedule
 * where its predecessor's ended, so a worker that a busy machine held back is
 * caught up by the next one, and the tree's CPU stays K * burn-ms / 100 as
 * with steady workers. Never returns. */
static void supervise(int k)
{
    pid_t master = getpid(), *workers = calloc((size_t)k, sizeof *workers);
    struct timespec *from = calloc((size_t)k, sizeof *from);
    if (!workers || !from)
        abort();
    for (int i = 0; i < k; i++) {
        clock_gettime(CLOCK_MONOTONIC, &from[i]);
        workers[i] = worker_fork(master, from[i]);
    }
    fprintf(stderr, "fake_target: %d workers, each burning %d ms per 100 ms%s\n", k, burn_ms,
            respawn_ms > 0 ? " and respawned" : "");
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno != EINTR)
                sleep_ms(100); /* ECHILD cannot last: workers are always replaced */
            continue;
        }
        for (int i = 0; i < k; i++)
            if (workers[i] == pid) {
                from[i] = add_ms(from[i], respawn_ms);
                workers[i] = worker_fork(master, from[i]);
            }
    }
}

static void *accept_loop(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &attr, serve, (void *)(intptr_t)fd);
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

/* A loopback listener on host:port's port; -1 (said on stderr) on failure. */
static int listen_on(const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    int port = colon ? atoi(colon + 1) : 0;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 64) < 0) {
        fprintf(stderr, "fake_target: bind %s: %s\n", hostport, strerror(errno));
        close(ls);
        return -1;
    }
    return ls;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int idle_threads = 0, workers = 0;
    bool fork_child = false;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (int i = 1; i < argc; i++) {
        /* the flag-only options */
        if (!strcmp(argv[i], "--never-ready"))
            never_ready = true;
        else if (!strcmp(argv[i], "--die-in-profile"))
            die_in_profile = true;
        else if (!strcmp(argv[i], "--hang-profile"))
            hang_profile = true;
        else if (!strcmp(argv[i], "--hang-threads"))
            hang_threads = true;
        else if (!strcmp(argv[i], "--fork-child"))
            fork_child = true;
        else if (!strcmp(argv[i], "--serve-services"))
            serve_services = true;
        else if (i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-')
            i++; /* an option with a value: below */
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--never-ready") || !strcmp(argv[i], "--die-in-profile") ||
            !strcmp(argv[i], "--hang-profile") || !strcmp(argv[i], "--fork-child") ||
            !strcmp(argv[i], "--hang-threads") || !strcmp(argv[i], "--serve-services")) {
            i--; /* takes no value */
            continue;
        }
        if (!strcmp(argv[i], "--ready-after-ms"))
            ready_after_ms = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--profile-bytes"))
            profile_bytes = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--term-delay-ms"))
            term_delay_ms = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--config"))
            config = argv[i + 1];
        else if (!strcmp(argv[i], "--burn-ms"))
            burn_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--idle-threads"))
            idle_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers"))
            workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--respawn-ms"))
            respawn_ms = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--answer-status"))
            answer_status = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--answer-delay-ms"))
            answer_delay_ms = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--exit-code")) {
            fprintf(stderr, "fake_target: exiting at once with %s as asked\n", argv[i + 1]);
            return atoi(argv[i + 1]);
        }
    }
    if (burn_ms < 0 || burn_ms > 100 || !config || workers < 0 || workers > 64 || respawn_ms < 0 ||
        (respawn_ms > 0 && workers == 0)) {
        fprintf(stderr, "usage: fake_target --config FILE [--burn-ms 0..100] "
                        "[--workers 0..64 [--respawn-ms M]]\n");
        return 2;
    }
    char addr[128] = "127.0.0.1:9099", line[512], service[128];
    int service_fds[64], num_services = 0;
    FILE *f = fopen(config, "r");
    bool have_admin = false;
    while (f && fgets(line, sizeof line, f)) {
        if (!have_admin && (sscanf(line, "prometheusAddr: \"%127[^\"]\"", addr) == 1 ||
                            sscanf(line, "prometheusAddr: %127s", addr) == 1))
            have_admin = true;
        else if (serve_services && num_services < 64 &&
                 sscanf(line, " listenAddr: %127s", service) == 1 &&
                 (service_fds[num_services] = listen_on(service)) >= 0)
            num_services++;
    }
    if (f)
        fclose(f);
    int ls = listen_on(addr);
    if (ls < 0)
        return 1;
    fprintf(stderr, "fake_target: serving %s and %d services, burning %d ms per 100 ms\n", addr,
            num_services, burn_ms);
    pthread_t t;
    for (int i = 0; i < num_services; i++)
        pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)service_fds[i]);
    if (term_delay_ms >= 0) {
        static sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread created below */
        pthread_create(&t, NULL, term_waiter, &set);
    }
    /* forked after SIGTERM is blocked (with --term-delay-ms), so then only SIGKILL ends it */
    if (fork_child && fork() == 0) {
        for (;;) /* stays in the group until someone kills it */
            pause();
    }
    /* with workers the master burns nothing: the workers do, like nginx's */
    if (burn_ms > 0 && workers == 0)
        pthread_create(&t, NULL, burner, NULL);
    for (int i = 0; i < idle_threads; i++)
        pthread_create(&t, NULL, idler, NULL);
    if (workers == 0)
        accept_loop((void *)(intptr_t)ls);
    pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)ls);
    supervise(workers);
}
