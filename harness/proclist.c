/* proclist: a target's process tree and threads from /proc, as lists. See proclist.h. */
#include "proclist.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t proclist_ppid(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    /* the command name may hold spaces and parentheses: the fields follow the last ')' */
    char *p = strrchr(text, ')');
    int ppid;
    char state;
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

/* Numeric entries of a /proc folder: calls fn for each. -1 when it cannot be opened. */
static int each_numeric(const char *dir, void (*fn)(pid_t, void *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        long v = strtol(e->d_name, NULL, 10);
        if (v > 0 && v <= INT_MAX)
            fn((pid_t)v, ctx);
    }
    closedir(d);
    return 0;
}

struct pair {
    pid_t pid, ppid;
};

struct scan {
    struct pair *pairs;
    size_t n, cap;
    int oom;
};

static void add_pair(pid_t pid, void *ctx)
{
    struct scan *s = ctx;
    pid_t ppid = proclist_ppid(pid);
    if (ppid < 0 || s->oom)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct pair *p = realloc(s->pairs, cap * sizeof *p);
        if (!p) {
            s->oom = 1;
            return;
        }
        s->pairs = p;
        s->cap = cap;
    }
    s->pairs[s->n++] = (struct pair){pid, ppid};
}

int proclist_pids(pid_t root, pid_t *out, size_t max, size_t *total)
{
    if (kill(root, 0) < 0 && errno == ESRCH)
        return -1;
    struct scan s = {0};
    if (each_numeric("/proc", add_pair, &s) < 0 || s.oom) {
        int e = s.oom ? ENOMEM : errno;
        free(s.pairs);
        errno = e;
        return -1;
    }
    /* breadth first from root; the queue is the tree itself, kept in a scratch
     * array so that out's capacity only limits what is returned */
    pid_t *tree = malloc((s.n + 1) * sizeof *tree);
    if (!tree) {
        free(s.pairs);
        errno = ENOMEM;
        return -1;
    }
    size_t ntree = 0;
    tree[ntree++] = root;
    for (size_t head = 0; head < ntree; head++)
        for (size_t i = 0; i < s.n; i++)
            if (s.pairs[i].ppid == tree[head] && s.pairs[i].pid != root && ntree <= s.n)
                tree[ntree++] = s.pairs[i].pid;
    size_t stored = ntree < max ? ntree : max;
    memcpy(out, tree, stored * sizeof *out);
    if (total)
        *total = ntree;
    free(tree);
    free(s.pairs);
    return (int)stored;
}

struct tids {
    pid_t *out;
    size_t max, n;
};

static void add_tid(pid_t tid, void *ctx)
{
    struct tids *t = ctx;
    if (t->n < t->max)
        t->out[t->n] = tid;
    t->n++;
}

int proclist_tids(pid_t pid, pid_t *out, size_t max, size_t *total)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    struct tids t = {out, max, 0};
    if (each_numeric(dir, add_tid, &t) < 0)
        return -1;
    if (total)
        *total = t.n;
    return (int)(t.n < max ? t.n : max);
}
