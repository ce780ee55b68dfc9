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
 * --exit-code makes it exit at once with C (a target that fails to start).
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int burn_ms = 0;

/* Burns burn_ms of thread CPU in every 100 ms period on a fixed schedule, so
 * the process uses burn_ms / 100 of a CPU whenever the machine has it to give. */
static void *burner(void *arg)
{
    volatile uint64_t x = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        struct timespec c0, c;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        do {
            for (int i = 0; i < 10000; i++)
                x++;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
        } while ((double)(c.tv_sec - c0.tv_sec) * 1e3 + (double)(c.tv_nsec - c0.tv_nsec) / 1e6 <
                 burn_ms);
        next.tv_nsec += 100 * 1000 * 1000;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
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
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", type, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void serve_profile(int fd, const char *path)
{
    const char *q = strstr(path, "seconds=");
    int seconds = q ? atoi(q + 8) : 30;
    struct timespec ts = {seconds, 0};
    nanosleep(&ts, NULL);
    /* header 0,3,0,period,0; one record of count 7 at one pc; trailer 0,1,0 */
    uintptr_t words[] = {0, 3, 0, 10000, 0, 7, 1, 0x401000, 0, 1, 0};
    const char *maps = "00400000-00401000 r-xp 00000000 00:00 0 /fake_target\n";
    size_t len = sizeof words + strlen(maps);
    char *body = malloc(len);
    memcpy(body, words, sizeof words);
    memcpy(body + sizeof words, maps, strlen(maps));
    respond(fd, 200, "application/octet-stream", body, len);
    free(body);
}

static void serve_threads(int fd)
{
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
        if (!strcmp(path, "/healthz")) {
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
        } else {
            respond(fd, 404, "text/plain", "not found\n", 10);
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int idle_threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--config"))
            config = argv[i + 1];
        else if (!strcmp(argv[i], "--burn-ms"))
            burn_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--idle-threads"))
            idle_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--exit-code")) {
            fprintf(stderr, "fake_target: exiting at once with %s as asked\n", argv[i + 1]);
            return atoi(argv[i + 1]);
        }
    }
    if (burn_ms < 0 || burn_ms > 100 || !config) {
        fprintf(stderr, "usage: fake_target --config FILE [--burn-ms 0..100]\n");
        return 2;
    }
    char addr[128] = "127.0.0.1:9099", line[512];
    FILE *f = fopen(config, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "prometheusAddr: \"%127[^\"]\"", addr) == 1 ||
            sscanf(line, "prometheusAddr: %127s", addr) == 1)
            break;
    if (f)
        fclose(f);
    char *colon = strrchr(addr, ':');
    int port = colon ? atoi(colon + 1) : 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 64) < 0) {
        fprintf(stderr, "fake_target: bind %s: %s\n", addr, strerror(errno));
        return 1;
    }
    fprintf(stderr, "fake_target: serving %s, burning %d ms per 100 ms\n", addr, burn_ms);
    pthread_t t;
    if (burn_ms > 0)
        pthread_create(&t, NULL, burner, NULL);
    for (int i = 0; i < idle_threads; i++)
        pthread_create(&t, NULL, idler, NULL);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &attr, serve, (void *)(intptr_t)fd);
        pthread_attr_destroy(&attr);
    }
}
