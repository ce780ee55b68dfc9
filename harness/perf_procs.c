/*
 * perf_procs: the perf profiler's table of processes (maps snapshots, pprof
 * mappings) and threads (names). See perf_procs.h.
 */
#include "perf_procs.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildid.h"
#include "outfile.h"
#include "procstat.h"

#define MAPS_MAX ((size_t)16 << 20)
#define BUILDIDS_MAX 4096

/* An executable file mapping and its pprof id. Entries of an address space
 * replaced by exec stay, not live, so a snapshot taken after the exec but
 * read before its record revives them instead of adding them twice. */
struct pmap {
    uint64_t start, end, offset, ino, id;
    bool live;
};

struct perf_proc {
    pid_t pid;
    char *maps; /* the latest snapshot */
    size_t maps_len;
    double snap_at; /* procstat_now() of the snapshot */
    bool dirty;     /* an mmap or exec since the snapshot */
    struct pmap *ids;
    size_t nids, ids_cap;
};

struct thread {
    pid_t tid, pid;
    bool forked;
    uint64_t comm_time; /* of the COMM record that named it; 0 = none */
    char comm[17];
};

struct buildid {
    char *path, *id;
};

struct perf_procs {
    struct pprof_builder *pb;
    struct unwinder *uw;
    size_t max_procs, max_threads;
    struct perf_proc **procs; /* open addressing on pid, cap a power of two */
    size_t procs_cap, nprocs;
    struct thread *threads; /* open addressing on tid (0 = free) */
    size_t threads_cap, nthreads;
    struct buildid *buildids;
    size_t nbuildids;
    struct buf scratch; /* unwinder messages nobody reads: a sample goes on without */
};

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

int perf_procs_new(struct perf_procs **out, struct pprof_builder *pb, struct unwinder *uw,
                   size_t max_processes, size_t max_threads, struct buf *err)
{
    struct perf_procs *ps = calloc(1, sizeof *ps);
    if (ps) {
        ps->pb = pb;
        ps->uw = uw;
        ps->max_procs = max_processes;
        ps->max_threads = max_threads;
        ps->procs_cap = pow2_at_least(2 * max_processes);
        ps->threads_cap = pow2_at_least(2 * max_threads);
        ps->procs = calloc(ps->procs_cap, sizeof *ps->procs);
        ps->threads = calloc(ps->threads_cap, sizeof *ps->threads);
        ps->buildids = calloc(BUILDIDS_MAX, sizeof *ps->buildids);
        buf_init(&ps->scratch, 4096);
    }
    if (!ps || !ps->procs || !ps->threads || !ps->buildids) {
        perf_procs_free(ps);
        buf_printf(err, "perf: out of memory for the process table");
        *out = NULL;
        return -1;
    }
    *out = ps;
    return 0;
}

void perf_procs_free(struct perf_procs *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; ps->procs && i < ps->procs_cap; i++) {
        if (!ps->procs[i])
            continue;
        free(ps->procs[i]->maps);
        free(ps->procs[i]->ids);
        free(ps->procs[i]);
    }
    for (size_t i = 0; ps->buildids && i < ps->nbuildids; i++) {
        free(ps->buildids[i].path);
        free(ps->buildids[i].id);
    }
    free(ps->procs);
    free(ps->threads);
    free(ps->buildids);
    buf_free(&ps->scratch);
    free(ps);
}

static size_t slot_of(pid_t id, size_t cap)
{
    return ((uint32_t)id * 2654435761u) & (cap - 1);
}

static struct perf_proc **proc_slot(struct perf_procs *ps, pid_t pid)
{
    size_t mask = ps->procs_cap - 1;
    for (size_t i = slot_of(pid, ps->procs_cap);; i = (i + 1) & mask)
        if (!ps->procs[i] || ps->procs[i]->pid == pid)
            return &ps->procs[i];
}

/* The thread entry of tid, created (empty name) when there is room; NULL when full. */
static struct thread *thread_slot(struct perf_procs *ps, pid_t tid, bool create)
{
    size_t mask = ps->threads_cap - 1;
    for (size_t i = slot_of(tid, ps->threads_cap);; i = (i + 1) & mask) {
        struct thread *t = &ps->threads[i];
        if (t->tid == tid)
            return t;
        if (t->tid == 0) {
            if (!create || ps->nthreads >= ps->max_threads)
                return NULL;
            t->tid = tid;
            ps->nthreads++;
            return t;
        }
    }
}

