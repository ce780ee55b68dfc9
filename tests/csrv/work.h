/*
 * work: the CPU a csrv service spends every tick. peers_compare is the
 * planted super-linear cost: its time is spent inside libc's memcmp (a leaf
 * with no frame pointer), so a profiler names it only by unwinding from CFI.
 * service_digest is the honest linear per-service cost, in csrv's own code.
 */
#ifndef CSRV_WORK_H
#define CSRV_WORK_H

#include <stddef.h>

struct work {
    const unsigned char *const *keys; /* n keys of key_bytes each; read-only once threads run */
    size_t n;
    size_t key_bytes;
    long rounds;   /* passes over the peers per tick */
    size_t visits; /* peers compared per pass: n - 1 (every peer) or, under --linear, a constant */
    long digest_bytes;
};

/* Fills key (len bytes) so that all keys are equal but for name, right-aligned at
 * the end: memcmp then reads the whole common prefix before it finds a difference. */
void work_key_fill(unsigned char *key, size_t len, const char *name);
/* rounds x visits memcmp calls of self's key against peers (self + 1, self + 2, ...
 * cycling past self). Returns how many compared below, so nothing is optimised away. */
unsigned long peers_compare(const struct work *w, size_t self);
/* FNV-1a over self's key, repeated to digest_bytes bytes. */
unsigned long service_digest(const struct work *w, size_t self);

#endif
