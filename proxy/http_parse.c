/*
 * http_parse.c: strict HTTP/1.1 request and response head parsing (RFC 9112,
 * RFC 9110). Pure functions over a caller-owned buffer: no allocation, no I/O.
 *
 * Re-entrancy: the caller passes the whole buffer again when more bytes arrive.
 * An incomplete call is cheap: the request line is checked byte by byte (so
 * garbage such as a TLS ClientHello is rejected at once), then a memchr scan
 * looks for the empty line; field lines are parsed only once the head is whole.
 *
 * Every decision on an incomplete buffer (414, 431, a bad request-line byte) is
 * taken at a byte position that a longer buffer also reaches first, so a
 * prefix either returns 0 or exactly the result of the whole message. The
 * fuzz targets in fuzz/ check that invariant.
 *
 * Choices where RFC 9112 leaves room (see proxy/CONFORMANCE.md):
 * - one empty line (CRLF) before the request line is skipped (§2.2 SHOULD);
 * - Content-Length "5, 5" (identical list members, also across repeated
 *   fields) is collapsed to 5; differing members are 400; a valid length
 *   above 2^62 is 413;
 * - Transfer-Encoding: any coding other than one final "chunked" is 501 on
 *   requests (the proxy decodes none) and 502 on responses.
 */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_HEAD 65536
#define DEFAULT_MAX_REQUEST_LINE 8192
#define CONTENT_LENGTH_MAX (UINT64_C(1) << 62)

/* tchar per RFC 9110 §5.6.2 (the characters of a method or field name), as a
 * table: this test runs once per byte of every head. */
static const bool tchar_table[256] = {
    ['0' ... '9'] = true, ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['!'] = true,  ['#'] = true,
    ['$'] = true,         ['%'] = true,         ['&'] = true,         ['\''] = true, ['*'] = true,
    ['+'] = true,         ['-'] = true,         ['.'] = true,         ['^'] = true,  ['_'] = true,
    ['`'] = true,         ['|'] = true,         ['~'] = true,
};

static bool is_tchar(unsigned char c)
{
    return tchar_table[c];
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Case-insensitive compare of [s, s+n) with the NUL-terminated lowercase lit. */
static bool eq_ci(const char *s, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    }
    return lit[i] == '\0';
}

static void limits_resolve(const struct http_limits *in, struct http_limits *out)
{
    /* NULL or zero members mean the defaults (the config's defaults too), so a
     * zero-initialised struct never turns every request into a 431. */
    out->max_head_bytes = in && in->max_head_bytes ? in->max_head_bytes : DEFAULT_MAX_HEAD;
    out->max_request_line =
        in && in->max_request_line ? in->max_request_line : DEFAULT_MAX_REQUEST_LINE;
    out->max_headers = in && in->max_headers ? in->max_headers : HTTP_MAX_HEADERS;
    if (out->max_headers > HTTP_MAX_HEADERS)
        out->max_headers = HTTP_MAX_HEADERS;
}

/* The head ends at the first empty line. Bare LFs count as line ends here so
 * that a head using them is found and then rejected by the strict line parse.
 * from must point at or before the LF that ends the start line. Returns the
 * head length, or 0 when no empty line is in [from, len). */
static size_t find_head_end(const char *buf, size_t from, size_t len)
{
    const char *p = buf + from, *end = buf + len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (p + 1 < end && p[1] == '\n')
            return (size_t)(p + 2 - buf);
        if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
            return (size_t)(p + 3 - buf);
        p++;
    }
    return 0;
}

/* ---- field lines ------------------------------------------------------- */

struct head_error {
    int status;
    const char *reason;
};

/* Parses the field lines in [pos, head_end), head_end being just past the
 * final empty line. Fills fields; returns 0 or -1 with err set. */