static const char *buildid_of(struct perf_procs *ps, const char *path)
{
    for (size_t i = 0; i < ps->nbuildids; i++)
        if (!strcmp(ps->buildids[i].path, path))
            return ps->buildids[i].id;
    if (ps->nbuildids == BUILDIDS_MAX)
        return NULL;
    struct buildid *b = &ps->buildids[ps->nbuildids];
    if (!(b->path = strdup(path)))
        return NULL;
    b->id = buildid_read(path);
    ps->nbuildids++;
    return b->id;
}

struct line {
    uint64_t start, end, offset, ino;
    char perms[8];
    const char *path;
};

static bool parse_line(char *text, struct line *l)
{
    int pos = -1;
    unsigned maj, min;
    if (sscanf(text, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &l->start,
               &l->end, l->perms, &l->offset, &maj, &min, &l->ino, &pos) < 7 ||
        pos < 0)
        return false;
    l->path = text + pos;
    return true;
}

/* Adds the executable file mappings of p's snapshot that p does not have yet;
 * those of the executable itself (exe) first. */
static void add_mappings(struct perf_procs *ps, struct perf_proc *p, const char *exe)
{
    char *text = malloc(p->maps_len + 1);
    if (!text)
        return;
    for (int pass = 0; pass < 2; pass++) {
        memcpy(text, p->maps, p->maps_len);
        text[p->maps_len] = '\0';
        for (char *s = text; s && *s;) {
            char *nl = strchr(s, '\n');
            if (nl)
                *nl = '\0';
            struct line l;
            if (parse_line(s, &l) && l.perms[2] == 'x' && l.path[0] == '/' &&
                (pass == 1) != (exe && !strcmp(l.path, exe))) {
                bool known = false;
                for (size_t i = 0; i < p->nids && !known; i++) {
                    struct pmap *m = &p->ids[i];
                    known = m->start == l.start && m->end == l.end && m->offset == l.offset &&
                            m->ino == l.ino;
                    m->live |= known;
                }
                if (!known && p->nids < 65536) {
                    if (p->nids == p->ids_cap) {
                        size_t cap = p->ids_cap ? p->ids_cap * 2 : 16;
                        struct pmap *n = realloc(p->ids, cap * sizeof *n);
                        if (!n)
                            break;
                        p->ids = n;
                        p->ids_cap = cap;
                    }
                    uint64_t id = pprof_add_mapping(ps->pb, l.start, l.end, l.offset, l.path,
                                                    buildid_of(ps, l.path));
                    if (id)
                        p->ids[p->nids++] =
                            (struct pmap){l.start, l.end, l.offset, l.ino, id, true};
                }
            }
            s = nl ? nl + 1 : NULL;
        }
    }
    free(text);
}

/* Takes in a maps text (owned by p from now on) and tells the unwinder. */
static void install_maps(struct perf_procs *ps, struct perf_proc *p, char *text, size_t len,
                         const char *exe)
{
    free(p->maps);
    p->maps = text;
    p->maps_len = len;
    p->snap_at = procstat_now();
    p->dirty = false;
    add_mappings(ps, p, exe);
    buf_reset(&ps->scratch);
    unwind_set_maps(ps->uw, p->pid, text, len, &ps->scratch);
}

/* Reads /proc/<pid>/maps into p. -1 when the process is gone. */
static int snapshot(struct perf_procs *ps, struct perf_proc *p)
{
    char path[64], exe[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)p->pid);
    size_t len;
    char *text = outfile_slurp(path, MAPS_MAX, &len);
    if (!text)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/exe", (int)p->pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    install_maps(ps, p, text, len, n > 0 ? exe : NULL);
    return 0;
}

static struct perf_proc *get(struct perf_procs *ps, pid_t pid, pid_t ppid)
{
    struct perf_proc **slot = proc_slot(ps, pid), *p = *slot;
    if (p) {
        if (p->dirty)
            snapshot(ps, p); /* gone: keep the last one */
        return p;
    }
    if (ps->nprocs >= ps->max_procs || !(p = calloc(1, sizeof *p)))
        return NULL;
    p->pid = pid;
    if (snapshot(ps, p) < 0) {
        /* gone already: a forked child maps what its parent mapped */
        struct perf_proc *parent = ppid > 0 ? *proc_slot(ps, ppid) : NULL;
        char *copy = parent && parent->maps ? malloc(parent->maps_len + 1) : NULL;
        if (!copy) {
            free(p);
            return NULL;
        }
        memcpy(copy, parent->maps, parent->maps_len);
        install_maps(ps, p, copy, parent->maps_len, NULL);
    }
    *slot = p;
    ps->nprocs++;
    return p;
}

