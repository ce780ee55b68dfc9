/*
 * fuzz_http_response.c: libFuzzer target for http_parse_response.
 *
 * The first input byte picks the request method (GET, HEAD, CONNECT, POST);
 * the rest is the upstream's answer. Checks: rejections are always 502 with a
 * reason, pointers stay within the buffer, the RFC 9112 §6.3 framing rules
 * hold for every accepted head, and a prefix is undecided or agrees.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static const struct http_limits lim = {
    .max_head_bytes = 2048,
    .max_request_line = 256,
    .max_headers = 16,
};

static const char *const methods[] = {"GET", "HEAD", "CONNECT", "POST"};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void check_result(const char *buf, size_t len, const char *method, ssize_t r,
                         const struct http_response *s)
{
    bool head = strcmp(method, "HEAD") == 0, connect = strcmp(method, "CONNECT") == 0;
    if (r < 0) {
        CHECK(r == -1 && s->error_status == 502 && s->error_reason != NULL);
        return;
    }
    if (r == 0) {
        CHECK(len <= lim.max_head_bytes);
        return;
    }
    CHECK((size_t)r <= len && buf[r - 1] == '\n' && buf[r - 2] == '\r');
    CHECK(s->error_status == 0);
    CHECK(s->status >= 100 && s->status <= 599);
    CHECK(s->minor_version == 0 || s->minor_version == 1);
    CHECK(inside(s->reason, s->reason_len, buf, (size_t)r));
    CHECK(s->num_fields <= lim.max_headers);
    for (size_t i = 0; i < s->num_fields; i++) {
        CHECK(inside(s->fields[i].name, s->fields[i].name_len, buf, (size_t)r));
        CHECK(inside(s->fields[i].value, s->fields[i].value_len, buf, (size_t)r));
    }
    if (head || s->status < 200 || s->status == 204 || s->status == 304)
        CHECK(s->body == HTTP_BODY_NONE);
    if (s->status == 101 || (connect && s->status / 100 == 2))
        CHECK(s->upgrade && !s->keep_alive);
    if (s->body == HTTP_BODY_CLOSE)
        CHECK(!s->keep_alive);
    if (s->body == HTTP_BODY_LENGTH)
        CHECK(s->content_length <= (UINT64_C(1) << 62));
    if (s->body == HTTP_BODY_CHUNKED)
        CHECK(s->minor_version == 1 &&
              !http_find_field(s->fields, s->num_fields, "content-length"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_response full, part;
    const char *method, *buf;
    size_t len, k;
    ssize_t r, rp;
    char *copy;

    if (size < 1)
        return 0;
    method = methods[data[0] & 3];
    buf = (const char *)data + 1;
    len = size - 1;
    r = http_parse_response(buf, len, &lim, method, strlen(method), &full);
    check_result(buf, len, method, r, &full);

    k = len ? (data[0] >> 2) * 7u % len : 0;
    copy = malloc(k ? k : 1);
    CHECK(copy != NULL);
    memcpy(copy, buf, k);
    rp = http_parse_response(copy, k, &lim, method, strlen(method), &part);
    check_result(copy, k, method, rp, &part);
    free(copy);
    if (rp > 0)
        CHECK(rp == r && part.body == full.body && part.keep_alive == full.keep_alive &&
              part.content_length == full.content_length && part.status == full.status);
    if (rp < 0 && r > 0)
        abort(); /* a prefix rejected what the whole accepts */
    return 0;
}