static int parse_fields(const char *buf, size_t pos, size_t head_end, size_t max_headers,
                        int too_many_status, struct http_field *fields, size_t *num_fields,
                        struct head_error *err)
{
    size_t n = 0;
    err->status = 400;
    for (;;) {
        const char *line = buf + pos;
        const char *lf = memchr(line, '\n', head_end - pos);
        const char *p, *colon, *vend;
        if (lf == NULL || lf == line || lf[-1] != '\r') {
            err->reason = "bare LF (line not ended by CRLF)";
            return -1;
        }
        if (lf - 1 == line)
            break;     /* the empty line: end of head */
        vend = lf - 1; /* at the CR */
        if (is_ows((unsigned char)line[0])) {
            err->reason = n == 0 ? "whitespace before the first field line"
                                 : "obs-fold (field line starting with whitespace)";
            return -1;
        }
        for (p = line; p < vend && is_tchar((unsigned char)*p); p++)
            ;
        colon = p;
        if (colon == vend || *colon != ':') {
            if (colon < vend && is_ows((unsigned char)*colon) &&
                memchr(colon, ':', (size_t)(vend - colon)) != NULL)
                err->reason = "whitespace between field name and colon";
            else if (colon < vend && *colon == '\r')
                err->reason = "bare CR in field name";
            else if (colon < vend && *colon == '\0')
                err->reason = "NUL in field name";
            else if (memchr(colon, ':', (size_t)(vend - colon)) == NULL)
                err->reason = "field line without colon";
            else
                err->reason = "invalid character in field name";
            return -1;
        }
        if (colon == line) {
            err->reason = "empty field name";
            return -1;
        }
        for (p = colon + 1; p < vend; p++) {
            unsigned char c = (unsigned char)*p;
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                err->reason = c == '\r'   ? "bare CR in field value"
                              : c == '\0' ? "NUL in field value"
                                          : "control character in field value";
                return -1;
            }
        }
        if (n == max_headers) {
            err->status = too_many_status;
            err->reason = "too many header fields";
            return -1;
        }
        p = colon + 1;
        while (p < vend && is_ows((unsigned char)*p))
            p++;
        while (vend > p && is_ows((unsigned char)vend[-1]))
            vend--;
        fields[n].name = line;
        fields[n].name_len = (size_t)(colon - line);
        fields[n].value = p;
        fields[n].value_len = (size_t)(vend - p);
        n++;
        pos = (size_t)(lf + 1 - buf);
    }
    *num_fields = n;
    return 0;
}

/* ---- framing fields ---------------------------------------------------- */

/* Content-Length value: 1*DIGIT, or a list of identical ones (RFC 9110 §8.6).
 * Returns 0 with *out (saturated at CONTENT_LENGTH_MAX + 1), or -1 malformed,
 * -2 members differ. */
static int content_length_parse(const char *v, size_t n, uint64_t *out)
{
    size_t i = 0;
    bool have = false;
    uint64_t first = 0;
    for (;;) {
        uint64_t x = 0;
        size_t digits = 0;
        while (i < n && is_ows((unsigned char)v[i]))
            i++;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            x = x * 10 + (uint64_t)(v[i] - '0');
            if (x > CONTENT_LENGTH_MAX)
                x = CONTENT_LENGTH_MAX + 1; /* saturate: stays > the limit */
            i++;
            digits++;
        }
        if (digits == 0)
            return -1;
        while (i < n && is_ows((unsigned char)v[i]))
            i++;
        if (have && x != first)
            return -2;
        first = x;
        have = true;
        if (i == n)
            break;
        if (v[i] != ',')
            return -1;
        i++;
    }
    *out = first;
    return 0;
}

struct framing {
    int host_count;
    const struct http_field *host;
    int cl_count;
    int cl_error; /* 0, -1 malformed, -2 differing */
    uint64_t cl;
    int te_count;    /* Transfer-Encoding fields */
    int te_chunked;  /* "chunked" members */
    int te_members;  /* all non-empty members */
    bool te_unknown; /* a member other than "chunked" */
    bool te_last_chunked;
    bool conn_close, conn_keep_alive, conn_upgrade;
    bool has_upgrade, expect_continue;
};