struct perf_proc *perf_procs_get(struct perf_procs *ps, pid_t pid)
{
    return get(ps, pid, 0); /* a forked child was taken in by its FORK record */
}

bool perf_procs_refresh(struct perf_procs *ps, struct perf_proc *p, double min_age_s)
{
    if (procstat_now() - p->snap_at < min_age_s)
        return false;
    return snapshot(ps, p) == 0;
}

void perf_procs_mmap(struct perf_procs *ps, pid_t pid)
{
    struct perf_proc *p = *proc_slot(ps, pid);
    if (p)
        p->dirty = true;
}

/* pid's address space was replaced (exec) or pid is a new process (reuse). */
static void renew(struct perf_procs *ps, struct perf_proc *p)
{
    /* a new address space: old ranges must not name new addresses (the
     * builder keeps the old Mappings for the samples that used them) */
    for (size_t i = 0; i < p->nids; i++)
        p->ids[i].live = false;
    p->dirty = true;
    unwind_forget(ps->uw, p->pid);
}

void perf_procs_exec(struct perf_procs *ps, pid_t pid)
{
    struct perf_proc *p = *proc_slot(ps, pid);
    if (p)
        renew(ps, p);
}

static void read_comm(pid_t pid, pid_t tid, char out[17])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)tid);
    size_t len;
    char *text = outfile_slurp(path, 64, &len);
    out[0] = '\0';
    if (text) {
        text[strcspn(text, "\n")] = '\0';
        snprintf(out, 17, "%s", text);
        free(text);
    }
}

void perf_procs_comm(struct perf_procs *ps, pid_t pid, pid_t tid, const char *comm, uint64_t time)
{
    struct thread *t = thread_slot(ps, tid, true);
    if (t && time >= t->comm_time) {
        t->pid = pid;
        t->comm_time = time;
        snprintf(t->comm, sizeof t->comm, "%s", comm);
    }
}

void perf_procs_fork(struct perf_procs *ps, pid_t pid, pid_t ppid, pid_t tid, pid_t ptid,
                     uint64_t time)
{
    struct thread *parent = thread_slot(ps, ptid, false);
    char comm[17] = "";
    if (parent)
        memcpy(comm, parent->comm, sizeof comm);
    struct thread *t = thread_slot(ps, tid, true);
    if (!t)
        return;
    t->pid = pid;
    t->forked = true;
    /* a COMM record read first, newer than this FORK, renamed it: keep that
     * name; an older one named an earlier thread with this tid */
    if (t->comm_time <= time) {
        t->comm_time = 0;
        if (!comm[0])
            read_comm(pid, tid, comm);
        memcpy(t->comm, comm, sizeof comm);
    }
    if (pid == ppid)
        return;
    /* a new process: snapshot it while it lives (a pid seen before was an
     * earlier process of the tree, gone since) */
    struct perf_proc *p = *proc_slot(ps, pid);
    if (p)
        renew(ps, p);
    get(ps, pid, ppid);
}

bool perf_procs_forked(struct perf_procs *ps, pid_t tid)
{
    struct thread *t = thread_slot(ps, tid, false);
    return t && t->forked;
}

const char *perf_procs_thread_name(struct perf_procs *ps, pid_t pid, pid_t tid)
{
    struct thread *t = thread_slot(ps, tid, false);
    if (!t && (t = thread_slot(ps, tid, true))) {
        t->pid = pid;
        read_comm(pid, tid, t->comm);
    }
    return t && t->comm[0] ? t->comm : "?";
}

uint64_t perf_procs_mapping(struct perf_proc *p, uint64_t pc)
{
    for (size_t i = p->nids; i-- > 0;) /* newest first: a remapped range wins */
        if (p->ids[i].live && pc >= p->ids[i].start && pc < p->ids[i].end)
            return p->ids[i].id;
    return 0;
}

size_t perf_procs_process_count(const struct perf_procs *ps)
{
    return ps->nprocs;
}

size_t perf_procs_thread_count(const struct perf_procs *ps)
{
    return ps->nthreads;
}
