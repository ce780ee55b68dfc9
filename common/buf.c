/* buf: growable byte buffer with a hard cap. See buf.h for the invariants. */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->skip = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

/* Moves the bytes back to the start of the allocation, regaining skip bytes of room. */
static void buf_compact(struct buf *b)
{
    if (!b->skip)
        return;
    char *base = b->data - b->skip;
    memmove(base, b->data, b->len + 1); /* with the NUL */
    b->data = base;
    b->cap += b->skip;
    b->skip = 0;
}

void buf_free(struct buf *b)
{
    free(b->data ? b->data - b->skip : NULL);
    b->data = NULL;
    b->len = b->cap = b->skip = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data -= b->skip;
        b->cap += b->skip;
        b->skip = 0;
        b->data[0] = '\0';
    }
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (extra > b->max - b->len)
        return -1;
    size_t need = b->len + extra + 1; /* +1 keeps room for the terminating NUL */
    if (need <= b->cap)
        return 0;
    buf_compact(b);
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    b->data += n;
    b->len -= n;
    b->cap -= n;
    b->skip += n;
}

char *buf_detach(struct buf *b, size_t *len)
{
    buf_compact(b); /* the caller frees what we return */
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = b->skip = 0;
    return p;
}

/* The entity of each byte that is markup in HTML or XML, NULL for the rest.
 * One table for both writers below so that they cannot drift apart (the five
 * copies this replaced had two behaviours, and two left '"' alone inside
 * attributes). */
static const char *const xml_entity[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

int buf_add_xml_escaped(struct buf *b, const char *s)
{
    size_t was = b->len;
    for (const char *run = s; s && *run;) {
        const char *p = run;
        while (*p && !xml_entity[(unsigned char)*p])
            p++;
        if (buf_append(b, run, (size_t)(p - run)) != 0 ||
            (*p && buf_puts(b, xml_entity[(unsigned char)*p]) != 0)) {
            if (b->data) { /* all or nothing, like every other append */
                b->len = was;
                b->data[was] = '\0';
            }
            return -1;
        }
        run = *p ? p + 1 : p;
    }
    return 0;
}

int buf_fput_xml_escaped(FILE *f, const char *s, size_t n)
{
    size_t i = 0;
    while (s && i < n && s[i]) {
        size_t run = i;
        while (run < n && s[run] && !xml_entity[(unsigned char)s[run]])
            run++;
        if (run > i && fwrite(s + i, 1, run - i, f) != run - i)
            return -1;
        if (run == n || !s[run])
            break;
        if (fputs(xml_entity[(unsigned char)s[run]], f) == EOF)
            return -1;
        i = run + 1;
    }
    return 0;
}