static void te_scan(const char *v, size_t n, struct framing *f)
{
    size_t i = 0;
    while (i <= n) {
        size_t s, e;
        while (i < n && is_ows((unsigned char)v[i]))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && is_ows((unsigned char)v[e - 1]))
            e--;
        if (e > s) { /* empty members are ignored (RFC 9110 §5.6.1) */
            f->te_members++;
            if (eq_ci(v + s, e - s, "chunked")) {
                f->te_chunked++;
                f->te_last_chunked = true;
            } else {
                f->te_unknown = true;
                f->te_last_chunked = false;
            }
        }
        i++; /* past the comma (or past the end) */
    }
}

static void framing_scan(const struct http_field *fields, size_t n, struct framing *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        const struct http_field *fl = &fields[i];
        if (eq_ci(fl->name, fl->name_len, "host")) {
            f->host_count++;
            f->host = fl;
        } else if (eq_ci(fl->name, fl->name_len, "content-length")) {
            uint64_t v = 0;
            int r = content_length_parse(fl->value, fl->value_len, &v);
            if (r < 0 && f->cl_error != -1)
                f->cl_error = r;
            else if (r == 0 && f->cl_count > 0 && v != f->cl && f->cl_error == 0)
                f->cl_error = -2;
            if (r == 0)
                f->cl = v;
            f->cl_count++;
        } else if (eq_ci(fl->name, fl->name_len, "transfer-encoding")) {
            f->te_count++;
            te_scan(fl->value, fl->value_len, f);
        } else if (eq_ci(fl->name, fl->name_len, "connection")) {
            f->conn_close |= http_list_has_token(fl->value, fl->value_len, "close");
            f->conn_keep_alive |= http_list_has_token(fl->value, fl->value_len, "keep-alive");
            f->conn_upgrade |= http_list_has_token(fl->value, fl->value_len, "upgrade");
        } else if (eq_ci(fl->name, fl->name_len, "upgrade")) {
            f->has_upgrade = true;
        } else if (eq_ci(fl->name, fl->name_len, "expect")) {
            f->expect_continue |= http_list_has_token(fl->value, fl->value_len, "100-continue");
        }
    }
}

/* Host = uri-host [ ":" port ] (RFC 9110 §7.2); an empty value is allowed.
 * Only the characters of reg-name, IP literals and port: no '/', '@', spaces,
 * so a Host value cannot smuggle a path or userinfo into X-Forwarded-Host. */
static bool host_valid(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (strchr("-._~!$&'()*+,;=:[]%", c) == NULL || c == 0)
            return false;
    }
    return true;
}

/* ---- request ----------------------------------------------------------- */

static ssize_t req_fail(struct http_request *req, int status, const char *reason)
{
    req->error_status = status;
    req->error_reason = reason;
    return -1;
}

/* request-target forms (RFC 9112 §3.2), checked once the line is whole. */
static const char *target_check(const struct http_request *req)
{
    const char *t = req->target;
    size_t n = req->target_len;
    if (n == 1 && t[0] == '*')
        return req->method_len == 7 && memcmp(req->method, "OPTIONS", 7) == 0
                   ? NULL
                   : "asterisk-form target on a method other than OPTIONS";
    if (req->method_len == 7 && memcmp(req->method, "CONNECT", 7) == 0) {
        /* authority-form: host ":" port, no path or userinfo */
        const char *colon = memrchr(t, ':', n);
        if (colon == NULL || colon + 1 == t + n || colon == t || !host_valid(t, n))
            return "CONNECT target is not host:port";
        for (const char *p = colon + 1; p < t + n; p++)
            if (*p < '0' || *p > '9')
                return "CONNECT target is not host:port";
        return NULL;
    }
    if (t[0] == '/')
        return NULL; /* origin-form */
    /* absolute-form: scheme ":" hier-part; scheme = ALPHA *( ALPHA / DIGIT / + - . ) */
    if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
        return "invalid request target";
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == ':')
            return i + 1 < n ? NULL : "invalid request target";
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return "invalid request target";
    }
    return "invalid request target";
}

/* Why byte i ends the request line early: the status is 400 whatever the
 * reason, so peeking at the next byte (when present) only sharpens the text. */
