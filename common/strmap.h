/*
 * strmap: a string → index map over an array the caller owns, with the one
 * string hash of the project (64-bit FNV-1a). Attribution maps function names
 * and call paths to their rows, the symbolizer names to function ids; both
 * keep their records in a growing array and want only "which row has this
 * key", so the map stores indexes, never keys or pointers.
 *
 * Keys are read from the array: each element is stride bytes and its first
 * member is its key (a char * or const char *, NUL-terminated). Callers pass
 * the array's current base on every call, so the array may be realloc'd
 * between calls (indexes stay valid where pointers would not). The caller
 * keeps keys unique (strmap_find before strmap_add) and leaves the elements it
 * added in place while the map is in use.
 *
 * Invariants: a zero-initialised struct strmap is an empty map; cap is 0 or a
 * power of two with 2·len < cap (so a probe always meets an empty slot); slot
 * i holds index + 1, or 0 when empty. strmap_free releases the slots (the
 * array and its keys stay the caller's). Errors are -1 (out of memory, or an
 * index that does not fit in 32 bits); a failed add leaves the map unchanged.
 */
#ifndef SCALEPROF_STRMAP_H
#define SCALEPROF_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define STRMAP_NONE UINT32_MAX /* what strmap_find returns for an absent key */

struct strmap {
    uint32_t *slot; /* index + 1; 0 = empty */
    size_t cap;     /* slots: 0 or a power of two */
    size_t len;     /* indexes stored */
};

/* 64-bit FNV-1a of the NUL-terminated s (offset basis 14695981039346656037,
 * prime 1099511628211): fast on short names, and good enough for linear
 * probing because the low bits mix every byte. */
uint64_t strmap_hash(const char *s);

/* Index of the element of base whose key equals key, or STRMAP_NONE. */
uint32_t strmap_find(const struct strmap *m, const void *base, size_t stride, const char *key);

/* Records element index of base (its key must not be in the map yet), growing
 * the slots when needed (rehashing reads every stored element's key from
 * base). 0, or -1 with the map unchanged. */
int strmap_add(struct strmap *m, const void *base, size_t stride, uint32_t index);

void strmap_free(struct strmap *m);

#endif
