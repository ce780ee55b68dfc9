/*
 * config_value: turns one YAML node into one typed config value, or into an
 * error "file:line:column: field: expected X, got 'Y'" that names the node.
 * Addresses are resolved numerically only ("localhost" is the one name), so
 * loading a config never waits on DNS.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "buf.h"
#include "config_internal.h"

int cv_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

int cv_column(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.column + 1 : 1;
}

static char *format_at(struct cfg_ctx *c, int line, int column, const char *kind, const char *fmt,
                       va_list ap)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    /* Warnings are once per key name, so they do not name one service. */
    buf_printf(&b, "%s:%d:%d: %s%s", c->path, line, column, kind, *kind ? "" : c->where);
    buf_vprintf(&b, fmt, ap);
    size_t len;
    char *s = buf_detach(&b, &len);
    return s ? s : strdup("config: out of memory");
}

int cv_fail_at(struct cfg_ctx *c, int line, int column, const char *fmt, ...)
{
    if (c->err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    c->err = format_at(c, line, column, "", fmt, ap);
    va_end(ap);
    return -1;
}

int cv_fail(struct cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    if (c->err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    c->err = format_at(c, cv_line(n), cv_column(n), "", fmt, ap);
    va_end(ap);
    return -1;
}

static void warn_v(struct cfg_ctx *c, int line, int column, const char *fmt, va_list ap)
{
    char *s = format_at(c, line, column, "warning: ", fmt, ap);
    fprintf(c->warn ? c->warn : stderr, "%s\n", s);
    free(s);
}

void cv_warn_at(struct cfg_ctx *c, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_v(c, line, column, fmt, ap);
    va_end(ap);
}

void cv_warn(struct cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_v(c, cv_line(n), cv_column(n), fmt, ap);
    va_end(ap);
}

bool cv_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "nothing";
    }
}

const char *cv_scalar(struct cfg_ctx *c, const yaml_node_t *n, const char *field, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        cv_fail(c, n, "%s: expected %s, got %s", field, what, node_kind(n));
        return NULL;
    }
    const char *v = (const char *)n->data.scalar.value;
    /* "\0" in a double-quoted scalar would silently cut every C string. */
    if (strlen(v) != n->data.scalar.length) {
        cv_fail(c, n, "%s: contains a NUL character", field);
        return NULL;
    }
    return v;
}

int cv_string(struct cfg_ctx *c, const yaml_node_t *n, const char *field, char **out)
{
    const char *v = cv_scalar(c, n, field, "a string");
    if (!v)
        return -1;
    char *s = strdup(v);
    if (!s)
        return cv_fail(c, n, "%s: out of memory", field);
    free(*out);
    *out = s;
    return 0;
}

int cv_uint(struct cfg_ctx *c, const yaml_node_t *n, const char *field, uint32_t min, uint32_t max,
            uint32_t *out)
{
    const char *what = min >= 1 ? "a positive integer" : "a non-negative integer";
    const char *v = cv_scalar(c, n, field, what);
    if (!v)
        return -1;
    const char *p = v;
    if (*p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return cv_fail(c, n, "%s: expected %s, got '%s'", field, what, v);
    errno = 0;
    char *end;
    unsigned long long x = strtoull(p, &end, 10);
    if (*end)
        return cv_fail(c, n, "%s: expected %s, got '%s'", field, what, v);
    if (errno == ERANGE || x < min || x > max)
        return cv_fail(c, n, "%s: must be between %u and %u, got '%s'", field, min, max, v);
    *out = (uint32_t)x;
    return 0;
}

int cv_bool(struct cfg_ctx *c, const yaml_node_t *n, const char *field, bool *out)
{
    const char *v = cv_scalar(c, n, field, "true or false");
    if (!v)
        return -1;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return cv_fail(c, n, "%s: expected true or false, got '%s'", field, v);
}

/* --- durations ------------------------------------------------------------ */

int cv_parse_duration_ns(const char *s, uint64_t *ns)
{
    const uint64_t limit = UINT64_MAX / 2; /* ~292 years */
    const char *p = s;
    if (*p == '+')
        p++;
    if (!*p)
        return -1;
    /* A plain integer means seconds (refproxy's extension to Go's syntax). */
    size_t digits = strspn(p, "0123456789");
    if (digits && !p[digits]) {
        if (digits > 12)
            return -1;
        *ns = strtoull(p, NULL, 10) * 1000000000ull;
        return 0;
    }
    if (!strcmp(p, "0")) {
        *ns = 0;
        return 0;
    }
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},       {"us", 1000},         {"\xc2\xb5s", 1000},   {"\xce\xbcs", 1000},
        {"ms", 1000000}, {"s", 1000000000ull}, {"m", 60000000000ull}, {"h", 3600000000000ull},
    };
    uint64_t total = 0;
    while (*p) {
        uint64_t whole = 0, frac = 0, scale = 1;
        size_t nw = 0, nf = 0;
        for (; isdigit((unsigned char)*p); p++, nw++) {
            if (whole > limit / 10)
                return -1;
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            p++;
            for (; isdigit((unsigned char)*p); p++, nf++) {
                if (scale > limit / 10)
                    continue; /* digits beyond 1e-18 change nothing */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
        if (!nw && !nf)
            return -1;
        size_t ulen = 0;
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].name);
            /* longest match: "ms" before "m" */
            if (!strncmp(p, units[i].name, l) && l > ulen) {
                ulen = l;
                unit = units[i].ns;
            }
        }
        if (!unit)
            return -1;
        p += ulen;
        if (whole > limit / unit)
            return -1;
        uint64_t v = whole * unit;
        /* frac/scale * unit without overflow: both below 1e19 / 10 */
        v += (uint64_t)((long double)frac * (long double)unit / (long double)scale);
        if (v > limit - total)
            return -1;
        total += v;
    }
    *ns = total;
    return 0;
}

