/*
 * test_http_parse.c: table-driven tests of the strict HTTP/1.1 head parsers.
 *
 * Every table row becomes its own cmocka test named after the row, so a
 * failure (and proxy/CONFORMANCE.md) points at one case. Accepted requests are
 * also parsed split at every byte boundary and pipelined behind each other;
 * rejected ones are checked to give either 0 or the same status on every
 * prefix (a longer buffer never changes an earlier verdict).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

static const struct http_limits test_limits = {
    .max_head_bytes = 8192,
    .max_request_line = 1024,
    .max_headers = 20,
};

/* Literal with its length, so rows may hold NUL bytes. */
#define RAW(s) s, sizeof(s) - 1

/* ---- accepted requests ------------------------------------------------- */

struct req_ok {
    const char *name;
    const char *raw;
    size_t raw_len;
    const char *method;
    const char *target;
    int minor;
    enum http_body body;
    uint64_t content_length;
    bool keep_alive, upgrade, expect_continue;
    const char *host; /* NULL: no Host field */
    size_t num_fields;
};

#define H11 "Host: example.com\r\n"

static const struct req_ok req_ok_rows[] = {
    {"accepts_get_http11_keep_alive_by_default", RAW("GET /a?b=c HTTP/1.1\r\n" H11 "\r\n"), "GET",
     "/a?b=c", 1, HTTP_BODY_NONE, 0, true, false, false, "example.com", 1},
    {"accepts_get_http10_without_host_closes", RAW("GET / HTTP/1.0\r\n\r\n"), "GET", "/", 0,
     HTTP_BODY_NONE, 0, false, false, false, NULL, 0},
    {"accepts_http10_connection_keep_alive",
     RAW("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), "GET", "/", 0, HTTP_BODY_NONE, 0,
     true, false, false, NULL, 1},
    {"accepts_http11_connection_close", RAW("GET / HTTP/1.1\r\n" H11 "Connection: close\r\n\r\n"),
     "GET", "/", 1, HTTP_BODY_NONE, 0, false, false, false, "example.com", 2},
    {"accepts_connection_list_close_wins",
     RAW("GET / HTTP/1.1\r\n" H11 "Connection: keep-alive\r\nConnection: foo, CLOSE\r\n\r\n"),
     "GET", "/", 1, HTTP_BODY_NONE, 0, false, false, false, "example.com", 3},
    {"accepts_post_content_length", RAW("POST /up HTTP/1.1\r\n" H11 "Content-Length: 5\r\n\r\n"),
     "POST", "/up", 1, HTTP_BODY_LENGTH, 5, true, false, false, "example.com", 2},
    {"accepts_content_length_zero", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 0\r\n\r\n"),
     "POST", "/", 1, HTTP_BODY_LENGTH, 0, true, false, false, "example.com", 2},
    {"accepts_content_length_identical_list_collapsed",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 7, 7,7\r\n\r\n"), "POST", "/", 1,
     HTTP_BODY_LENGTH, 7, true, false, false, "example.com", 2},
    {"accepts_content_length_identical_repeated_fields",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 7\r\ncontent-length: 7\r\n\r\n"), "POST", "/",
     1, HTTP_BODY_LENGTH, 7, true, false, false, "example.com", 3},
    {"accepts_content_length_leading_zeros",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 0012\r\n\r\n"), "POST", "/", 1,
     HTTP_BODY_LENGTH, 12, true, false, false, "example.com", 2},
    {"accepts_content_length_2_pow_62",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 4611686018427387904\r\n\r\n"), "POST", "/", 1,
     HTTP_BODY_LENGTH, UINT64_C(4611686018427387904), true, false, false, "example.com", 2},
    {"accepts_transfer_encoding_chunked",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n\r\n"), "POST", "/", 1,
     HTTP_BODY_CHUNKED, 0, true, false, false, "example.com", 2},
    {"accepts_transfer_encoding_chunked_case_and_empty_members",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: , Chunked ,\r\n\r\n"), "POST", "/", 1,
     HTTP_BODY_CHUNKED, 0, true, false, false, "example.com", 2},
    {"accepts_websocket_upgrade",
     RAW("GET /ws HTTP/1.1\r\n" H11
         "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"),
     "GET", "/ws", 1, HTTP_BODY_NONE, 0, true, true, false, "example.com", 3},
    {"ignores_upgrade_field_without_connection_token",
     RAW("GET / HTTP/1.1\r\n" H11 "Upgrade: websocket\r\n\r\n"), "GET", "/", 1, HTTP_BODY_NONE, 0,
     true, false, false, "example.com", 2},
    {"ignores_connection_upgrade_without_upgrade_field",
     RAW("GET / HTTP/1.1\r\n" H11 "Connection: upgrade\r\n\r\n"), "GET", "/", 1, HTTP_BODY_NONE, 0,
     true, false, false, "example.com", 2},
    {"ignores_upgrade_on_http10",
     RAW("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"), "GET", "/", 0,
     HTTP_BODY_NONE, 0, false, false, false, NULL, 2},
    {"accepts_expect_100_continue",
     RAW("PUT /x HTTP/1.1\r\n" H11 "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n"), "PUT",
     "/x", 1, HTTP_BODY_LENGTH, 3, true, false, true, "example.com", 3},
    {"ignores_expect_100_continue_on_http10",
     RAW("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"), "PUT", "/x", 0,
     HTTP_BODY_LENGTH, 3, false, false, false, NULL, 2},
    {"skips_one_empty_line_before_request_line", RAW("\r\nGET / HTTP/1.1\r\n" H11 "\r\n"), "GET",
     "/", 1, HTTP_BODY_NONE, 0, true, false, false, "example.com", 1},
    {"accepts_options_asterisk_form", RAW("OPTIONS * HTTP/1.1\r\n" H11 "\r\n"), "OPTIONS", "*", 1,
     HTTP_BODY_NONE, 0, true, false, false, "example.com", 1},
    {"accepts_connect_authority_form",
     RAW("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), "CONNECT",
     "example.com:443", 1, HTTP_BODY_NONE, 0, true, false, false, "example.com:443", 1},
    {"accepts_absolute_form", RAW("GET http://example.com/x HTTP/1.1\r\n" H11 "\r\n"), "GET",
     "http://example.com/x", 1, HTTP_BODY_NONE, 0, true, false, false, "example.com", 1},
    {"accepts_ipv6_host_with_port", RAW("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), "GET", "/",
     1, HTTP_BODY_NONE, 0, true, false, false, "[::1]:8080", 1},
    {"accepts_empty_host_value", RAW("GET / HTTP/1.1\r\nHost:\r\n\r\n"), "GET", "/", 1,
     HTTP_BODY_NONE, 0, true, false, false, "", 1},
    {"accepts_obs_text_and_tabs_in_values",
     RAW("GET / HTTP/1.1\r\n" H11 "X-Text:\t\x80 caf\xc3\xa9\t \r\nX-Empty:\r\n\r\n"), "GET", "/",
     1, HTTP_BODY_NONE, 0, true, false, false, "example.com", 3},
    {"accepts_unusual_token_method", RAW("M-SEARCH~! / HTTP/1.1\r\n" H11 "\r\n"), "M-SEARCH~!", "/",
     1, HTTP_BODY_NONE, 0, true, false, false, "example.com", 1},
};

static void check_req_ok(const struct req_ok *row, const struct http_request *req)
{
    assert_int_equal(req->error_status, 0);
    assert_int_equal(req->method_len, strlen(row->method));
    assert_memory_equal(req->method, row->method, req->method_len);
    assert_int_equal(req->target_len, strlen(row->target));
    assert_memory_equal(req->target, row->target, req->target_len);
    assert_int_equal(req->minor_version, row->minor);
    assert_int_equal(req->body, row->body);
    if (row->body == HTTP_BODY_LENGTH)
        assert_true(req->content_length == row->content_length);
    assert_int_equal(req->keep_alive, row->keep_alive);
    assert_int_equal(req->upgrade, row->upgrade);
    assert_int_equal(req->expect_continue, row->expect_continue);
    assert_int_equal(req->num_fields, row->num_fields);
    if (row->host == NULL) {
        assert_null(req->host);
    } else {
        assert_non_null(req->host);
        assert_int_equal(req->host_len, strlen(row->host));
        assert_memory_equal(req->host, row->host, req->host_len);
    }
}

/* One row: whole, at every prefix, and pipelined twice in one buffer. */
static void test_req_ok_row(void **state)
{
    const struct req_ok *row = *state;
    struct http_request req;
    char *two;

    assert_int_equal(http_parse_request(row->raw, row->raw_len, &test_limits, &req),
                     (ssize_t)row->raw_len);
    check_req_ok(row, &req);

    /* Split at every byte boundary: copy each prefix to its own allocation so
     * ASan catches a read past len. */
    for (size_t k = 1; k < row->raw_len; k++) {
        char *p = malloc(k);
        assert_non_null(p);
        memcpy(p, row->raw, k);
        assert_int_equal(http_parse_request(p, k, &test_limits, &req), 0);
        free(p);
    }

    /* Pipelined: the same request twice; the second parse starts after the first. */
    two = malloc(2 * row->raw_len);
    assert_non_null(two);
    memcpy(two, row->raw, row->raw_len);
    memcpy(two + row->raw_len, row->raw, row->raw_len);
    assert_int_equal(http_parse_request(two, 2 * row->raw_len, &test_limits, &req),
                     (ssize_t)row->raw_len);
    check_req_ok(row, &req);
    assert_int_equal(http_parse_request(two + row->raw_len, row->raw_len, &test_limits, &req),
                     (ssize_t)row->raw_len);
    check_req_ok(row, &req);
    free(two);
}

/* ---- rejected requests ------------------------------------------------- */

struct req_bad {
    const char *name;
    const char *raw;
    size_t raw_len;
    int status;
    const char *reason; /* the rejection must be for this reason */
};

static const struct req_bad req_bad_rows[] = {
    /* Framing (RFC 9112 §6) */
    {"rejects_content_length_with_transfer_encoding",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
     "both Content-Length and Transfer-Encoding"},
    {"rejects_transfer_encoding_with_content_length",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400,
     "both Content-Length and Transfer-Encoding"},
    {"rejects_differing_content_length_fields",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400,
     "differing Content-Length values"},
    {"rejects_differing_content_length_list",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5, 6\r\n\r\n"), 400,
     "differing Content-Length values"},
    {"rejects_content_length_not_digits",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: abc\r\n\r\n"), 400, "malformed Content-Length"},
    {"rejects_content_length_negative", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: -1\r\n\r\n"),
     400, "malformed Content-Length"},
    {"rejects_content_length_plus_sign",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: +5\r\n\r\n"), 400, "malformed Content-Length"},
    {"rejects_content_length_hex", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 0x5\r\n\r\n"),
     400, "malformed Content-Length"},
    {"rejects_content_length_empty", RAW("POST / HTTP/1.1\r\n" H11 "Content-Length:\r\n\r\n"), 400,
     "malformed Content-Length"},
    {"rejects_content_length_inner_space",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5 5\r\n\r\n"), 400, "malformed Content-Length"},
    {"rejects_content_length_empty_list_member",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5,,5\r\n\r\n"), 400,
     "malformed Content-Length"},
    {"rejects_content_length_trailing_comma",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 5,\r\n\r\n"), 400, "malformed Content-Length"},
    {"rejects_content_length_above_2_pow_62_with_413",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 4611686018427387905\r\n\r\n"), 413,
     "Content-Length above 2^62"},
    {"rejects_content_length_overflowing_uint64_with_413",
     RAW("POST / HTTP/1.1\r\n" H11 "Content-Length: 99999999999999999999999\r\n\r\n"), 413,
     "Content-Length above 2^62"},
    {"rejects_transfer_encoding_on_http10",
     RAW("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
     "Transfer-Encoding on HTTP/1.0"},
    {"rejects_unknown_transfer_coding_gzip_501",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip\r\n\r\n"), 501,
     "transfer coding other than chunked"},
    {"rejects_coding_before_chunked_501",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501,
     "transfer coding other than chunked"},
    {"rejects_chunked_not_final_501",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), 501,
     "transfer coding other than chunked"},
    {"rejects_identity_coding_501",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: identity\r\n\r\n"), 501,
     "transfer coding other than chunked"},
    {"rejects_chunked_with_parameter_501",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n"), 501,
     "transfer coding other than chunked"},
    {"rejects_chunked_twice_in_list",
     RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400,
     "chunked applied more than once"},
    {"rejects_chunked_twice_in_fields",
     RAW("POST / HTTP/1.1\r\n" H11
         "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
     400, "chunked applied more than once"},
    {"rejects_empty_transfer_encoding", RAW("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding:\r\n\r\n"),
     400, "empty Transfer-Encoding"},
    /* Field syntax (RFC 9112 §5) */
    {"rejects_obs_fold", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\r\n b\r\n\r\n"), 400,
     "obs-fold (field line starting with whitespace)"},
    {"rejects_obs_fold_with_tab", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\r\n\tb\r\n\r\n"), 400,
     "obs-fold (field line starting with whitespace)"},
    {"rejects_whitespace_before_first_field", RAW("GET / HTTP/1.1\r\n " H11 "\r\n"), 400,
     "whitespace before the first field line"},
    {"rejects_space_before_colon", RAW("GET / HTTP/1.1\r\nHost : example.com\r\n\r\n"), 400,
     "whitespace between field name and colon"},
    {"rejects_tab_before_colon", RAW("GET / HTTP/1.1\r\n" H11 "X-A\t: b\r\n\r\n"), 400,
     "whitespace between field name and colon"},
    {"rejects_field_without_colon", RAW("GET / HTTP/1.1\r\n" H11 "X-A b\r\n\r\n"), 400,
     "field line without colon"},
    {"rejects_empty_field_name", RAW("GET / HTTP/1.1\r\n" H11 ": b\r\n\r\n"), 400,
     "empty field name"},
    {"rejects_invalid_field_name_char", RAW("GET / HTTP/1.1\r\n" H11 "X(A): b\r\n\r\n"), 400,
     "invalid character in field name"},
    {"rejects_bare_lf_in_request_line", RAW("GET / HTTP/1.1\n" H11 "\r\n"), 400,
     "bare LF (request line not ended by CRLF)"},
    {"rejects_bare_lf_after_field", RAW("GET / HTTP/1.1\r\nHost: example.com\nX: y\r\n\r\n"), 400,
     "bare LF (line not ended by CRLF)"},
    {"rejects_bare_lf_empty_line", RAW("GET / HTTP/1.1\r\n" H11 "\n"), 400,
     "bare LF (line not ended by CRLF)"},
    {"rejects_bare_lf_everywhere", RAW("GET / HTTP/1.1\nHost: example.com\n\n"), 400,
     "bare LF (request line not ended by CRLF)"},
    {"rejects_bare_cr_after_version", RAW("GET / HTTP/1.1\rX\r\n" H11 "\r\n"), 400,
     "bare CR in request line"},
    {"rejects_bare_cr_in_target", RAW("GET /\r HTTP/1.1\r\n" H11 "\r\n"), 400,
     "bare CR in request line"},
    {"rejects_bare_cr_in_field_value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\rb\r\n\r\n"), 400,
     "bare CR in field value"},
    {"rejects_bare_cr_in_field_name", RAW("GET / HTTP/1.1\r\n" H11 "X\r-A: b\r\n\r\n"), 400,
     "bare CR in field name"},
    {"rejects_bare_cr_before_crlf", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\r\r\n\r\n"), 400,
     "bare CR in field value"},
    {"rejects_nul_in_field_value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\0b\r\n\r\n"), 400,
     "NUL in field value"},
    {"rejects_nul_in_field_name", RAW("GET / HTTP/1.1\r\n" H11 "X\0A: b\r\n\r\n"), 400,
     "NUL in field name"},
    {"rejects_nul_in_target", RAW("GET /\0 HTTP/1.1\r\n" H11 "\r\n"), 400, "NUL in request line"},
    {"rejects_nul_in_method", RAW("G\0T / HTTP/1.1\r\n" H11 "\r\n"), 400, "NUL in request line"},
    {"rejects_ctl_in_field_value",
     RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\x01"
         "b\r\n\r\n"),
     400, "control character in field value"},
    {"rejects_escape_in_field_value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: \x1b[0m\r\n\r\n"), 400,
     "control character in field value"},
    {"rejects_del_in_field_value", RAW("GET / HTTP/1.1\r\n" H11 "X-A: a\x7f\r\n\r\n"), 400,
     "control character in field value"},
    /* Host (RFC 9112 §3.2) */
    {"rejects_missing_host_on_http11", RAW("GET / HTTP/1.1\r\nX-A: b\r\n\r\n"), 400,
     "missing Host on HTTP/1.1"},
    {"rejects_duplicate_host_on_http11", RAW("GET / HTTP/1.1\r\n" H11 H11 "\r\n"), 400,
     "duplicate Host"},
    {"rejects_duplicate_host_on_http10", RAW("GET / HTTP/1.0\r\n" H11 "Host: b\r\n\r\n"), 400,
     "duplicate Host"},
    {"rejects_host_with_path", RAW("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400,
     "invalid Host value"},
    {"rejects_host_with_userinfo", RAW("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400,
     "invalid Host value"},
    {"rejects_host_with_space", RAW("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400,
     "invalid Host value"},
    /* Request line (RFC 9112 §3) */
    {"rejects_invalid_method_char", RAW("G(T / HTTP/1.1\r\n" H11 "\r\n"), 400, "invalid method"},
    {"rejects_empty_method", RAW(" / HTTP/1.1\r\n" H11 "\r\n"), 400, "invalid method"},
    {"rejects_tls_client_hello", RAW("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400,
     "invalid method"},
    {"rejects_leading_bare_lf", RAW("\nGET / HTTP/1.1\r\n" H11 "\r\n"), 400,
     "bare LF in request line"},
    {"rejects_two_leading_empty_lines", RAW("\r\n\r\nGET / HTTP/1.1\r\n" H11 "\r\n"), 400,
     "request line without HTTP version"},
    {"rejects_double_space_before_target", RAW("GET  / HTTP/1.1\r\n" H11 "\r\n"), 400,
     "invalid request target"},
    {"rejects_double_space_before_version", RAW("GET /  HTTP/1.1\r\n" H11 "\r\n"), 400,
     "invalid HTTP version"},
    {"rejects_relative_target", RAW("GET a/b HTTP/1.1\r\n" H11 "\r\n"), 400,
     "invalid request target"},
    {"rejects_target_with_fragment", RAW("GET /a#f HTTP/1.1\r\n" H11 "\r\n"), 400,
     "invalid request target"},
    {"rejects_target_with_non_ascii", RAW("GET /\xff HTTP/1.1\r\n" H11 "\r\n"), 400,
     "invalid request target"},
    {"rejects_asterisk_on_get", RAW("GET * HTTP/1.1\r\n" H11 "\r\n"), 400,
     "asterisk-form target on a method other than OPTIONS"},
    {"rejects_connect_with_path", RAW("CONNECT /x HTTP/1.1\r\n" H11 "\r\n"), 400,
     "CONNECT target is not host:port"},
    {"rejects_connect_without_port", RAW("CONNECT example.com HTTP/1.1\r\n" H11 "\r\n"), 400,
     "CONNECT target is not host:port"},
    {"rejects_http09_request_line", RAW("GET /\r\n\r\n"), 400, "request line without HTTP version"},
    {"rejects_lowercase_protocol", RAW("GET / http/1.1\r\n" H11 "\r\n"), 400,
     "invalid HTTP version"},
    {"rejects_version_without_minor", RAW("GET / HTTP/1\r\n" H11 "\r\n"), 400,
     "invalid HTTP version"},
    {"rejects_version_two_digit_minor", RAW("GET / HTTP/1.10\r\n" H11 "\r\n"), 400,
     "invalid HTTP version"},
    {"rejects_version_letters", RAW("GET / HTTP/a.b\r\n" H11 "\r\n"), 400, "invalid HTTP version"},
    {"rejects_space_after_version", RAW("GET / HTTP/1.1 \r\n" H11 "\r\n"), 400,
     "invalid HTTP version"},
    {"rejects_http20_with_505", RAW("GET / HTTP/2.0\r\n" H11 "\r\n"), 505,
     "HTTP version not supported"},
    {"rejects_http12_with_505", RAW("GET / HTTP/1.2\r\n" H11 "\r\n"), 505,
     "HTTP version not supported"},
    {"rejects_http09_version_with_505", RAW("GET / HTTP/0.9\r\n" H11 "\r\n"), 505,
     "HTTP version not supported"},
    {"rejects_h2_preface_with_505", RAW("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505,
     "HTTP version not supported"},
};

static void test_req_bad_row(void **state)
{
    const struct req_bad *row = *state;
    struct http_request req;
    assert_int_equal(http_parse_request(row->raw, row->raw_len, &test_limits, &req), -1);
    assert_int_equal(req.error_status, row->status);
    assert_non_null(req.error_reason);
    assert_string_equal(req.error_reason, row->reason);
    /* Every prefix is either undecided or decided the same way. */
    for (size_t k = 1; k < row->raw_len; k++) {
        char *p = malloc(k);
        ssize_t r;
        assert_non_null(p);
        memcpy(p, row->raw, k);
        r = http_parse_request(p, k, &test_limits, &req);
        free(p);
        if (r != 0) {
            assert_int_equal(r, -1);
            assert_int_equal(req.error_status, row->status);
        }
    }
}

/* ---- limits and pipelining (generated inputs) -------------------------- */

/* "GET /aaa… HTTP/1.1\r\n" whose line (without CRLF) is line_len bytes, then
 * extra_fields "X-N: v" lines, then Host and the empty line. */
static char *make_request(size_t line_len, size_t extra_fields, size_t *out_len)
{
    size_t cap = line_len + 64 + extra_fields * 32, n;
    char *s = malloc(cap);
    assert_non_null(s);
    assert_true(line_len >= 15);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', line_len - 14);
    n = 5 + line_len - 14;
    n += (size_t)sprintf(s + n, " HTTP/1.1\r\n");
    for (size_t i = 0; i < extra_fields; i++)
        n += (size_t)sprintf(s + n, "X-%zu: v\r\n", i);
    n += (size_t)sprintf(s + n, H11 "\r\n");
    *out_len = n;
    return s;
}

static void test_accepts_request_line_at_limit(void **state)
{
    struct http_request req;
    size_t n;
    char *s = make_request(test_limits.max_request_line, 0, &n);
    assert_int_equal(http_parse_request(s, n, &test_limits, &req), (ssize_t)n);
    assert_int_equal(req.target_len + 13, test_limits.max_request_line);
    free(s);
}

static void test_rejects_request_line_over_limit_414(void **state)
{
    struct http_request req;
    size_t n;
    char *s = make_request(test_limits.max_request_line + 1, 0, &n);
    assert_int_equal(http_parse_request(s, n, &test_limits, &req), -1);
    assert_int_equal(req.error_status, 414);
    /* Decided before the line ends: the first byte past the limit suffices. */
    assert_int_equal(http_parse_request(s, test_limits.max_request_line + 1, &test_limits, &req),
                     -1);
    assert_int_equal(req.error_status, 414);
    assert_int_equal(http_parse_request(s, test_limits.max_request_line, &test_limits, &req), 0);
    free(s);
}

static void test_rejects_request_line_filling_head_budget_414(void **state)
{
    const struct http_limits lim = {
        .max_head_bytes = 512, .max_request_line = 4096, .max_headers = 20};
    struct http_request req;
    size_t n;
    char *s = make_request(600, 0, &n);
    assert_int_equal(http_parse_request(s, n, &lim, &req), -1);
    assert_int_equal(req.error_status, 414);
    free(s);
}

/* Head (with fields) longer than max_head_bytes: 431 complete or not. */
static void test_rejects_head_over_limit_431(void **state)
{
    struct http_request req;
    size_t n;
    struct http_limits lim = test_limits;
    char *s = make_request(100, 30, &n);
    lim.max_headers = HTTP_MAX_HEADERS;
    lim.max_head_bytes = n - 1;
    assert_int_equal(http_parse_request(s, n, &lim, &req), -1);
    assert_int_equal(req.error_status, 431);
    /* Without the final empty line, any length past the limit decides it. */
    lim.max_head_bytes = n - 10;
    assert_int_equal(http_parse_request(s, n - 9, &lim, &req), -1);
    assert_int_equal(req.error_status, 431);
    assert_int_equal(http_parse_request(s, n - 10, &lim, &req), 0);
    lim.max_head_bytes = n;
    assert_int_equal(http_parse_request(s, n, &lim, &req), (ssize_t)n);
    free(s);
}

static void test_rejects_too_many_fields_431(void **state)
{
    struct http_request req;
    size_t n;
    /* max_headers - 1 extra fields + Host = max_headers: accepted. */
    char *s = make_request(20, test_limits.max_headers - 1, &n);
    assert_int_equal(http_parse_request(s, n, &test_limits, &req), (ssize_t)n);
    assert_int_equal(req.num_fields, test_limits.max_headers);
    free(s);
    s = make_request(20, test_limits.max_headers, &n);
    assert_int_equal(http_parse_request(s, n, &test_limits, &req), -1);
    assert_int_equal(req.error_status, 431);
    free(s);
}

static void test_null_and_zero_limits_use_defaults(void **state)
{
    const struct http_limits zero = {0};
    struct http_request req;
    size_t n;
    char *s = make_request(4000, HTTP_MAX_HEADERS - 1, &n);
    assert_int_equal(http_parse_request(s, n, NULL, &req), (ssize_t)n);
    assert_int_equal(http_parse_request(s, n, &zero, &req), (ssize_t)n);
    free(s);
    s = make_request(4000, HTTP_MAX_HEADERS, &n);
    assert_int_equal(http_parse_request(s, n, NULL, &req), -1);
    assert_int_equal(req.error_status, 431);
    free(s);
}

/* Two different requests in one buffer, the first with a body: parse the
 * head, skip the body by its Content-Length, parse the second. */
static void test_parses_pipelined_requests_with_body(void **state)
{
    static const char buf[] = "POST /one HTTP/1.1\r\n" H11 "Content-Length: 5\r\n\r\nhello"
                              "GET /two HTTP/1.1\r\n" H11 "Connection: close\r\n\r\n";
    struct http_request req;
    ssize_t first = http_parse_request(buf, sizeof(buf) - 1, &test_limits, &req);
    size_t off;
    assert_true(first > 0);
    assert_int_equal(req.body, HTTP_BODY_LENGTH);
    assert_memory_equal(req.target, "/one", 4);
    off = (size_t)first + req.content_length;
    assert_memory_equal(buf + off, "GET", 3);
    assert_int_equal(http_parse_request(buf + off, sizeof(buf) - 1 - off, &test_limits, &req),
                     (ssize_t)(sizeof(buf) - 1 - off));
    assert_int_equal(req.target_len, 4);
    assert_memory_equal(req.target, "/two", 4);
    assert_false(req.keep_alive);
}

static void test_finds_fields_and_list_tokens(void **state)
{
    static const char buf[] = "GET / HTTP/1.1\r\n" H11 "connection:  a , Keep-Alive,,b \r\n\r\n";
    struct http_request req;
    const struct http_field *f;
    assert_true(http_parse_request(buf, sizeof(buf) - 1, &test_limits, &req) > 0);
    f = http_find_field(req.fields, req.num_fields, "CONNECTION");
    assert_non_null(f);
    assert_int_equal(f->value_len, strlen("a , Keep-Alive,,b"));
    assert_true(http_list_has_token(f->value, f->value_len, "keep-alive"));
    assert_true(http_list_has_token(f->value, f->value_len, "b"));
    assert_false(http_list_has_token(f->value, f->value_len, "keep"));
    assert_false(http_list_has_token(f->value, f->value_len, ""));
    assert_null(http_find_field(req.fields, req.num_fields, "Host2"));
    assert_false(http_list_has_token("", 0, "close"));
}

/* ---- responses --------------------------------------------------------- */

struct resp_row {
    const char *name;
    const char *method;
    const char *raw;
    size_t raw_len;
    int ret; /* 1 accepted (whole length), -1 rejected with 502 */
    int status;
    enum http_body body;
    uint64_t content_length;
    bool keep_alive, upgrade;
    const char *reason; /* rejected rows: the reason */
};

/* A rejected row: the other members are not checked. */
#define REJECT(why) -1, 502, HTTP_BODY_NONE, 0, false, false, why

static const struct resp_row resp_rows[] = {
    {"response_content_length_framing", "GET", RAW("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
     1, 200, HTTP_BODY_LENGTH, 12, true, false, NULL},
    {"response_chunked_framing", "GET",
     RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 1, 200, HTTP_BODY_CHUNKED, 0,
     true, false, NULL},
    {"response_without_framing_reads_until_close", "GET", RAW("HTTP/1.1 200 OK\r\n\r\n"), 1, 200,
     HTTP_BODY_CLOSE, 0, false, false, NULL},
    {"response_http10_without_keep_alive_not_reused", "GET",
     RAW("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"), 1, 200, HTTP_BODY_LENGTH, 1, false, false,
     NULL},
    {"response_http10_keep_alive_reused", "GET",
     RAW("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"), 1, 200,
     HTTP_BODY_LENGTH, 1, true, false, NULL},
    {"response_connection_close_not_reused", "GET",
     RAW("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"), 1, 200,
     HTTP_BODY_LENGTH, 1, false, false, NULL},
    {"response_to_head_has_no_body", "HEAD", RAW("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
     1, 200, HTTP_BODY_NONE, 0, true, false, NULL},
    {"response_to_head_ignores_chunked", "HEAD",
     RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 1, 200, HTTP_BODY_NONE, 0, true,
     false, NULL},
    {"response_204_has_no_body", "GET", RAW("HTTP/1.1 204 No Content\r\n\r\n"), 1, 204,
     HTTP_BODY_NONE, 0, true, false, NULL},
    {"response_304_has_no_body", "GET",
     RAW("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"), 1, 304, HTTP_BODY_NONE, 0,
     true, false, NULL},
    {"response_100_continue_has_no_body", "POST", RAW("HTTP/1.1 100 Continue\r\n\r\n"), 1, 100,
     HTTP_BODY_NONE, 0, true, false, NULL},
    {"response_103_has_no_body", "GET", RAW("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"), 1,
     103, HTTP_BODY_NONE, 0, true, false, NULL},
    {"response_101_switches_protocols", "GET",
     RAW("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
     1, 101, HTTP_BODY_NONE, 0, false, true, NULL},
    {"response_2xx_to_connect_is_tunnel", "CONNECT", RAW("HTTP/1.1 200 OK\r\n\r\n"), 1, 200,
     HTTP_BODY_NONE, 0, false, true, NULL},
    {"response_without_reason_phrase", "GET", RAW("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"), 1,
     200, HTTP_BODY_LENGTH, 0, true, false, NULL},
    {"response_with_empty_reason_phrase", "GET",
     RAW("HTTP/1.1 404 \r\nContent-Length: 2, 2\r\n\r\n"), 1, 404, HTTP_BODY_LENGTH, 2, true, false,
     NULL},
    /* Framing errors → 502 (and the connection is not reused). */
    {"response_rejects_cl_and_te", "GET",
     RAW("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
     REJECT("both Content-Length and Transfer-Encoding from upstream")},
    {"response_rejects_differing_content_length", "GET",
     RAW("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
     REJECT("differing Content-Length values from upstream")},
    {"response_rejects_malformed_content_length", "GET",
     RAW("HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\n"),
     REJECT("malformed Content-Length from upstream")},
    {"response_rejects_content_length_above_2_pow_62", "GET",
     RAW("HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387905\r\n\r\n"),
     REJECT("Content-Length from upstream above 2^62")},
    {"response_rejects_te_on_http10", "GET",
     RAW("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
     REJECT("Transfer-Encoding in an HTTP/1.0 response")},
    {"response_rejects_unknown_coding", "GET",
     RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
     REJECT("upstream transfer coding other than one final chunked")},
    {"response_rejects_chunked_not_final", "GET",
     RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
     REJECT("upstream transfer coding other than one final chunked")},
    {"response_rejects_obs_fold", "GET",
     RAW("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
     REJECT("obs-fold (field line starting with whitespace)")},
    {"response_rejects_bare_lf", "GET", RAW("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"),
     REJECT("bare LF in status line")},
    {"response_rejects_bare_cr", "GET", RAW("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n"),
     REJECT("bare CR in field value")},
    {"response_rejects_nul", "GET", RAW("HTTP/1.1 200 OK\r\nX-A: a\0\r\n\r\n"),
     REJECT("NUL in field value")},
    {"response_rejects_space_before_colon", "GET",
     RAW("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"),
     REJECT("whitespace between field name and colon")},
    {"response_rejects_http2_version", "GET", RAW("HTTP/2.0 200 OK\r\n\r\n"),
     REJECT("unsupported HTTP version from upstream")},
    {"response_rejects_two_digit_status", "GET", RAW("HTTP/1.1 20 OK\r\n\r\n"),
     REJECT("malformed status code")},
    {"response_rejects_status_600", "GET", RAW("HTTP/1.1 600 Odd\r\n\r\n"),
     REJECT("status code out of range")},
    {"response_rejects_status_099", "GET", RAW("HTTP/1.1 099 Odd\r\n\r\n"),
     REJECT("status code out of range")},
    {"response_rejects_non_http", "GET", RAW("ICY 200 OK\r\n\r\n"),
     REJECT("upstream response is not HTTP/1.x")},
    {"response_rejects_missing_space_after_version", "GET", RAW("HTTP/1.1200 OK\r\n\r\n"),
     REJECT("malformed status line")},
};

static void check_resp(const struct resp_row *row, ssize_t r, const struct http_response *resp)
{
    if (row->ret < 0) {
        assert_int_equal(r, -1);
        assert_int_equal(resp->error_status, 502);
        assert_string_equal(resp->error_reason, row->reason);
        return;
    }
    assert_int_equal(r, (ssize_t)row->raw_len);
    assert_int_equal(resp->error_status, 0);
    assert_int_equal(resp->status, row->status);
    assert_int_equal(resp->body, row->body);
    if (row->body == HTTP_BODY_LENGTH)
        assert_true(resp->content_length == row->content_length);
    assert_int_equal(resp->keep_alive, row->keep_alive);
    assert_int_equal(resp->upgrade, row->upgrade);
}

static void test_resp_row(void **state)
{
    const struct resp_row *row = *state;
    struct http_response resp;
    size_t mlen = strlen(row->method);
    ssize_t r = http_parse_response(row->raw, row->raw_len, &test_limits, row->method, mlen, &resp);
    check_resp(row, r, &resp);
    for (size_t k = 1; k < row->raw_len; k++) {
        char *p = malloc(k);
        assert_non_null(p);
        memcpy(p, row->raw, k);
        r = http_parse_response(p, k, &test_limits, row->method, mlen, &resp);
        free(p);
        if (row->ret > 0)
            assert_int_equal(r, 0);
        else if (r != 0)
            check_resp(row, r, &resp);
    }
}

static void test_response_head_too_large_is_502(void **state)
{
    const struct http_limits lim = {
        .max_head_bytes = 64, .max_request_line = 64, .max_headers = 20};
    static const char big[] =
        "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaa\r\n\r\n";
    struct http_response resp;
    assert_int_equal(http_parse_response(big, sizeof(big) - 1, &lim, "GET", 3, &resp), -1);
    assert_int_equal(resp.error_status, 502);
    assert_int_equal(http_parse_response(big, 65, &lim, "GET", 3, &resp), -1);
    assert_int_equal(http_parse_response(big, 64, &lim, "GET", 3, &resp), 0);
}

/* ---- runner ------------------------------------------------------------ */

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_accepts_request_line_at_limit),
        cmocka_unit_test(test_rejects_request_line_over_limit_414),
        cmocka_unit_test(test_rejects_request_line_filling_head_budget_414),
        cmocka_unit_test(test_rejects_head_over_limit_431),
        cmocka_unit_test(test_rejects_too_many_fields_431),
        cmocka_unit_test(test_null_and_zero_limits_use_defaults),
        cmocka_unit_test(test_parses_pipelined_requests_with_body),
        cmocka_unit_test(test_finds_fields_and_list_tokens),
        cmocka_unit_test(test_response_head_too_large_is_502),
    };
    size_t n = NROWS(fixed) + NROWS(req_ok_rows) + NROWS(req_bad_rows) + NROWS(resp_rows), k = 0;
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    int rc;
    if (tests == NULL)
        return 1;
    for (size_t i = 0; i < NROWS(fixed); i++)
        tests[k++] = fixed[i];
    /* One named test per table row (the cast drops const: cmocka's state is void *). */
    for (size_t i = 0; i < NROWS(req_ok_rows); i++)
        tests[k++] = (struct CMUnitTest){req_ok_rows[i].name, test_req_ok_row, NULL, NULL,
                                         (void *)&req_ok_rows[i]};
    for (size_t i = 0; i < NROWS(req_bad_rows); i++)
        tests[k++] = (struct CMUnitTest){req_bad_rows[i].name, test_req_bad_row, NULL, NULL,
                                         (void *)&req_bad_rows[i]};
    for (size_t i = 0; i < NROWS(resp_rows); i++)
        tests[k++] = (struct CMUnitTest){resp_rows[i].name, test_resp_row, NULL, NULL,
                                         (void *)&resp_rows[i]};
    rc = _cmocka_run_group_tests("http_parse", tests, n, NULL, NULL);
    free(tests);
    return rc;
}
