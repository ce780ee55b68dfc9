/*
 * buf: a growable byte buffer with a hard cap (the shape of curl's dynbuf).
 *
 * Invariants: data[0..len) holds the bytes; data[len] is always '\0' once the
 * buffer has allocated, so text can be passed to C string functions; len < cap
 * and len <= max, where cap counts the room from data onwards. The buffer owns
 * the allocation, which starts skip bytes before data; buf_free releases it. A
 * buffer that would grow past max refuses the append (returns -1, contents
 * unchanged): every buffer that grows from input has a limit and hitting it is
 * an error.
 *
 * buf_consume only advances data (skip grows), so sending a large buffer in
 * many partial writes costs nothing per write; the bytes move to the front
 * once, when an append needs the room (buf_reserve).
 *
 * Markup quoting lives here too (git keeps strbuf_addstr_xml_quoted beside
 * strbuf): one table of the characters HTML and XML treat as markup, used by
 * every report, SVG and JUnit writer.
 */
#ifndef SCALEPROF_BUF_H
#define SCALEPROF_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    size_t skip; /* consumed bytes in front of data, reclaimed by buf_reserve */
};

/* max = 0 means "no cap beyond SIZE_MAX / 2". */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);                /* len = 0, keeps the allocation */
int buf_reserve(struct buf *b, size_t extra); /* 0 ok, -1 over max or out of memory */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes (n <= len) without moving the rest. */
void buf_consume(struct buf *b, size_t n);
/* Hands the allocation to the caller (NUL-terminated, possibly NULL when empty). */
char *buf_detach(struct buf *b, size_t *len);

/* Appends s (NULL: nothing) with & < > " ' replaced by &amp; &lt; &gt; &quot;
 * &#39;, so the text is safe as element content and inside an attribute
 * quoted with either quote (&#39; rather than &apos;, which HTML 4 lacks).
 * Every other byte, UTF-8 included, is copied as is. 0, or -1 (over max or
 * out of memory) with the contents unchanged, as for every append. */
int buf_add_xml_escaped(struct buf *b, const char *s);
/* The same for the first n bytes of s (a name cut to fit; a NUL ends it
 * sooner), written to f rather than a buffer: 0, or -1 when a write fails. */
int buf_fput_xml_escaped(FILE *f, const char *s, size_t n);

#endif