int cv_duration(struct cfg_ctx *c, const yaml_node_t *n, const char *field, uint32_t min_ms,
                uint32_t *out_ms)
{
    const char *what = "a duration like 250ms, 1s or 1m30s";
    const char *v = cv_scalar(c, n, field, what);
    if (!v)
        return -1;
    uint64_t ns;
    if (cv_parse_duration_ns(v, &ns) < 0)
        return cv_fail(c, n, "%s: expected %s, got '%s'", field, what, v);
    /* Round up so a non-zero duration never becomes 0 ("no timeout"). */
    uint64_t ms = (ns + 999999) / 1000000;
    if (ms > UINT32_MAX)
        return cv_fail(c, n, "%s: duration '%s' is too long (at most 49 days)", field, v);
    if (ms < min_ms)
        return cv_fail(c, n, "%s: duration '%s' is too short (at least %u ms)", field, v, min_ms);
    *out_ms = (uint32_t)ms;
    return 0;
}

/* --- names and headers ---------------------------------------------------- */

bool cv_service_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

bool cv_header_name_ok(const char *s)
{
    /* RFC 9110 token */
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!isalnum(*p) && !strchr("!#$%&'*+-.^_`|~", *p))
            return false;
    return true;
}

bool cv_header_value_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r' || ch == '\n' || ch == '\0' || (ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

int cv_headers(struct cfg_ctx *c, const yaml_node_t *n, const char *field, struct kv **out,
               size_t *count)
{
    if (n->type != YAML_MAPPING_NODE)
        return cv_fail(c, n, "%s: expected a mapping of header names to values, got %s", field,
                       n->type == YAML_SCALAR_NODE ? "a scalar" : node_kind(n));
    yaml_node_pair_t *start = n->data.mapping.pairs.start, *top = n->data.mapping.pairs.top;
    size_t num = (size_t)(top - start);
    if (num > CONFIG_MAX_HEADERS)
        return cv_fail(c, n, "%s: more than %u headers", field, CONFIG_MAX_HEADERS);
    struct kv *kv = calloc(num ? num : 1, sizeof *kv);
    if (!kv)
        return cv_fail(c, n, "%s: out of memory", field);
    size_t got = 0;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *name = cv_scalar(c, k, field, "a header name");
        if (!name)
            goto fail;
        if (!cv_header_name_ok(name)) {
            cv_fail(c, k, "%s: '%s' is not a valid header name", field, name);
            goto fail;
        }
        /* Framing and connection headers belong to refproxy: a configured one
         * would contradict the framing it sends. */
        if (!strcasecmp(name, "Content-Length") || !strcasecmp(name, "Transfer-Encoding") ||
            !strcasecmp(name, "Connection")) {
            cv_fail(c, k, "%s: header '%s' is set by refproxy and cannot be configured", field,
                    name);
            goto fail;
        }
        for (size_t i = 0; i < got; i++) {
            if (!strcasecmp(kv[i].name, name)) {
                cv_fail(c, k, "%s: duplicate header '%s'", field, name);
                goto fail;
            }
        }
        char vfield[160];
        snprintf(vfield, sizeof vfield, "%s: %s", field, name);
        const char *value = cv_is_null(v) ? "" : cv_scalar(c, v, vfield, "a header value");
        if (!value)
            goto fail;
        if (!cv_header_value_ok(value, strlen(value))) {
            cv_fail(c, v, "%s: value of header '%s' contains a control character (CR, LF, ...)",
                    field, name);
            goto fail;
        }
        kv[got].name = strdup(name);
        kv[got].value = strdup(value);
        got++;
        if (!kv[got - 1].name || !kv[got - 1].value) {
            cv_fail(c, v, "%s: out of memory", field);
            goto fail;
        }
    }
    for (size_t i = 0; i < *count; i++) {
        free((*out)[i].name);
        free((*out)[i].value);
    }
    free(*out);
    *out = kv;
    *count = got;
    return 0;
