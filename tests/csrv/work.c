/*
 * work: csrv's per-tick CPU (see work.h). Built with -fno-builtin-memcmp and a
 * key length known only at run time, so each compare is a real call into
 * libc. The functions are kept out of inlining and cloning so that they stay
 * frames under their own names (a .constprop/.isra clone would rename them).
 */
#include "work.h"

#include <string.h>

#if defined(__clang__)
#define KEEP_FRAME __attribute__((noinline))
#else
#define KEEP_FRAME __attribute__((noipa))
#endif

void work_key_fill(unsigned char *key, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (n > len)
        n = len;
    memset(key, 'k', len - n);
    memcpy(key + len - n, name, n);
}

KEEP_FRAME unsigned long peers_compare(const struct work *w, size_t self)
{
    unsigned long below = 0;
    if (w->n < 2)
        return 0;
    const unsigned char *mine = w->keys[self];
    for (long r = 0; r < w->rounds; r++)
        for (size_t j = 0; j < w->visits; j++) {
            size_t peer = (self + 1 + j % (w->n - 1)) % w->n;
            below += memcmp(mine, w->keys[peer], w->key_bytes) < 0;
        }
    return below;
}

KEEP_FRAME unsigned long service_digest(const struct work *w, size_t self)
{
    const unsigned char *key = w->keys[self];
    unsigned long h = 14695981039346656037UL;
    size_t at = 0;
    for (long i = 0; i < w->digest_bytes; i++) {
        h = (h ^ key[at]) * 1099511628211UL;
        if (++at == w->key_bytes)
            at = 0;
    }
    return h;
}
