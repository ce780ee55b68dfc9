/*
 * http_chunked.c: incremental chunked transfer-coding framing (RFC 9112 §7.1).
 *
 * The proxy relays chunked bodies verbatim; this decoder only finds where the
 * body ends and rejects framing a smuggler could exploit. It is a byte-level
 * state machine, so input split at any byte gives the same result.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Bounds: at most 16 hex digits and a size below 2^63; a size line (with its
 * extensions) of at most HTTP_CHUNK_LINE_MAX bytes; a trailer section of at
 * most HTTP_CHUNK_TRAILER_MAX bytes. Only CRLF ends a line.
 */
#include "http_parse.h"

#include <string.h>

#define HTTP_CHUNK_LINE_MAX 4096
#define HTTP_CHUNK_TRAILER_MAX 8192
#define HTTP_CHUNK_SIZE_LIMIT (UINT64_C(1) << 63)

enum {
    ST_SIZE,    /* hex digits of chunk-size */
    ST_SIZE_WS, /* BWS after the size: only ';' or CR may follow */
    ST_EXT,     /* chunk extensions, after the first ';' */
    ST_SIZE_LF, /* CR seen at the end of the size line */
    ST_DATA,    /* chunk-data */
    ST_DATA_CR, /* CRLF after chunk-data */
    ST_DATA_LF,
    ST_TRAILER_START, /* start of a trailer line, or of the final empty line */
    ST_TRAILER_NAME,
    ST_TRAILER_VALUE,
    ST_TRAILER_LF, /* CR seen at the end of a trailer field line */
    ST_END_LF,     /* CR of the final empty line seen */
    ST_DONE,
    ST_ERROR,
};

void http_chunked_init(struct http_chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = ST_SIZE;
}

static ssize_t chunked_fail(struct http_chunked *c, const char *reason)
{
    c->state = ST_ERROR;
    c->error_reason = reason;
    return -1;
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* tchar per RFC 9110 §5.6.2 (the characters of a method or field name), as a
 * table: this test runs once per byte of every head. */
static const bool tchar_table[256] = {
    ['0' ... '9'] = true, ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['!'] = true,  ['#'] = true,
    ['$'] = true,         ['%'] = true,         ['&'] = true,         ['\''] = true, ['*'] = true,
    ['+'] = true,         ['-'] = true,         ['.'] = true,         ['^'] = true,  ['_'] = true,
    ['`'] = true,         ['|'] = true,         ['~'] = true,
};

static bool is_tchar(unsigned char ch)
{
    return tchar_table[ch];
}

/* Characters allowed in chunk extensions and trailer values: VCHAR, SP, HTAB,
 * obs-text. Extensions are not parsed further (the proxy ignores them) but
 * they may not hide control characters. */
static bool is_text(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

ssize_t http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
                          http_chunk_data_fn *on_data, void *arg)
{
    size_t i = 0;
    if (c->state == ST_ERROR)
        return -1;
    while (i < len && c->state != ST_DONE) {
        unsigned char ch = (unsigned char)buf[i];
        if (c->state == ST_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > c->remaining)
                n = (size_t)c->remaining;
            if (on_data != NULL && n > 0)
                on_data(arg, buf + i, n);
            c->remaining -= n;
            i += n;
            if (c->remaining == 0)
                c->state = ST_DATA_CR;
            continue;
        }
        i++;
        switch (c->state) {
        case ST_SIZE:
        case ST_SIZE_WS:
        case ST_EXT:
            if (++c->line_len > HTTP_CHUNK_LINE_MAX)
                return chunked_fail(c, "chunk size line too long");
            if (c->state == ST_SIZE && hex_value(ch) >= 0) {
                if (++c->size_digits > 16)
                    return chunked_fail(c, "chunk size has more than 16 hex digits");
                if (c->remaining >= HTTP_CHUNK_SIZE_LIMIT >> 4)
                    return chunked_fail(c, "chunk size overflows 2^63");
                c->remaining = (c->remaining << 4) | (uint64_t)hex_value(ch);
            } else if (c->state == ST_SIZE && c->size_digits == 0) {
                return chunked_fail(c, "chunk size is not hex");
            } else if (ch == '\r') {
                /* BWS is allowed only before ';': "5 \r\n" is not a chunk-size. */
                if (c->state == ST_SIZE_WS)
                    return chunked_fail(c, "whitespace after chunk size");
                c->state = ST_SIZE_LF;
            } else if (ch == '\n') {
                return chunked_fail(c, "bare LF in chunk size line");
            } else if (c->state != ST_EXT && (ch == ' ' || ch == '\t')) {
                c->state = ST_SIZE_WS; /* BWS before ';' (RFC 9112 §7.1.1) */
            } else if (c->state != ST_EXT && ch == ';') {
                c->state = ST_EXT;
            } else if (c->state != ST_EXT || !is_text(ch)) {
                return chunked_fail(c, "invalid character in chunk size line");
            }
            break;
        case ST_SIZE_LF:
            if (ch != '\n')
                return chunked_fail(c, "bare CR in chunk size line");
            c->line_len = 0;
            c->size_digits = 0;
            c->state = c->remaining == 0 ? ST_TRAILER_START : ST_DATA;
            break;
        case ST_DATA_CR:
            if (ch != '\r')
                return chunked_fail(c, ch == '\n' ? "bare LF after chunk data"
                                                  : "chunk data longer than its size");
            c->state = ST_DATA_LF;
            break;
        case ST_DATA_LF:
            if (ch != '\n')
                return chunked_fail(c, "bare CR after chunk data");
            c->state = ST_SIZE;
            break;
        case ST_TRAILER_START:
        case ST_TRAILER_NAME:
        case ST_TRAILER_VALUE:
            if (++c->trailer_bytes > HTTP_CHUNK_TRAILER_MAX)
                return chunked_fail(c, "chunked trailer section too large");
            if (c->state == ST_TRAILER_START && ch == '\r') {
                c->state = ST_END_LF;
            } else if (c->state == ST_TRAILER_START && (ch == ' ' || ch == '\t')) {
                return chunked_fail(c, "obs-fold in trailer");
            } else if (c->state != ST_TRAILER_VALUE && is_tchar(ch)) {
                c->state = ST_TRAILER_NAME;
            } else if (c->state == ST_TRAILER_NAME && ch == ':') {
                c->state = ST_TRAILER_VALUE;
            } else if (c->state == ST_TRAILER_VALUE && ch == '\r') {
                c->state = ST_TRAILER_LF;
            } else if (ch == '\n') {
                return chunked_fail(c, "bare LF in trailer");
            } else if (c->state != ST_TRAILER_VALUE || !is_text(ch)) {
                return chunked_fail(c, "invalid trailer field line");
            }
            break;
        case ST_TRAILER_LF:
            if (ch != '\n')
                return chunked_fail(c, "bare CR in trailer");
            if (++c->trailer_bytes > HTTP_CHUNK_TRAILER_MAX)
                return chunked_fail(c, "chunked trailer section too large");
            c->state = ST_TRAILER_START;
            break;
        case ST_END_LF:
            if (ch != '\n')
                return chunked_fail(c, "bare CR at the end of the chunked body");
            c->state = ST_DONE;
            c->done = true;
            break;
        default:
            return chunked_fail(c, "internal: bad chunked state");
        }
    }
    return (ssize_t)i;
}