fail:
    for (size_t i = 0; i < got; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
    return -1;
}

/* --- addresses ------------------------------------------------------------ */

int cv_split_hostport(const char *s, char *host_out, size_t host_cap, uint16_t *port,
                      const char **why)
{
    const char *colon;
    const char *host = s;
    size_t host_len;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close) {
            *why = "missing ']' after an IPv6 address";
            return -1;
        }
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
        if (*colon != ':') {
            *why = "expected ':port' after ']'";
            return -1;
        }
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            *why = "expected host:port";
            return -1;
        }
        host_len = (size_t)(colon - s);
        if (memchr(s, ':', host_len)) {
            *why = "an IPv6 address must be written in brackets, [::1]:port";
            return -1;
        }
    }
    if (host_len >= host_cap) {
        *why = "host is too long";
        return -1;
    }
    memcpy(host_out, host, host_len);
    host_out[host_len] = '\0';
    const char *p = colon + 1;
    size_t digits = strspn(p, "0123456789");
    if (!digits || p[digits] || digits > 5) {
        *why = "port must be a number between 1 and 65535";
        return -1;
    }
    unsigned long v = strtoul(p, NULL, 10);
    if (v < 1 || v > 65535) {
        *why = "port must be a number between 1 and 65535";
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

int cv_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (!strcasecmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

uint32_t cv_loopback_for_index(size_t k)
{
    /* 254 usable last octets per /24, starting at 127.0.1.0/24; room for
     * 65535 * 254 services before the middle octets would wrap. */
    uint32_t net = 1 + (uint32_t)(k / 254); /* the middle two octets */
    uint32_t last = 1 + (uint32_t)(k % 254);
    return (127u << 24) | (net << 8) | last;
}

void cv_format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, ntohs(in4->sin_port));
    }
}

int cv_listen(struct cfg_ctx *c, const yaml_node_t *n, struct service_config *s,
              struct svc_extra *x)
{
    const char *v = cv_scalar(c, n, "listenAddr", "host:port");
    if (!v)
        return -1;
    char host[256];
    const char *why;
    if (cv_split_hostport(v, host, sizeof host, &x->listen_port, &why) < 0)
        return cv_fail(c, n, "listenAddr: %s, got '%s'", why, v);
    x->listen_given = true;
    x->listen_line = cv_line(n);
    x->listen_column = cv_column(n);
    x->listen_hostless = !*host;
    if (!*host)
        return cv_string(c, n, "listenAddr", &s->listen_text); /* address assigned later */
    if (cv_resolve(host, x->listen_port, &s->listen, &s->listen_len) < 0)
        return cv_fail(c, n, "listenAddr: host '%s' is not a numeric IP address or localhost",
                       host);
    return cv_string(c, n, "listenAddr", &s->listen_text);
}

bool cv_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

