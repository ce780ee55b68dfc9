/*
 * rewrite: routes a request to its service path and writes the heads refproxy
 * forwards — the request head sent upstream and the response head sent back —
 * with hop-by-hop fields stripped (RFC 9110 §7.6.1) and X-Forwarded-* added.
 */
#include <string.h>
#include <strings.h>

#include "server_internal.h"

/* Fields that describe one connection, never forwarded. */
static const char *const hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade", "Trailer",
};

static bool name_is(const struct http_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && !strncasecmp(f->name, name, n);
}

/* True when f is hop-by-hop, statically or because a Connection field names it. */
static bool is_hop_by_hop(const struct http_field *f, const struct http_field *fields, size_t n)
{
    for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
        if (name_is(f, hop_by_hop[i]))
            return true;
    char name[64];
    if (f->name_len >= sizeof(name))
        return false;
    memcpy(name, f->name, f->name_len);
    name[f->name_len] = '\0';
    for (size_t i = 0; i < n; i++)
        if (name_is(&fields[i], "Connection") &&
            http_list_has_token(fields[i].value, fields[i].value_len, name))
            return true;
    return false;
}

/* Offset of the path in an origin-form or absolute-form target. */
static size_t path_offset(const char *t, size_t len)
{
    if (len && t[0] == '/')
        return 0;
    const char *p = memmem(t, len, "://", 3);
    if (!p)
        return 0;
    const char *slash = memchr(p + 3, '/', len - (size_t)(p + 3 - t));
    return slash ? (size_t)(slash - t) : len;
}

bool rewrite_route(const struct service_config *sc, const char *target, size_t target_len,
                   size_t *strip_len)
{
    size_t off = path_offset(target, target_len);
    *strip_len = off;
    if (!sc->num_prefixes)
        return true;
    for (size_t i = 0; i < sc->num_prefixes; i++) {
        size_t pl = strlen(sc->prefixes[i]);
        if (target_len - off >= pl && !memcmp(target + off, sc->prefixes[i], pl)) {
            if (sc->strip_prefix)
                *strip_len = off + pl;
            return true;
        }
    }
    return false;
}

static int put_field(struct buf *out, const struct http_field *f)
{
    int rc = buf_append(out, f->name, f->name_len);
    rc |= buf_append(out, ": ", 2);
    rc |= buf_append(out, f->value, f->value_len);
    rc |= buf_append(out, "\r\n", 2);
    return rc;
}

/* put_field for a name and value that are C strings (ours, not the request's) */
static int put_header(struct buf *out, const char *name, const char *value)
{
    int rc = buf_puts(out, name);
    rc |= buf_append(out, ": ", 2);
    rc |= buf_puts(out, value);
    rc |= buf_append(out, "\r\n", 2);
    return rc;
}

static bool is_upstream_header(const struct service_config *sc, const struct http_field *f)
{
    for (size_t i = 0; i < sc->num_upstream_headers; i++)
        if (name_is(f, sc->upstream_headers[i].name))
            return true;
    return false;
}

