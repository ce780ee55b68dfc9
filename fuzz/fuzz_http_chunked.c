/*
 * fuzz_http_chunked.c: libFuzzer target for the incremental chunked decoder.
 *
 * The same input is decoded whole, split in two at a position taken from the
 * input, and one byte at a time; all three must agree on the verdict, the
 * number of body bytes and the decoded payload. Returned counts stay within
 * each piece, and data spans passed to the callback lie within it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

struct sink {
    const char *piece; /* the buffer being fed, to check spans against */
    size_t piece_len;
    uint64_t len;
    uint64_t hash;
};

static void sink_add(void *arg, const char *data, size_t len)
{
    struct sink *s = arg;
    CHECK(len > 0 && data >= s->piece && (size_t)(data - s->piece) + len <= s->piece_len);
    for (size_t i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char)data[i]) * 1099511628211u;
    s->len += len;
}

/* Feeds pieces of at most step bytes (the first one first_len bytes). */
static ssize_t decode(const uint8_t *data, size_t size, size_t first_len, size_t step,
                      struct sink *out, struct http_chunked *c)
{
    size_t off = 0, total = 0;
    memset(out, 0, sizeof(*out));
    out->hash = 1469598103934665603u;
    http_chunked_init(c);
    while (off < size) {
        size_t n = off == 0 ? first_len : step;
        char *piece;
        ssize_t r;
        if (n > size - off)
            n = size - off;
        piece = malloc(n ? n : 1);
        CHECK(piece != NULL);
        memcpy(piece, data + off, n);
        out->piece = piece;
        out->piece_len = n;
        r = http_chunked_feed(c, piece, n, sink_add, out);
        free(piece);
        if (r < 0) {
            CHECK(r == -1 && c->error_reason != NULL);
            return -1;
        }
        CHECK((size_t)r <= n);
        total += (size_t)r;
        if ((size_t)r < n) {
            CHECK(c->done);
            break;
        }
        off += n;
    }
    CHECK(out->len <= total);
    return (ssize_t)total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_chunked c1, c2, c3;
    struct sink s1, s2, s3;
    ssize_t r1, r2, r3;
    size_t cut = size ? (size_t)data[0] * 13u % size : 0;

    r1 = decode(data, size, size, size, &s1, &c1);
    r2 = decode(data, size, cut ? cut : 1, size, &s2, &c2);
    r3 = decode(data, size, 1, 1, &s3, &c3);
    CHECK(r1 == r2 && r1 == r3);
    CHECK(c1.done == c2.done && c1.done == c3.done);
    if (r1 >= 0) {
        CHECK(s1.len == s2.len && s1.len == s3.len);
        CHECK(s1.hash == s2.hash && s1.hash == s3.hash);
        if (c1.done) /* a finished decoder takes nothing more */
            CHECK(http_chunked_feed(&c1, "0\r\n\r\n", 5, NULL, NULL) == 0);
    }
    return 0;
}