int cv_admin(struct cfg_ctx *c, const yaml_node_t *n)
{
    const char *v = cv_scalar(c, n, "prometheusAddr", "host:port");
    if (!v)
        return -1;
    char host[256];
    uint16_t port;
    const char *why;
    if (cv_split_hostport(v, host, sizeof host, &port, &why) < 0)
        return cv_fail(c, n, "prometheusAddr: %s, got '%s'", why, v);
    struct config *cfg = c->cfg;
    c->admin_line = cv_line(n);
    c->admin_column = cv_column(n);
    if (!*host) {
        /* tsnsrv's ":9099" means every interface; refproxy keeps the admin
         * listener (profiles, cmdline) on loopback unless told otherwise. */
        strcpy(host, "127.0.0.1");
        cv_warn(c, n, "prometheusAddr '%s' has no host; the admin listener uses 127.0.0.1:%u", v,
                port);
    }
    if (cv_resolve(host, port, &cfg->admin, &cfg->admin_len) < 0)
        return cv_fail(c, n, "prometheusAddr: host '%s' is not a numeric IP address or localhost",
                       host);
    char text[INET6_ADDRSTRLEN + 16];
    cv_format_addr(&cfg->admin, text, sizeof text);
    if (cfg->admin_text != config_default_admin_text)
        free(cfg->admin_text);
    cfg->admin_text = strdup(text);
    return cfg->admin_text ? 0 : cv_fail(c, n, "out of memory");
}

int cv_upstream_url(struct cfg_ctx *c, const yaml_node_t *n, struct service_config *s, bool resolve)
{
    const char *v = cv_scalar(c, n, "upstream", "an http:// URL");
    if (!v)
        return -1;
    if (!strncasecmp(v, "https://", 8))
        return cv_fail(c, n, "upstream: only http:// upstreams are supported, got '%s'", v);
    if (strncasecmp(v, "http://", 7))
        return cv_fail(c, n, "upstream: expected an http://host:port[/path] URL, got '%s'", v);
    const char *auth = v + 7;
    size_t alen = strcspn(auth, "/?#");
    if (strpbrk(auth, "?#"))
        return cv_fail(c, n, "upstream: a query or fragment is not allowed, got '%s'", v);
    if (memchr(auth, '@', alen))
        return cv_fail(c, n, "upstream: user information is not allowed, got '%s'", v);
    if (!alen)
        return cv_fail(c, n, "upstream: missing host in '%s'", v);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return cv_fail(c, n, "upstream: URL contains a space or control character");
    char authority[300];
    if (alen >= sizeof authority)
        return cv_fail(c, n, "upstream: host is too long in '%s'", v);
    memcpy(authority, auth, alen);
    authority[alen] = '\0';

    char hostport[310], host[300];
    uint16_t port = 80;
    /* the port is optional in a URL; add the default before splitting */
    bool has_port =
        authority[0] == '[' ? strstr(authority, "]:") != NULL : strchr(authority, ':') != NULL;
    snprintf(hostport, sizeof hostport, has_port ? "%s" : "%s:80", authority);
    const char *why;
    if (cv_split_hostport(hostport, host, sizeof host, &port, &why) < 0)
        return cv_fail(c, n, "upstream: %s, got '%s'", why, v);
    if (!*host)
        return cv_fail(c, n, "upstream: missing host in '%s'", v);
    if (resolve && cv_resolve(host, port, &s->upstream, &s->upstream_len) < 0)
        return cv_fail(c, n,
                       "upstream: host '%s' is not a numeric IP address or localhost "
                       "(refproxy does no DNS lookups)",
                       host);

    /* "/" and "" are the same base; a trailing slash adds nothing to a join. */
    const char *path = auth + alen;
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    char *base = strndup(path, plen);
    char *hostdup = strdup(authority);
    if (!base || !hostdup) {
        free(base);
        free(hostdup);
        return cv_fail(c, n, "out of memory");
    }
    free(s->upstream_base_path);
    free(s->upstream_host);
    s->upstream_base_path = base;
    s->upstream_host = hostdup;
    if (resolve)
        return cv_string(c, n, "upstream", &s->upstream_text);
    return 0;
}

int cv_unix_path(struct cfg_ctx *c, const yaml_node_t *n, struct service_config *s)
{
    const char *v = cv_scalar(c, n, "upstreamUnixAddr", "a socket path");
    if (!v)
        return -1;
    struct sockaddr_un *un = (struct sockaddr_un *)&s->upstream;
    size_t len = strlen(v);
    if (!len)
        return cv_fail(c, n, "upstreamUnixAddr: empty socket path");
    if (len >= sizeof un->sun_path)
        return cv_fail(c, n, "upstreamUnixAddr: socket path is longer than %zu bytes",
                       sizeof un->sun_path - 1);
    memset(&s->upstream, 0, sizeof s->upstream);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, v, len);
    s->upstream_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return cv_string(c, n, "upstreamUnixAddr", &s->upstream_text);
}
