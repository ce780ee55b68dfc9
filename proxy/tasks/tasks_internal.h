/*
 * tasks_internal: what the task modules share beyond their descriptors
 * (task.h, which is how tasks.c starts and stops them), and the hooks the
 * unit tests and bench use. Not part of the tasks.h contract.
 *
 * Every task instance runs on exactly one loop (a node's loop, or the private
 * loop of a shared thread), is started and stopped on that loop's thread (or
 * before it runs / after it was joined), and records into one task_stats entry.
 */
#ifndef REFPROXY_TASKS_INTERNAL_H
#define REFPROXY_TASKS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "loop.h"
#include "task.h"
#include "task_stats.h"

struct node_tasks;

/* ---- portlist.c: the /proc/net poller ---- */

struct inode_set {
    uint64_t *keys; /* open addressing, 0 = empty (inode 0 is never kept) */
    size_t cap, len;
};

struct portlist_counts {
    uint64_t rows;         /* data rows parsed (header lines excluded) */
    uint64_t kept;         /* listeners and unconnected UDP */
    uint64_t connected;    /* skipped: non-zero remote address */
    uint64_t other;        /* skipped: TCP not in LISTEN, inode 0, malformed */
    uint64_t new_inodes;   /* kept inodes not in the previous poll's set */
    uint64_t fds_walked;   /* readlink calls on /proc/<pid>/fd entries */
    uint64_t owners_found; /* new inodes mapped to an fd */
};

struct portlist {
    bool scope_all;
    struct buf readbuf;     /* reused across polls, as Go reuses its bufio buffer */
    struct inode_set known; /* previous poll's set */
    struct inode_set cur;   /* being built */
    struct inode_set fresh; /* inodes of this poll not in known */
};

void portlist_init(struct portlist *pl, bool scope_all);
void portlist_free(struct portlist *pl);
/* One poll in three steps, so tests can feed fixture text: begin, parse each
 * file's text, end (walks fds for fresh inodes when walk_fds, then swaps sets). */
void portlist_begin(struct portlist *pl);
void portlist_parse(struct portlist *pl, const char *text, size_t len, bool is_udp,
                    struct portlist_counts *c);
void portlist_end(struct portlist *pl, bool walk_fds, struct portlist_counts *c);
/* Reads and parses /proc/net/{tcp,tcp6,udp,udp6}; returns work units (rows + fds). */
uint64_t portlist_poll(struct portlist *pl, struct portlist_counts *c);
bool portlist_known(const struct portlist *pl, uint64_t inode);
size_t portlist_count(const struct portlist *pl);

/* ---- netmon.c: netlink route monitor ---- */

struct netmon;
uint64_t netmon_events(const struct netmon *nm); /* netlink event messages received */
uint64_t netmon_dumps(const struct netmon *nm);  /* debounced full dumps done */
/* One interface enumeration (RTM_GETLINK, RTM_GETADDR per ifindex, and the
 * default route when with_route); returns netlink messages processed or -1. */
long netmon_enumerate(bool with_route);

/* ---- tasks.c: test hooks ---- */

/* Sets *err to a malloc'd printf-formatted message; returns -1 or NULL-ish callers. */
void tasks_set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t tasks_node_netmon_events(const struct node_tasks *nt);
uint64_t tasks_node_netmon_dumps(const struct node_tasks *nt);
uint64_t tasks_shared_netmon_events(void);
uint64_t tasks_shared_netmon_dumps(void);
size_t tasks_node_count(void);
/* The shared log sink (/dev/null), opened by tasks_global_start. */
int tasks_log_fd(void);

#endif