static const char *line_byte_reason(const char *buf, size_t len, size_t i, const char *dflt)
{
    if (buf[i] == '\0')
        return "NUL in request line";
    if (buf[i] == '\n')
        return "bare LF in request line";
    if (buf[i] == '\r' && (i + 1 == len || buf[i + 1] == '\n'))
        return "request line without HTTP version";
    if (buf[i] == '\r')
        return "bare CR in request line";
    return dflt;
}

/* Scans the request line byte by byte from buf[lead]. Returns the index just
 * past its LF, 0 when more bytes are needed, or -1 (req->error_* set). */
static ssize_t request_line_scan(const char *buf, size_t len, size_t lead,
                                 const struct http_limits *lim, struct http_request *req)
{
    enum { METHOD, TARGET, VERSION, CR_SEEN } st = METHOD;
    static const char proto[] = "HTTP/x.y";
    size_t tstart = 0, vstart = 0;
    for (size_t i = lead; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        size_t k = i - lead; /* offset in the line */
        /* The line may hold max_request_line bytes before its CRLF, and may not
         * fill the whole head budget on its own. */
        if (st != CR_SEEN &&
            ((k >= lim->max_request_line && c != '\r' && c != '\n') || i >= lim->max_head_bytes))
            return req_fail(req, 414, "request line too long");
        switch (st) {
        case METHOD:
            if (c == ' ' && k > 0) {
                req->method = buf + lead;
                req->method_len = k;
                tstart = i + 1;
                st = TARGET;
            } else if (!is_tchar(c)) {
                return req_fail(req, 400, line_byte_reason(buf, len, i, "invalid method"));
            }
            break;
        case TARGET:
            if (c == ' ' && i > tstart) {
                req->target = buf + tstart;
                req->target_len = i - tstart;
                vstart = i + 1;
                st = VERSION;
            } else if (c <= 0x20 || c >= 0x7f || c == '#') {
                return req_fail(req, 400, line_byte_reason(buf, len, i, "invalid request target"));
            }
            break;
        case VERSION: {
            size_t v = i - vstart;
            if (v < sizeof(proto) - 1) {
                bool ok =
                    (v == 5 || v == 7) ? (c >= '0' && c <= '9') : c == (unsigned char)proto[v];
                if (!ok)
                    return req_fail(req, 400, "invalid HTTP version");
            } else if (c == '\r') {
                st = CR_SEEN;
            } else if (c == '\n') {
                return req_fail(req, 400, "bare LF (request line not ended by CRLF)");
            } else {
                return req_fail(req, 400, "invalid HTTP version");
            }
            break;
        }
        case CR_SEEN: {
            const char *ver = buf + vstart;
            const char *why;
            if (c != '\n')
                return req_fail(req, 400, "bare CR in request line");
            if (ver[5] != '1' || ver[7] > '1')
                return req_fail(req, 505, "HTTP version not supported");
            req->minor_version = ver[7] - '0';
            why = target_check(req);
            if (why != NULL)
                return req_fail(req, 400, why);
            return (ssize_t)(i + 1);
        }
        }
    }
    return 0;
}

ssize_t http_parse_request(const char *buf, size_t len, const struct http_limits *limits,
                           struct http_request *req)
{
    struct http_limits lim;
    struct head_error err;
    struct framing f;
    size_t lead = 0, head_end;
    ssize_t line_end;

    limits_resolve(limits, &lim);
    req->error_status = 0;
    req->error_reason = NULL;
    req->num_fields = 0;

    /* RFC 9112 §2.2: ignore at least one empty line before the request line. */
    if (len >= 1 && buf[0] == '\r') {
        if (len == 1)
            return 0;
        if (buf[1] == '\n')
            lead = 2;
    }
    line_end = request_line_scan(buf, len, lead, &lim, req);
    if (line_end <= 0)
        return line_end;
    head_end = find_head_end(buf, (size_t)line_end - 1, len);
    if (head_end == 0 ? len > lim.max_head_bytes : head_end > lim.max_head_bytes)
        return req_fail(req, 431, "request header section too large");
    if (head_end == 0)
        return 0;

    if (parse_fields(buf, (size_t)line_end, head_end, lim.max_headers, 431, req->fields,
                     &req->num_fields, &err) < 0)
        return req_fail(req, err.status, err.reason);

