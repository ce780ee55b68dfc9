/*
 * respond: responses refproxy writes itself — `respond` services (fixed
 * status, headers and body, so refproxy can be the origin in load tests) and
 * error responses (400/404/408/431/502/504 ...) with a short text body.
 */
#include <string.h>
#include <strings.h>

#include "server_internal.h"

const char *respond_reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Status";
    }
}

/* Statuses that never carry a body (RFC 9110 §6.4.1). */
static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

int respond_service(struct buf *out, const struct service_config *sc, bool head_only, bool close,
                    bool client_10, int *status, const char **body_src, size_t *body_len)
{
    if (body_len)
        *body_len = 0;
    int st = sc->respond_status ? sc->respond_status : 200;
    *status = st;
    int rc = buf_printf(out, "HTTP/1.1 %d %s\r\n", st, respond_reason_phrase(st));
    bool has_ct = false;
    for (size_t i = 0; i < sc->num_respond_headers; i++) {
        const struct kv *h = &sc->respond_headers[i];
        /* framing and connection fields are ours to set */
        if (!strcasecmp(h->name, "Content-Length") || !strcasecmp(h->name, "Connection") ||
            !strcasecmp(h->name, "Transfer-Encoding"))
            continue;
        has_ct = has_ct || !strcasecmp(h->name, "Content-Type");
        rc |= buf_printf(out, "%s: %s\r\n", h->name, h->value);
    }
    bool body = status_has_body(st);
    if (body) {
        if (!has_ct)
            rc |= buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\n");
        rc |= buf_printf(out, "Content-Length: %zu\r\n", sc->respond_body_len);
    }
    if (close)
        rc |= buf_puts(out, "Connection: close\r\n");
    else if (client_10)
        rc |= buf_puts(out, "Connection: keep-alive\r\n");
    rc |= buf_puts(out, "\r\n");
    if (body && !head_only && sc->respond_body_len) {
        if (body_src && body_len && sc->respond_body_len > RESPOND_COPY_MAX) {
            *body_src = sc->respond_body;
            *body_len = sc->respond_body_len;
        } else {
            rc |= buf_append(out, sc->respond_body, sc->respond_body_len);
        }
    }
    return rc ? -1 : 0;
}

int respond_error(struct buf *out, int status, const char *reason, bool close)
{
    const char *phrase = respond_reason_phrase(status);
    const char *why = reason && *reason ? reason : phrase;
    size_t body_len = strlen(phrase) + 2 + strlen(why) + 1;
    return buf_printf(out,
                      "HTTP/1.1 %d %s\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %zu\r\n"
                      "%s"
                      "\r\n"
                      "%s: %s\n",
                      status, phrase, body_len, close ? "Connection: close\r\n" : "", phrase, why);
}
