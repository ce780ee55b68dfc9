/*
 * perf_ring: one perf_event ring buffer as the perf profiler reads it: map
 * it (halving the size while the kernel refuses it), walk its records in
 * order handing the room back to the kernel as it goes, and peek ahead at
 * records not consumed yet.
 *
 * Peeking is what lets the per-CPU profiler learn every FORK record that is
 * in any CPU's buffer before it judges a sample by its pid: a child's first
 * sample can sit in one CPU's buffer while the FORK record that made it a
 * member of the tree sits, not read yet, in another's. So it marks every
 * buffer's head first, then peeks at every buffer, then consumes each only
 * up to its mark: a sample below its mark was written before the last mark
 * was taken, hence its process's FORK record too (the kernel writes it
 * before the child first runs), and that is below the head every peek,
 * later, reached. Peeking up to the head at peek time instead would miss a
 * FORK written into an already-peeked buffer while a later one was peeked.
 * r->mark is the head marked, r->peeked how far peeking went; consuming
 * never passes either when asked not to.
 *
 * Records are 8-byte aligned in a power-of-two buffer, so a header never
 * wraps; a record that does is handed over made contiguous in a scratch
 * buffer of PERF_RING_MAX_RECORD bytes. What cannot be right — a header's
 * size under 8, not a multiple of 8 or past the head, a head more than the
 * buffer ahead of the tail — is corrupt: everything up to the head is
 * skipped.
 *
 * Ownership: the ring does not own fd (the profiler closes it);
 * perf_ring_unmap releases the mapping. Errors come back as a negative enum
 * perf_status with a message appended to err. Not thread-safe.
 */
#ifndef SCALEPROF_PERF_RING_H
#define SCALEPROF_PERF_RING_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PERF_RING_MAX_RECORD 65536 /* a record's size is a u16 */

struct perf_ring {
    int fd; /* the event whose buffer it is; -1 when not mapped */
    struct perf_event_mmap_page *meta;
    uint8_t *data;
    size_t data_size, mmap_len;
    uint64_t peeked; /* records before this position were seen by perf_ring_peek */
    uint64_t mark;   /* the head when perf_ring_mark last ran */
};

/* Called with one record (header included, size bytes, contiguous). */
typedef void (*perf_ring_fn)(void *ctx, const uint8_t *rec, size_t size);

/* Maps fd's ring of kb KiB (a power of two), halving down to 64 KiB while the
 * kernel says EPERM or ENOMEM. PERF_ERR_REFUSED when even 64 KiB is refused
 * for lack of lockable memory, PERF_ERR otherwise. */
int perf_ring_map(struct perf_ring *r, int fd, unsigned kb, struct buf *err);
void perf_ring_unmap(struct perf_ring *r);

/* Calls fn for each record from the tail up to the head, or, when
 * upto_mark, up to r->mark and r->peeked, whichever comes first (nothing
 * when never marked or never peeked at); hands each record's room back once
 * fn returns. scratch holds PERF_RING_MAX_RECORD bytes. */
void perf_ring_drain(struct perf_ring *r, int upto_mark, perf_ring_fn fn, void *ctx,
                     uint8_t *scratch);

/* Sets r->mark to the head now. */
void perf_ring_mark(struct perf_ring *r);

/* Calls fn for each record between r->peeked (or the tail, when further on)
 * and the head without consuming it, and moves r->peeked to the head. */
void perf_ring_peek(struct perf_ring *r, perf_ring_fn fn, void *ctx, uint8_t *scratch);

#endif
