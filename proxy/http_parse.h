/*
 * http_parse: strict, allocation-free HTTP/1.1 message-head parsing
 * (RFC 9112 / RFC 9110) and chunked-body framing.
 *
 * The head parsers are re-entrant over a growing buffer: call them again with
 * the same (longer) buffer when more bytes arrive. They never read past len and
 * never write into buf; every pointer they return points into buf, so the
 * parsed structs are valid only while buf is unchanged.
 *
 * Result convention: > 0 is the length of the complete head (request line or
 * status line, fields, and the empty line); 0 means incomplete (need more
 * bytes; only returned while len <= the head limit); -1 means reject, with
 * ->error_status (400, 413, 414, 431, 501, 505, or 502 for responses) and a
 * static one-line ->error_reason.
 */
#ifndef REFPROXY_HTTP_PARSE_H
#define REFPROXY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 100

struct http_limits {
    size_t max_head_bytes;   /* whole head incl. request line; over it: 431 (414 if the
                                request line alone is too long) */
    size_t max_request_line; /* over it: 414 */
    size_t max_headers;      /* field lines; over it: 431; <= HTTP_MAX_HEADERS */
};

struct http_field {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing OWS trimmed */
    size_t value_len;
};

enum http_body {
    HTTP_BODY_NONE,    /* no message body */
    HTTP_BODY_LENGTH,  /* Content-Length bytes */
    HTTP_BODY_CHUNKED, /* chunked transfer coding */
    HTTP_BODY_CLOSE,   /* responses only: read until the connection closes */
};

struct http_request {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor_version; /* 0 or 1 (HTTP/1.x only; others get 505) */
    struct http_field fields[HTTP_MAX_HEADERS];
    size_t num_fields;

    /* Derived from the fields: */
    enum http_body body;
    uint64_t content_length; /* when body == HTTP_BODY_LENGTH */
    bool keep_alive;         /* persistent after this exchange (1.1 default, Connection) */
    bool upgrade;            /* Connection: upgrade and an Upgrade field */
    bool expect_continue;    /* Expect: 100-continue */
    const char *host;        /* Host value, NULL if absent (allowed on 1.0 only) */
    size_t host_len;

    int error_status;
    const char *error_reason;
};

struct http_response {
    int status;
    int minor_version;
    const char *reason;
    size_t reason_len;
    struct http_field fields[HTTP_MAX_HEADERS];
    size_t num_fields;

    enum http_body body; /* framing per RFC 9112 §6.3 given the request method */
    uint64_t content_length;
    bool keep_alive; /* the upstream connection may be reused afterwards */
    bool upgrade;    /* 101 Switching Protocols */

    int error_status; /* 502 on any framing error */
    const char *error_reason;
};

/* Rejects (status): CL+TE (400), differing or malformed Content-Length (400),
 * Transfer-Encoding on HTTP/1.0 (400), a transfer coding other than a final
 * "chunked" (501), obs-fold (400), bare CR or LF (400), NUL or other CTLs (400),
 * whitespace before the colon (400), missing or duplicate Host on 1.1 (400),
 * invalid method/target/version tokens (400/505), head too large (431/414). */
ssize_t http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
                           struct http_request *req);

/* request_method tells HEAD (no body) apart; is_connect likewise. */
ssize_t http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
                            const char *request_method, size_t request_method_len,
                            struct http_response *resp);

/* Case-insensitive field lookup; returns the first match or NULL. */
const struct http_field *http_find_field(const struct http_field *fields, size_t n,
                                         const char *name);
/* True when the comma-separated list in value contains token (case-insensitive). */
bool http_list_has_token(const char *value, size_t value_len, const char *token);

/*
 * Chunked framing, incremental. The proxy relays chunked bytes verbatim and
 * uses this only to find where the body ends and to reject malformed framing
 * (bad hex, size overflow past 2^63, missing CRLF, bare LF, oversized chunk
 * extensions or trailers).
 */
struct http_chunked {
    int state;
    uint64_t remaining; /* data bytes left in the current chunk */
    size_t line_len;    /* bytes in the current size/extension/trailer line */
    size_t trailer_bytes;
    unsigned size_digits;
    bool done;
    const char *error_reason;
};

typedef void http_chunk_data_fn(void *arg, const char *data, size_t len);

void http_chunked_init(struct http_chunked *c);
/* Consumes up to len bytes of chunked body. Returns the number of bytes that
 * belong to the body (< len only once the message is complete: the rest is
 * the next message), or -1 on malformed framing (c->error_reason set).
 * on_data, if not NULL, receives the decoded payload spans. */
ssize_t http_chunked_feed(struct http_chunked *c, const char *buf, size_t len,
                          http_chunk_data_fn *on_data, void *arg);

#endif
