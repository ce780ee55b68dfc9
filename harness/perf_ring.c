/*
 * perf_ring: mapping, draining and peeking one perf_event ring buffer for
 * the perf profiler. See perf_ring.h.
 */
#include "perf_ring.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "perf_profiler.h"

int perf_ring_map(struct perf_ring *r, int fd, unsigned kb, struct buf *err)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (size_t)kb * 1024;
    for (; data >= 64 * 1024; data /= 2) {
        void *m = mmap(NULL, data + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            r->fd = fd;
            r->meta = m;
            r->data = (uint8_t *)m + page;
            r->data_size = data;
            r->mmap_len = data + page;
            r->peeked = r->mark = 0;
            return 0;
        }
        if (errno != EPERM && errno != ENOMEM)
            break;
    }
    int e = errno;
    buf_printf(err, "perf: mmap of a %u KiB ring buffer: %s%s", kb, strerror(e),
               e == EPERM ? " (over kernel.perf_event_mlock_kb and RLIMIT_MEMLOCK)" : "");
    return e == EPERM ? PERF_ERR_REFUSED : PERF_ERR;
}

void perf_ring_unmap(struct perf_ring *r)
{
    if (r->meta)
        munmap(r->meta, r->mmap_len);
    r->meta = NULL;
    r->fd = -1;
}

/* The record at position pos, contiguous (in scratch when it wraps); NULL
 * and *size 0 when the header is corrupt. Every record's size is a multiple
 * of 8, so pos stays 8-aligned and a header never runs past the data's end
 * (the end of the mapping): a size that is not is corrupt. */
static const uint8_t *record_at(struct perf_ring *r, uint64_t pos, uint64_t head, size_t *size,
                                uint8_t *scratch)
{
    struct perf_event_header h;
    size_t off = pos & (r->data_size - 1);
    memcpy(&h, r->data + off, sizeof h);
    if (h.size < sizeof h || h.size % 8 || h.size > head - pos) {
        *size = 0;
        return NULL;
    }
    *size = h.size;
    if (off + h.size <= r->data_size)
        return r->data + off;
    size_t first = r->data_size - off;
    memcpy(scratch, r->data + off, first);
    memcpy(scratch + first, r->data, h.size - first);
    return scratch;
}

/* Whether head can be right: the kernel never writes over what was not
 * handed back, so a head more than the buffer ahead of the tail is corrupt,
 * and walking it would hand over the same bytes again and again. */
static bool head_sane(const struct perf_ring *r, uint64_t tail, uint64_t head)
{
    return head - tail <= r->data_size;
}

/* pos when it lies in [tail, head], else tail. */
static uint64_t clamp_pos(uint64_t pos, uint64_t tail, uint64_t head)
{
    return pos - tail <= head - tail ? pos : tail;
}

void perf_ring_mark(struct perf_ring *r)
{
    r->mark = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
}

void perf_ring_drain(struct perf_ring *r, int upto_mark, perf_ring_fn fn, void *ctx,
                     uint8_t *scratch)
{
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->meta->data_tail;
    if (!head_sane(r, tail, head)) {
        __atomic_store_n(&r->meta->data_tail, head, __ATOMIC_RELEASE); /* skip it all */
        return;
    }
    /* mark and peeked lie in [tail, head] once taken (a ring never marked
     * or peeked at has nothing that may be consumed) */
    if (upto_mark) {
        uint64_t mark = clamp_pos(r->mark, tail, head), peeked = clamp_pos(r->peeked, tail, head);
        head = mark - tail < peeked - tail ? mark : peeked;
    }
    while (head - tail >= sizeof(struct perf_event_header)) {
        size_t size;
        const uint8_t *rec = record_at(r, tail, head, &size, scratch);
        if (!rec) {
            tail = head; /* a torn or corrupt buffer: skip what is there */
            break;
        }
        fn(ctx, rec, size);
        tail += size;
        /* hand the room back at once: unwinding takes a while */
        __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

void perf_ring_peek(struct perf_ring *r, perf_ring_fn fn, void *ctx, uint8_t *scratch)
{
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->meta->data_tail;
    if (!head_sane(r, tail, head)) {
        r->peeked = head; /* drain skips it all too */
        return;
    }
    uint64_t pos = clamp_pos(r->peeked, tail, head);
    while (head - pos >= sizeof(struct perf_event_header)) {
        size_t size;
        const uint8_t *rec = record_at(r, pos, head, &size, scratch);
        if (!rec) {
            pos = head; /* corrupt: drain skips it too */
            break;
        }
        fn(ctx, rec, size);
        pos += size;
    }
    r->peeked = pos;
}
