/*
 * portlist: Tailscale's port-list poller (portlist/ on Linux), the task that
 * made tsnsrv super-linear (docs/DESIGN.md §1).
 *
 * Every poll reads all of /proc/net/{tcp,tcp6,udp,udp6} with plain read() into
 * a reusable buffer and parses every row: connected rows (non-zero remote
 * address) are skipped, TCP listeners and unconnected UDP sockets go into an
 * inode set; for inodes not seen in the previous poll it walks /proc/<pid>/fd
 * with readlink to find their owner. The kernel's cost of producing the files
 * grows with every socket in the network namespace, so N pollers reading files
 * that grow with N cost ~N².
 *
 * Unlike Tailscale we do not skip sockets bound to localhost: every refproxy
 * socket is on loopback, and skipping them would hide the owner walk.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks_internal.h"

#define PORTLIST_MAX_FILE (256u << 20) /* bound on one /proc/net file */

/* ---- inode set ---- */

static size_t inode_hash(uint64_t k, size_t mask)
{
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 17) & mask;
}

static int inode_set_grow(struct inode_set *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 256;
    uint64_t *nk = calloc(ncap, sizeof(*nk));
    if (!nk)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = s->keys[i];
        if (!k)
            continue;
        size_t j = inode_hash(k, ncap - 1);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = k;
    }
    free(s->keys);
    s->keys = nk;
    s->cap = ncap;
    return 0;
}

static bool inode_set_has(const struct inode_set *s, uint64_t k)
{
    if (!s->cap || !k)
        return false;
    for (size_t j = inode_hash(k, s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] == k)
            return true;
        if (!s->keys[j])
            return false;
    }
}

/* 1 if added, 0 if present, -1 out of memory. */
static int inode_set_add(struct inode_set *s, uint64_t k)
{
    if ((s->len + 1) * 2 > s->cap && inode_set_grow(s) < 0)
        return -1;
    size_t j = inode_hash(k, s->cap - 1);
    for (; s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (s->keys[j] == k)
            return 0;
    s->keys[j] = k;
    s->len++;
    return 1;
}

static void inode_set_clear(struct inode_set *s)
{
    if (s->len)
        memset(s->keys, 0, s->cap * sizeof(*s->keys));
    s->len = 0;
}

/* ---- parsing ---- */

void portlist_init(struct portlist *pl, bool scope_all)
{
    memset(pl, 0, sizeof(*pl));
    pl->scope_all = scope_all;
    buf_init(&pl->readbuf, PORTLIST_MAX_FILE);
}

void portlist_free(struct portlist *pl)
{
    buf_free(&pl->readbuf);
    free(pl->known.keys);
    free(pl->cur.keys);
    free(pl->fresh.keys);
    memset(pl, 0, sizeof(*pl));
}

void portlist_begin(struct portlist *pl)
{
    inode_set_clear(&pl->cur);
    inode_set_clear(&pl->fresh);
}

/* Next whitespace-separated field of [*p, end); NULL at end of line. */
static const char *next_field(const char **p, const char *end, size_t *flen)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s >= end || *s == '\n')
        return NULL;
    const char *f = s;
    while (s < end && *s != ' ' && *s != '\t' && *s != '\n')
        s++;
    *flen = (size_t)(s - f);
    *p = s;
    return f;
}

static bool all_zero_addr(const char *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i] != '0' && f[i] != ':')
            return false;
    return n > 0;
}

static void parse_row(struct portlist *pl, const char *p, const char *end, bool is_udp,
                      struct portlist_counts *c)
{
    const char *f[10];
    size_t n[10];
    for (int i = 0; i < 10; i++)
        if (!(f[i] = next_field(&p, end, &n[i]))) {
            c->other++;
            return;
        }
    c->rows++;
    if (!all_zero_addr(f[2], n[2])) {
        c->connected++;
        return;
    }
    /* TCP: only LISTEN (0A). UDP: an unconnected socket (zero remote) counts. */
    if (!is_udp && !(n[3] == 2 && f[3][0] == '0' && (f[3][1] == 'A' || f[3][1] == 'a'))) {
        c->other++;
        return;
    }
    uint64_t inode = 0;
    for (size_t i = 0; i < n[9]; i++) {
        if (!isdigit((unsigned char)f[9][i])) {
            c->other++;
            return;
        }
        inode = inode * 10 + (uint64_t)(f[9][i] - '0');
    }
    if (!inode) {
        c->other++;
        return;
    }
    if (inode_set_add(&pl->cur, inode) != 1)
        return; /* same inode listed twice (tcp and tcp6 dual stack), or no memory */
    c->kept++;
    if (!inode_set_has(&pl->known, inode) && inode_set_add(&pl->fresh, inode) == 1)
        c->new_inodes++;
}

