/* strmap: open addressing with linear probing over indexes into the caller's
 * array (strmap.h). Linear probing keeps a lookup to one or two cache lines
 * at the load factor we keep (at most one half). */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The key of element i: the char * that starts it. */
static const char *key_at(const void *base, size_t stride, uint32_t i)
{
    return *(const char *const *)((const char *)base + (size_t)i * stride);
}

/* The slot holding key, or the empty slot where it would go (cap > 0). */
static size_t probe(const uint32_t *slot, size_t cap, const void *base, size_t stride,
                    const char *key)
{
    size_t mask = cap - 1;
    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask)
        if (slot[i] == 0 || strcmp(key_at(base, stride, slot[i] - 1), key) == 0)
            return i;
}

uint32_t strmap_find(const struct strmap *m, const void *base, size_t stride, const char *key)
{
    if (m->cap == 0)
        return STRMAP_NONE;
    uint32_t v = m->slot[probe(m->slot, m->cap, base, stride, key)];
    return v ? v - 1 : STRMAP_NONE;
}

int strmap_add(struct strmap *m, const void *base, size_t stride, uint32_t index)
{
    if (index >= UINT32_MAX - 1) /* index + 1 must fit and differ from STRMAP_NONE */
        return -1;
    if ((m->len + 1) * 2 >= m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        if (ncap > SIZE_MAX / sizeof(uint32_t))
            return -1;
        uint32_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i])
                ns[probe(ns, ncap, base, stride, key_at(base, stride, m->slot[i] - 1))] =
                    m->slot[i];
        free(m->slot);
        m->slot = ns;
        m->cap = ncap;
    }
    m->slot[probe(m->slot, m->cap, base, stride, key_at(base, stride, index))] = index + 1;
    m->len++;
    return 0;
}

void strmap_free(struct strmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = m->len = 0;
}