    framing_scan(req->fields, req->num_fields, &f);
    if (req->minor_version == 1 && f.host_count == 0)
        return req_fail(req, 400, "missing Host on HTTP/1.1");
    if (f.host_count > 1)
        return req_fail(req, 400, "duplicate Host");
    if (f.host && !host_valid(f.host->value, f.host->value_len))
        return req_fail(req, 400, "invalid Host value");
    if (f.te_count > 0) {
        if (req->minor_version == 0)
            return req_fail(req, 400, "Transfer-Encoding on HTTP/1.0");
        if (f.cl_count > 0)
            return req_fail(req, 400, "both Content-Length and Transfer-Encoding");
        if (f.te_unknown)
            return req_fail(req, 501, "transfer coding other than chunked");
        if (f.te_chunked != 1)
            return req_fail(req, 400,
                            f.te_chunked ? "chunked applied more than once"
                                         : "empty Transfer-Encoding");
        req->body = HTTP_BODY_CHUNKED;
    } else if (f.cl_count > 0) {
        if (f.cl_error == -1)
            return req_fail(req, 400, "malformed Content-Length");
        if (f.cl_error == -2)
            return req_fail(req, 400, "differing Content-Length values");
        if (f.cl > CONTENT_LENGTH_MAX)
            return req_fail(req, 413, "Content-Length above 2^62");
        req->body = HTTP_BODY_LENGTH;
    } else {
        req->body = HTTP_BODY_NONE; /* RFC 9112 §6.3 item 7 */
    }
    req->content_length = req->body == HTTP_BODY_LENGTH ? f.cl : 0;
    req->keep_alive = !f.conn_close && (req->minor_version == 1 || f.conn_keep_alive);
    /* RFC 9110 §7.8 and §10.1.1: Upgrade and Expect are ignored on HTTP/1.0. */
    req->upgrade = req->minor_version == 1 && f.conn_upgrade && f.has_upgrade;
    req->expect_continue = req->minor_version == 1 && f.expect_continue;
    req->host = f.host ? f.host->value : NULL;
    req->host_len = f.host ? f.host->value_len : 0;
    return (ssize_t)head_end;
}

/* ---- response ---------------------------------------------------------- */

