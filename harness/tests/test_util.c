/* test_util: shared helpers for the harness tests. See test_util.h. */
#include "test_util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A run of count free loopback ports below the kernel's ephemeral range (32768+),
 * where other tests' outgoing connections take their ports. Still a race, but
 * against other listeners only, and each port is checked. -1 if none found. */
int tu_free_port_range(int count)
{
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = 20000 + (int)(rand_r(&seed) % (12000u - (unsigned)count));
        bool all_free = true;
        for (int i = 0; i < count && all_free; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)(base + i)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            all_free = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (all_free)
            return base;
    }
    return -1;
}

pid_t tu_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int tu_wait(pid_t pid, double timeout_s)
{
    double end = now_s() + timeout_s;
    int status;
    while (now_s() < end) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int tu_run(char *const argv[], const char *log, double timeout_s)
{
    pid_t pid = tu_spawn(argv, log);
    return pid < 0 ? -1 : tu_wait(pid, timeout_s);
}

char *tu_tmpdir(const char *tag)
{
    char *path = NULL;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (asprintf(&path, "%s/scaleprof-%s-XXXXXX", base, tag) < 0 || !mkdtemp(path))
        abort();
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void tu_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

json_t *tu_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fprintf(stderr, "%s: %s (line %d)\n", path, e.text, e.line);
    return j;
}

int tu_pids_with_in(const char *proc, const char *needle, pid_t *pids, int max)
{
    DIR *d = opendir(proc);
    if (!d)
        return -1;
    pid_t self = getpid();
    bool seen_self = false, failed = false;
    int n = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            failed = errno != 0;
            break;
        }
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0)
            continue;
        if (pid == self) {
            seen_self = true;
            continue;
        }
        if (n >= max)
            continue; /* keep going: ourselves may still be ahead */
        char path[4096 + 64], cmd[8192];
        snprintf(path, sizeof path, "%s/%d/cmdline", proc, (int)pid);
        FILE *f = fopen(path, "rb");
        if (!f) {
            failed |= errno != ENOENT && errno != ESRCH; /* else it exited meanwhile */
            continue;
        }
        size_t len = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[len] = '\0';
        /* zombies have an empty cmdline and are not running */
        if (len && strstr(cmd, needle))
            pids[n++] = pid;
    }
    closedir(d);
    /* a listing without this very process is not a look at the processes */
    return failed || !seen_self ? -1 : n;
}

int tu_pids_with(const char *needle, pid_t *pids, int max)
{
    return tu_pids_with_in("/proc", needle, pids, max);
}

void tu_kill_with(const char *needle)
{
    pid_t pids[64];
    int n = tu_pids_with(needle, pids, 64);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
}

long tu_threads_header(const char *text)
{
    const char *p = text ? strstr(text, "threads: ") : NULL;
    const char *nl = text ? strchr(text, '\n') : NULL;
    if (!p || (nl && p > nl))
        return -1;
    return strtol(p + 9, NULL, 10);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    return s * n;
}

bool tu_http_ok(const char *url, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (status == 200)
            return true;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}
