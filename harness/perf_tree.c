/*
 * perf_tree: the set of the sampled tree's pids, kept from a scan and FORK
 * records. See perf_tree.h.
 *
 * Open addressing on pid; a pid once seen keeps its slot and only its
 * member flag changes (no deletions, so no tombstones).
 */
#include "perf_tree.h"

#include <stdint.h>
#include <stdlib.h>

struct entry {
    pid_t pid; /* 0 = free */
    bool member;
};

struct perf_tree {
    struct entry *slots;
    size_t cap, used, max, members;
};

struct perf_tree *perf_tree_new(size_t max)
{
    struct perf_tree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max ? max : 1;
    t->cap = 16;
    while (t->cap < 2 * t->max)
        t->cap *= 2;
    if (!(t->slots = calloc(t->cap, sizeof *t->slots))) {
        free(t);
        return NULL;
    }
    return t;
}

void perf_tree_free(struct perf_tree *t)
{
    if (t)
        free(t->slots);
    free(t);
}

/* pid's slot, or the free slot where it would go. */
static struct entry *slot_of(const struct perf_tree *t, pid_t pid)
{
    size_t mask = t->cap - 1;
    for (size_t i = ((uint32_t)pid * 2654435761u) & mask;; i = (i + 1) & mask)
        if (t->slots[i].pid == 0 || t->slots[i].pid == pid)
            return &t->slots[i];
}

static void set_member(struct perf_tree *t, struct entry *e, bool member)
{
    if (e->member != member)
        t->members += member ? 1 : (size_t)-1;
    e->member = member;
}

bool perf_tree_add(struct perf_tree *t, pid_t pid)
{
    if (pid <= 0)
        return false;
    struct entry *e = slot_of(t, pid);
    if (e->pid == 0) {
        if (t->used >= t->max)
            return false;
        e->pid = pid;
        t->used++;
    }
    set_member(t, e, true);
    return true;
}

bool perf_tree_has(const struct perf_tree *t, pid_t pid)
{
    if (pid <= 0)
        return false;
    const struct entry *e = slot_of(t, pid);
    return e->pid == pid && e->member;
}

enum perf_tree_fork perf_tree_fork(struct perf_tree *t, pid_t pid, pid_t ppid)
{
    if (pid == ppid) /* a new thread of an existing process */
        return perf_tree_has(t, pid) ? PERF_TREE_JOINED : PERF_TREE_OUTSIDE;
    if (perf_tree_has(t, ppid))
        return perf_tree_add(t, pid) ? PERF_TREE_JOINED : PERF_TREE_FULL;
    /* an outsider's child: if it holds a former member's pid, that member
     * is gone (only the table's slot is looked at: outsiders are not added) */
    struct entry *e = pid > 0 ? slot_of(t, pid) : NULL;
    if (e && e->pid == pid)
        set_member(t, e, false);
    return PERF_TREE_OUTSIDE;
}

size_t perf_tree_count(const struct perf_tree *t)
{
    return t->members;
}