static ssize_t resp_fail(struct http_response *resp, const char *reason)
{
    resp->error_status = 502;
    resp->error_reason = reason;
    return -1;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF.
 * Returns the index past the LF, or -1. The line is known to contain an LF. */
static ssize_t status_line_parse(const char *buf, size_t head_end, struct http_response *resp)
{
    const char *lf = memchr(buf, '\n', head_end);
    const char *p, *end;
    if (lf == buf || lf[-1] != '\r')
        return resp_fail(resp, "bare LF in status line");
    end = lf - 1;
    if (end - buf < 12 || memcmp(buf, "HTTP/", 5) != 0 || buf[6] != '.' || buf[8] != ' ' ||
        buf[5] < '0' || buf[5] > '9' || buf[7] < '0' || buf[7] > '9')
        return resp_fail(resp, "malformed status line");
    if (buf[5] != '1' || buf[7] > '1')
        return resp_fail(resp, "unsupported HTTP version from upstream");
    resp->minor_version = buf[7] - '0';
    for (int i = 9; i < 12; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return resp_fail(resp, "malformed status code");
    resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (resp->status < 100 || resp->status > 599)
        return resp_fail(resp, "status code out of range");
    /* A missing reason phrase with its SP ("HTTP/1.1 200\r\n") is common and
     * harmless to framing, so it is accepted. */
    p = buf + 12;
    if (p < end && *p++ != ' ')
        return resp_fail(resp, "malformed status line");
    resp->reason = p;
    resp->reason_len = (size_t)(end - p);
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return resp_fail(resp, c == '\r' ? "bare CR in status line"
                                             : "control character in reason phrase");
    }
    return (ssize_t)(lf + 1 - buf);
}

ssize_t http_parse_response(const char *buf, size_t len, const struct http_limits *limits,
                            const char *request_method, size_t request_method_len,
                            struct http_response *resp)
{
    struct http_limits lim;
    struct head_error err;
    struct framing f;
    size_t head_end;
    ssize_t line_end;
    bool head_req, connect_req, no_body;

    limits_resolve(limits, &lim);
    resp->error_status = 0;
    resp->error_reason = NULL;
    resp->num_fields = 0;

    /* Reject a non-HTTP answer as soon as its first bytes show it. */
    if (len > 0 && memcmp(buf, "HTTP/", len < 5 ? len : 5) != 0)
        return resp_fail(resp, "upstream response is not HTTP/1.x");
    head_end = find_head_end(buf, 0, len);
    if (head_end == 0 ? len > lim.max_head_bytes : head_end > lim.max_head_bytes)
        return resp_fail(resp, "upstream response head too large");
    if (head_end == 0)
        return 0;
    line_end = status_line_parse(buf, head_end, resp);
    if (line_end < 0)
        return -1;
    if (parse_fields(buf, (size_t)line_end, head_end, lim.max_headers, 502, resp->fields,
                     &resp->num_fields, &err) < 0)
        return resp_fail(resp, err.reason);

    framing_scan(resp->fields, resp->num_fields, &f);
    head_req = request_method && request_method_len == 4 && memcmp(request_method, "HEAD", 4) == 0;
    connect_req =
        request_method && request_method_len == 7 && memcmp(request_method, "CONNECT", 7) == 0;
    /* RFC 9112 §6.3 items 1 and 2. */
    no_body = head_req || resp->status < 200 || resp->status == 204 || resp->status == 304 ||
              (connect_req && resp->status < 300);
    resp->upgrade =
        resp->status == 101 || (connect_req && resp->status >= 200 && resp->status < 300);
    resp->content_length = 0;
    if (f.cl_error == -1)
        return resp_fail(resp, "malformed Content-Length from upstream");
    if (f.cl_error == -2)
        return resp_fail(resp, "differing Content-Length values from upstream");
    if (f.cl_count > 0 && f.cl > CONTENT_LENGTH_MAX)
        return resp_fail(resp, "Content-Length from upstream above 2^62");
    if (no_body) {
        resp->body = HTTP_BODY_NONE;
    } else if (f.te_count > 0) {
        /* §6.1: TE in 1.0 means faulty framing; §6.3: CL with TE may be an
         * attempt at response splitting, so both are refused, not guessed. */
        if (resp->minor_version == 0)
            return resp_fail(resp, "Transfer-Encoding in an HTTP/1.0 response");
        if (f.cl_count > 0)
            return resp_fail(resp, "both Content-Length and Transfer-Encoding from upstream");
        if (f.te_unknown || f.te_chunked != 1)
            return resp_fail(resp, "upstream transfer coding other than one final chunked");
        resp->body = HTTP_BODY_CHUNKED;
    } else if (f.cl_count > 0) {
        resp->body = HTTP_BODY_LENGTH;
        resp->content_length = f.cl;
    } else {
        resp->body = HTTP_BODY_CLOSE; /* §6.3 item 8 */
    }
    resp->keep_alive = !f.conn_close && (resp->minor_version == 1 || f.conn_keep_alive) &&
                       resp->body != HTTP_BODY_CLOSE && !resp->upgrade;
    return (ssize_t)head_end;
}

/* ---- field helpers ----------------------------------------------------- */

const struct http_field *http_find_field(const struct http_field *fields, size_t n,
                                         const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (fields[i].name_len == nlen && strncasecmp(fields[i].name, name, nlen) == 0)
            return &fields[i];
    return NULL;
}

bool http_list_has_token(const char *value, size_t value_len, const char *token)
{
    size_t tlen = strlen(token), i = 0;
    while (i < value_len) {
        size_t s, e;
        while (i < value_len && (is_ows((unsigned char)value[i]) || value[i] == ','))
            i++;
        s = i;
        while (i < value_len && value[i] != ',')
            i++;
        e = i;
        while (e > s && is_ows((unsigned char)value[e - 1]))
            e--;
        if (e - s == tlen && strncasecmp(value + s, token, tlen) == 0)
            return true;
    }
    return false;
}
