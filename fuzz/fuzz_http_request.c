/*
 * fuzz_http_request.c: libFuzzer target for http_parse_request.
 *
 * Besides crashes and sanitizer reports it checks the parser's contract:
 * results stay within the buffer, a rejection carries a listed status and a
 * reason, and a prefix of the input is either undecided (0) or decided exactly
 * as the whole input (the re-entrancy the connection code relies on).
 * Build and run with fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* Small limits so the fuzzer reaches 414/431 within short inputs. */
static const struct http_limits lim = {
    .max_head_bytes = 2048,
    .max_request_line = 256,
    .max_headers = 16,
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void check_result(const char *buf, size_t len, ssize_t r, const struct http_request *q)
{
    if (r < 0) {
        int s = q->error_status;
        CHECK(r == -1);
        CHECK(s == 400 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505);
        CHECK(q->error_reason != NULL);
        return;
    }
    if (r == 0) {
        CHECK(len <= lim.max_head_bytes);
        return;
    }
    CHECK((size_t)r <= len && (size_t)r <= lim.max_head_bytes);
    CHECK(buf[r - 1] == '\n' && buf[r - 2] == '\r');
    CHECK(q->error_status == 0);
    CHECK(q->method_len > 0 && inside(q->method, q->method_len, buf, (size_t)r));
    CHECK(q->target_len > 0 && inside(q->target, q->target_len, buf, (size_t)r));
    CHECK(q->target_len + q->method_len + 10 <= lim.max_request_line);
    CHECK(q->minor_version == 0 || q->minor_version == 1);
    CHECK(q->num_fields <= lim.max_headers);
    for (size_t i = 0; i < q->num_fields; i++) {
        const struct http_field *f = &q->fields[i];
        CHECK(f->name_len > 0 && inside(f->name, f->name_len, buf, (size_t)r));
        CHECK(inside(f->value, f->value_len, buf, (size_t)r));
        CHECK(memchr(f->value, '\r', f->value_len) == NULL);
        CHECK(memchr(f->value, '\n', f->value_len) == NULL);
        CHECK(memchr(f->value, '\0', f->value_len) == NULL);
    }
    CHECK(q->body == HTTP_BODY_NONE || q->body == HTTP_BODY_LENGTH || q->body == HTTP_BODY_CHUNKED);
    CHECK(q->body != HTTP_BODY_LENGTH || q->content_length <= (UINT64_C(1) << 62));
    CHECK(q->body != HTTP_BODY_CHUNKED || q->minor_version == 1);
    if (q->minor_version == 1)
        CHECK(q->host != NULL);
    if (q->host != NULL)
        CHECK(inside(q->host, q->host_len, buf, (size_t)r));
    /* Framing fields were checked: CL and TE never both present. */
    CHECK(!(http_find_field(q->fields, q->num_fields, "content-length") &&
            http_find_field(q->fields, q->num_fields, "transfer-encoding")));
}

static bool same_result(ssize_t r1, const struct http_request *a, ssize_t r2,
                        const struct http_request *b)
{
    if (r1 != r2)
        return false;
    if (r1 < 0)
        return a->error_status == b->error_status;
    return r1 == 0 || (a->body == b->body && a->content_length == b->content_length &&
                       a->keep_alive == b->keep_alive && a->upgrade == b->upgrade &&
                       a->expect_continue == b->expect_continue && a->num_fields == b->num_fields &&
                       a->minor_version == b->minor_version);
}

/* Parses a private copy of buf[0..k) so ASan sees any read past k. */
static ssize_t parse_prefix(const char *buf, size_t k, struct http_request *q)
{
    char *p = malloc(k ? k : 1);
    ssize_t r;
    CHECK(p != NULL);
    memcpy(p, buf, k);
    r = http_parse_request(p, k, &lim, q);
    check_result(p, k, r, q);
    free(p);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_request full, part;
    const char *buf = (const char *)data;
    ssize_t r = http_parse_request(buf, size, &lim, &full);
    size_t cuts[3];

    check_result(buf, size, r, &full);
    /* Fed as two prefixes: the first must be undecided or agree. */
    cuts[0] = size / 2;
    cuts[1] = size ? size - 1 : 0;
    cuts[2] = size ? (data[0] * 31u + data[size - 1]) % size : 0;
    for (int i = 0; i < 3; i++) {
        ssize_t rp = parse_prefix(buf, cuts[i], &part);
        if (rp != 0)
            CHECK(same_result(rp, &part, r, &full));
    }
    if (r > 0) {
        /* Exactly the head parses to the same result; what follows is the
         * next pipelined message, parsed on its own. */
        ssize_t rh = parse_prefix(buf, (size_t)r, &part);
        CHECK(same_result(rh, &part, r, &full));
        if ((size_t)r < size)
            parse_prefix(buf + r, size - (size_t)r, &part);
    }
    return 0;
}
