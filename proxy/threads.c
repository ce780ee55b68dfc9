/*
 * threads: /debug/pprof/threads, the goroutine-profile analogue. Reads every
 * thread of this process from /proc/self/task/<tid>/{comm,stat,schedstat}:
 * name, scheduler state and CPU nanoseconds, then totals per name prefix
 * (one per service in the per-service architecture) and per role. The output
 * documents its own format in its first lines. See threads.h.
 */
#include "threads.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct thread_info {
    long tid;
    char name[16];
    char state;
    unsigned long long cpu_ns;
    unsigned samples;
};

struct group {
    char key[16];
    unsigned long long cpu_ns;
};

static ssize_t read_small(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, text, size - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    text[n] = '\0';
    return n;
}

/* false when the thread exited meanwhile. */
static bool thread_read(long tid, struct thread_info *t, unsigned (*samples_of)(int tid))
{
    char path[64], text[512];
    t->tid = tid;
    snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
    if (read_small(path, text, sizeof(text)) < 0)
        return false;
    text[strcspn(text, "\n")] = '\0';
    text[sizeof(t->name) - 1] = '\0'; /* comm is at most 15 bytes anyway */
    memcpy(t->name, text, sizeof(t->name));
    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
    if (read_small(path, text, sizeof(text)) < 0)
        return false;
    const char *p = strrchr(text, ')'); /* comm may hold spaces and parentheses */
    t->state = p && p[1] == ' ' ? p[2] : '?';
    snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
    t->cpu_ns = read_small(path, text, sizeof(text)) > 0 ? strtoull(text, NULL, 10) : 0;
    t->samples = samples_of((int)tid);
    return true;
}

static void strip_trailing_digits(char *s)
{
    size_t n = strlen(s);
    while (n > 1 && isdigit((unsigned char)s[n - 1]))
        n--;
    s[n] = '\0';
}

void threads_name_prefix(const char *name, char *key, size_t size)
{
    const char *slash = strchr(name, '/');
    if (slash) {
        snprintf(key, size, "%.*s", (int)(slash - name), name);
        return;
    }
    snprintf(key, size, "%s", name);
    strip_trailing_digits(key);
}

void threads_name_role(const char *name, char *key, size_t size)
{
    const char *slash = strchr(name, '/');
    snprintf(key, size, "%s", slash ? slash + 1 : name);
    strip_trailing_digits(key);
}

static int by_tid(const void *a, const void *b)
{
    const struct thread_info *x = a, *y = b;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct group *)a)->key, ((const struct group *)b)->key);
}

/* Sorts g and prints one "key<TAB>threads<TAB>cpu_ns" line per distinct key. */
static void write_groups(struct buf *out, struct group *g, size_t n)
{
    qsort(g, n, sizeof(*g), by_key);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        unsigned long long cpu = 0;
        while (j < n && !strcmp(g[j].key, g[i].key))
            cpu += g[j++].cpu_ns;
        buf_printf(out, "%s\t%zu\t%llu\n", g[i].key, j - i, cpu);
        i = j;
    }
}

int threads_write(struct buf *out, unsigned (*samples_of)(int tid))
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    struct thread_info *t = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct thread_info *nt = realloc(t, cap * sizeof(*t));
            if (!nt) {
                rc = -1;
                break;
            }
            t = nt;
        }
        if (thread_read(strtol(e->d_name, NULL, 10), &t[n], samples_of))
            n++;
    }
    closedir(d);
    struct group *g = rc == 0 && n ? malloc(n * sizeof(*g)) : NULL;
    if (rc < 0 || (n && !g)) {
        free(t);
        free(g);
        return -1;
    }
    qsort(t, n, sizeof(*t), by_tid);

    buf_printf(out,
               "# refproxy threads: %zu\n"
               "# Section 1, one line per thread: tid<TAB>name<TAB>state<TAB>cpu_ns<TAB>samples\n"
               "#   state is the /proc state letter (R running, S sleeping, D disk wait, ...),\n"
               "#   cpu_ns the thread's CPU time from /proc/self/task/<tid>/schedstat,\n"
               "#   samples the CPU profile samples taken on it in the last profile window.\n"
               "# Section 2 \"# by prefix\": prefix<TAB>threads<TAB>cpu_ns, where prefix is the\n"
               "#   name before '/' (\"svc12/portlist\" -> \"svc12\", one per service) or, for a\n"
               "#   name without '/', the name without trailing digits (\"w3\" -> \"w\").\n"
               "# Section 3 \"# by role\": role<TAB>threads<TAB>cpu_ns, where role is the name\n"
               "#   after '/' without trailing digits (\"svc12/portlist\" -> \"portlist\") or the\n"
               "#   prefix for a name without '/'.\n",
               n);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%ld\t%s\t%c\t%llu\t%u\n", t[i].tid, t[i].name, t[i].state, t[i].cpu_ns,
                   t[i].samples);
    buf_puts(out, "# by prefix\n");
    for (size_t i = 0; i < n; i++) {
        threads_name_prefix(t[i].name, g[i].key, sizeof(g[i].key));
        g[i].cpu_ns = t[i].cpu_ns;
    }
    write_groups(out, g, n);
    buf_puts(out, "# by role\n");
    for (size_t i = 0; i < n; i++) {
        threads_name_role(t[i].name, g[i].key, sizeof(g[i].key));
        g[i].cpu_ns = t[i].cpu_ns;
    }
    write_groups(out, g, n);
    free(t);
    free(g);
    return 0;
}