void portlist_parse(struct portlist *pl, const char *text, size_t len, bool is_udp,
                    struct portlist_counts *c)
{
    const char *p = text, *end = text + len;
    bool header = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (header)
            header = false; /* "  sl  local_address rem_address ..." */
        else if (eol > p)
            parse_row(pl, p, eol, is_udp, c);
        p = eol + 1;
    }
}

/* ---- owner walk ---- */

static void walk_fd_dir(struct portlist *pl, const char *dir, struct portlist_counts *c)
{
    DIR *d = opendir(dir);
    if (!d)
        return; /* the process exited, or we may not look */
    char path[300], link[64];
    struct dirent *de;
    while ((de = readdir(d)) && pl->fresh.len) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        c->fds_walked++;
        if (n <= 8 || memcmp(link, "socket:[", 8) != 0)
            continue;
        link[n] = '\0';
        uint64_t inode = strtoull(link + 8, NULL, 10);
        if (inode_set_has(&pl->fresh, inode))
            c->owners_found++;
    }
    closedir(d);
}

static void walk_owners(struct portlist *pl, struct portlist_counts *c)
{
    if (!pl->scope_all) {
        walk_fd_dir(pl, "/proc/self/fd", c);
        return;
    }
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *de;
    char dir[300];
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(dir, sizeof(dir), "/proc/%s/fd", de->d_name);
        walk_fd_dir(pl, dir, c);
    }
    closedir(d);
}

void portlist_end(struct portlist *pl, bool walk_fds, struct portlist_counts *c)
{
    if (walk_fds && pl->fresh.len)
        walk_owners(pl, c);
    struct inode_set t = pl->known;
    pl->known = pl->cur;
    pl->cur = t;
}

/* Reads the whole file into pl->readbuf. 0 or -1. */
static int read_file(struct portlist *pl, const char *path)
{
    buf_reset(&pl->readbuf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        if (buf_reserve(&pl->readbuf, 65536) < 0)
            break;
        ssize_t n =
            read(fd, pl->readbuf.data + pl->readbuf.len, pl->readbuf.cap - pl->readbuf.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        pl->readbuf.len += (size_t)n;
        pl->readbuf.data[pl->readbuf.len] = '\0';
    }
    close(fd);
    return 0;
}

uint64_t portlist_poll(struct portlist *pl, struct portlist_counts *c)
{
    static const struct {
        const char *path;
        bool udp;
    } files[4] = {
        {"/proc/net/tcp", false},
        {"/proc/net/tcp6", false},
        {"/proc/net/udp", true},
        {"/proc/net/udp6", true},
    };
    portlist_begin(pl);
    for (int i = 0; i < 4; i++)
        if (read_file(pl, files[i].path) == 0)
            portlist_parse(pl, pl->readbuf.data, pl->readbuf.len, files[i].udp, c);
    portlist_end(pl, true, c);
    return c->rows + c->fds_walked;
}

bool portlist_known(const struct portlist *pl, uint64_t inode)
{
    return inode_set_has(&pl->known, inode);
}

size_t portlist_count(const struct portlist *pl)
{
    return pl->known.len;
}

/* ---- the task: a timer on a loop ---- */

struct portlist_task {
    struct loop *loop;
    struct loop_timer timer;
    uint32_t interval_ms;
    struct portlist pl;
    struct task_stats *st;
};

static void portlist_tick(struct loop *loop, struct loop_timer *timer, void *data)
{
    struct portlist_task *t = data;
    uint64_t t0 = task_cpu_now();
    struct portlist_counts c = {0};
    uint64_t units = portlist_poll(&t->pl, &c);
    task_stats_record(t->st, t0, units);
    loop_timer_arm(loop, &t->timer, t->interval_ms);
}

static void *portlist_task_start(struct task_node *node, const void *config, char **err)
{
    const struct task_portlist_config *c = config;
    struct loop *loop = node->loop;
    struct portlist_task *t = calloc(1, sizeof(*t));
    if (!t || !(t->st = task_stats_get(portlist_spec.name, node->service))) {
        free(t);
        tasks_set_err(err, "portlist %s: out of memory", node->service);
        return NULL;
    }
    t->loop = loop;
    t->interval_ms = c->interval_ms ? c->interval_ms : 1000;
    portlist_init(&t->pl, c->scope_all);
    loop_timer_init(&t->timer, portlist_tick, t);
    /* The first poll comes one interval after start, as Tailscale's poller. */
    loop_timer_arm(loop, &t->timer, t->interval_ms);
    return t;
}

static void portlist_task_stop(void *instance)
{
    struct portlist_task *t = instance;
    if (!t)
        return;
    loop_timer_cancel(t->loop, &t->timer);
    portlist_free(&t->pl);
    free(t);
}

const struct task_desc portlist_desc = {
    .spec = &portlist_spec,
    .start = portlist_task_start,
    .stop = portlist_task_stop,
};