int rewrite_request(struct buf *out, const struct service_config *sc,
                    const struct http_request *req, size_t strip_len, const char *client_ip)
{
    const char *rest = req->target + strip_len;
    size_t rest_len = req->target_len - strip_len;
    const char *base = sc->upstream_base_path ? sc->upstream_base_path : "";
    size_t base_len = strlen(base);
    /* Join base and rest with exactly one slash (as Go's ReverseProxy does). */
    if (base_len && base[base_len - 1] == '/')
        base_len--;
    int rc = buf_append(out, req->method, req->method_len);
    rc |= buf_append(out, " ", 1);
    rc |= buf_append(out, base, base_len);
    if (!rest_len || rest[0] != '/')
        rc |= buf_append(out, "/", 1);
    rc |= buf_append(out, rest, rest_len);
    rc |= buf_puts(out, " HTTP/1.1\r\nHost: ");
    if (sc->upstream_host && *sc->upstream_host)
        rc |= buf_puts(out, sc->upstream_host);
    else if (req->host)
        rc |= buf_append(out, req->host, req->host_len);
    else
        rc |= buf_puts(out, "localhost");
    rc |= buf_puts(out, "\r\n");

    const struct http_field *upgrade = NULL;
    bool xff = false;
    for (size_t i = 0; i < req->num_fields; i++) {
        const struct http_field *f = &req->fields[i];
        if (name_is(f, "Upgrade"))
            upgrade = f;
        if (is_hop_by_hop(f, req->fields, req->num_fields) || name_is(f, "Host") ||
            name_is(f, "X-Forwarded-Proto") || name_is(f, "X-Forwarded-Host") ||
            is_upstream_header(sc, f))
            continue;
        if (name_is(f, "X-Forwarded-For")) {
            /* Merge every X-Forwarded-For into one list and append the client. */
            rc |= buf_puts(out, xff ? "" : "X-Forwarded-For: ");
            if (xff)
                continue;
            xff = true;
            bool first = true;
            for (size_t j = i; j < req->num_fields; j++) {
                if (!name_is(&req->fields[j], "X-Forwarded-For"))
                    continue;
                rc |= buf_append(out, ", ", first ? 0 : 2);
                rc |= buf_append(out, req->fields[j].value, req->fields[j].value_len);
                first = false;
            }
            rc |= buf_puts(out, ", ");
            rc |= buf_puts(out, client_ip);
            rc |= buf_puts(out, "\r\n");
            continue;
        }
        rc |= put_field(out, f);
    }
    if (!xff)
        rc |= put_header(out, "X-Forwarded-For", client_ip);
    rc |= buf_puts(out, "X-Forwarded-Proto: http\r\n");
    if (req->host) {
        rc |= buf_puts(out, "X-Forwarded-Host: ");
        rc |= buf_append(out, req->host, req->host_len);
        rc |= buf_puts(out, "\r\n");
    }
    for (size_t i = 0; i < sc->num_upstream_headers; i++)
        rc |= put_header(out, sc->upstream_headers[i].name, sc->upstream_headers[i].value);
    if (req->body == HTTP_BODY_CHUNKED)
        rc |= buf_puts(out, "Transfer-Encoding: chunked\r\n");
    if (req->upgrade && upgrade) {
        rc |= buf_puts(out, "Connection: Upgrade\r\nUpgrade: ");
        rc |= buf_append(out, upgrade->value, upgrade->value_len);
        rc |= buf_puts(out, "\r\n");
    }
    rc |= buf_puts(out, "\r\n");
    return rc ? -1 : 0;
}

int rewrite_response(struct buf *out, const struct http_response *resp, bool close, bool client_10)
{
    /* No printf on the per-response path (2.4% of a CPU profile under wrk).
     * The parser admits statuses 100..599 only, so three digits always fit. */
    char line[] = "HTTP/1.1 000 ";
    line[9] = (char)('0' + resp->status / 100 % 10);
    line[10] = (char)('0' + resp->status / 10 % 10);
    line[11] = (char)('0' + resp->status % 10);
    int rc = buf_append(out, line, sizeof(line) - 1);
    if (resp->reason_len)
        rc |= buf_append(out, resp->reason, resp->reason_len);
    else
        rc |= buf_puts(out, respond_reason_phrase(resp->status));
    rc |= buf_puts(out, "\r\n");
    bool upgrade = resp->status == 101;
    for (size_t i = 0; i < resp->num_fields; i++) {
        const struct http_field *f = &resp->fields[i];
        if (upgrade && name_is(f, "Upgrade")) {
            rc |= put_field(out, f);
            continue;
        }
        if (is_hop_by_hop(f, resp->fields, resp->num_fields))
            continue;
        rc |= put_field(out, f);
    }
    if (upgrade)
        rc |= buf_puts(out, "Connection: Upgrade\r\n");
    else if (resp->status >= 200 && resp->body == HTTP_BODY_CHUNKED && !client_10)
        rc |= buf_puts(out, "Transfer-Encoding: chunked\r\n");
    if (!upgrade && resp->status >= 200) {
        if (close)
            rc |= buf_puts(out, "Connection: close\r\n");
        else if (client_10)
            rc |= buf_puts(out, "Connection: keep-alive\r\n");
    }
    rc |= buf_puts(out, "\r\n");
    return rc ? -1 : 0;
}
