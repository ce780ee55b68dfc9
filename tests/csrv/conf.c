/*
 * conf: reads csrv's config (format in conf.h and README.md). Every error
 * names the file and line at fault, so a template that writes a bad config
 * is found at once; csrv turns any error here into exit status 2.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The header keys: a table, so a new knob is one row. */
static const struct header_key {
    const char *name;
    size_t off;
    long min, max, dflt;
} header_keys[] = {
    {"key_bytes", offsetof(struct conf, key_bytes), 64, 1L << 20, 16384},
    {"rounds", offsetof(struct conf, rounds), 1, 1000, 24},
    {"digest_bytes", offsetof(struct conf, digest_bytes), 0, 64L << 20, 131072},
    {"interval_ms", offsetof(struct conf, interval_ms), 1, 10000, 100},
    {"linear_peers", offsetof(struct conf, linear_peers), 1, 10000, 10},
};
#define N_HEADER_KEYS (sizeof header_keys / sizeof header_keys[0])

struct parser {
    const char *path;
    int line;
    char *err;
    size_t errlen;
};

static int fail(struct parser *p, int line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A name or value token: printable, no spaces; names also no ']' or '#'. */
static bool token_ok(const char *s, bool is_name)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || (is_name && (c == ']' || c == '#' || c == '[')))
            return false;
    }
    return true;
}

static int parse_long(struct parser *p, const char *key, const char *v, long min, long max,
                      long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno)
        return fail(p, p->line, "%s: '%s' is not a whole number", key, v);
    if (x < min || x > max)
        return fail(p, p->line, "%s: %ld is out of range %ld..%ld", key, x, min, max);
    *out = x;
    return 0;
}

static int add_service(struct parser *p, struct conf *c, size_t *cap, const char *name)
{
    if (!*name)
        return fail(p, p->line, "[service NAME]: the name is missing");
    if (strlen(name) > CONF_NAME_MAX)
        return fail(p, p->line, "service name longer than %d bytes", CONF_NAME_MAX);
    if (!token_ok(name, true))
        return fail(p, p->line, "service name '%s' has a space, bracket, '#' or control byte",
                    name);
    if (c->n == CONF_SERVICES_MAX)
        return fail(p, p->line, "more than %d services", CONF_SERVICES_MAX);
    if (c->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct conf_service *s = realloc(c->svc, ncap * sizeof *s);
        if (!s)
            return fail(p, p->line, "out of memory");
        c->svc = s;
        *cap = ncap;
    }
    struct conf_service *s = &c->svc[c->n++];
    memset(s, 0, sizeof *s);
    strcpy(s->name, name);
    s->line = p->line;
    return 0;
}

/* [service NAME] */
static int parse_section(struct parser *p, struct conf *c, size_t *cap, char *s)
{
    size_t n = strlen(s);
    if (s[n - 1] != ']')
        return fail(p, p->line, "a section line must end with ']'");
    s[n - 1] = '\0';
    char *body = trim(s + 1);
    if (strncmp(body, "service", 7) != 0 || (body[7] && !isspace((unsigned char)body[7])))
        return fail(p, p->line, "unknown section '[%s]' (the only one is [service NAME])", body);
    return add_service(p, c, cap, trim(body + 7));
}

static int set_header_key(struct parser *p, struct conf *c, unsigned *seen, const char *key,
                          const char *val)
{
    for (size_t i = 0; i < N_HEADER_KEYS; i++) {
        const struct header_key *k = &header_keys[i];
        if (strcmp(key, k->name) != 0)
            continue;
        if (*seen & (1u << i))
            return fail(p, p->line, "duplicate key '%s'", key);
        *seen |= 1u << i;
        return parse_long(p, key, val, k->min, k->max, (long *)((char *)c + k->off));
    }
    if (!strcmp(key, "port") || !strcmp(key, "upstream"))
        return fail(p, p->line, "'%s' belongs in a [service NAME] section", key);
    return fail(p, p->line,
                "unknown key '%s' (header keys: key_bytes, rounds, digest_bytes, interval_ms, "
                "linear_peers)",
                key);
}

static int set_service_key(struct parser *p, struct conf_service *s, const char *key,
                           const char *val)
{
    if (!strcmp(key, "port")) {
        if (s->port_line)
            return fail(p, p->line, "duplicate key 'port' in service '%s'", s->name);
        long port;
        if (parse_long(p, key, val, 1, 65535, &port) < 0)
            return -1;
        s->port = (int)port;
        s->port_line = p->line;
        return 0;
    }
    if (!strcmp(key, "upstream")) {
        if (strlen(val) > CONF_UPSTREAM_MAX)
            return fail(p, p->line, "upstream longer than %d bytes", CONF_UPSTREAM_MAX);
        strcpy(s->upstream, val);
        return 0;
    }
    for (size_t i = 0; i < N_HEADER_KEYS; i++)
        if (!strcmp(key, header_keys[i].name))
            return fail(p, p->line, "'%s' is a header key: put it before the first [service NAME]",
                        key);
    return fail(p, p->line, "unknown key '%s' in a service (keys: port, upstream)", key);
}

/* key = value [# comment] */
static int parse_assignment(struct parser *p, struct conf *c, unsigned *seen, char *s)
{
    char *eq = strchr(s, '=');
    if (!eq)
        return fail(p, p->line, "expected 'key = value' or '[service NAME]'");
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    if (!*key)
        return fail(p, p->line, "the key before '=' is missing");
    /* the value is one token; only a comment may follow it */
    char *rest = val + strcspn(val, " \t");
    if (*rest) {
        *rest++ = '\0';
        rest = trim(rest);
        if (*rest && *rest != '#')
            return fail(p, p->line, "%s: unexpected '%s' after the value", key, rest);
    }
    if (*val == '#')
        *val = '\0';
    if (!token_ok(val, false))
        return fail(p, p->line, "%s: the value has a control byte", key);
    /* only upstream may be empty: a template may have no upstream to give */
    if (!*val && strcmp(key, "upstream") != 0)
        return fail(p, p->line, "%s: the value is missing", key);
    if (c->n == 0)
        return set_header_key(p, c, seen, key, val);
    return set_service_key(p, &c->svc[c->n - 1], key, val);
}

static int by_name_then_line(const void *a, const void *b)
{
    const struct conf_service *x = *(struct conf_service *const *)a,
                              *y = *(struct conf_service *const *)b;
    int r = strcmp(x->name, y->name);
    return r ? r : x->line - y->line;
}

/* After the last line: every service has a port, names and ports are unique.
 * Sorting keeps this O(N log N) at the 10,000-service limit. */
static int check_services(struct parser *p, struct conf *c)
{
    if (c->n == 0)
        return fail(p, p->line > 0 ? p->line : 1, "no [service NAME] section");
    for (size_t i = 0; i < c->n; i++)
        if (!c->svc[i].port_line)
            return fail(p, c->svc[i].line, "service '%s' has no port", c->svc[i].name);
    struct conf_service **order = malloc(c->n * sizeof *order);
    int *port_owner = calloc(65536, sizeof *port_owner);
    int rc = 0;
    if (!order || !port_owner) {
        rc = fail(p, p->line, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c->n; i++)
        order[i] = &c->svc[i];
    qsort(order, c->n, sizeof *order, by_name_then_line);
    for (size_t i = 1; i < c->n; i++)
        if (!strcmp(order[i]->name, order[i - 1]->name)) {
            rc = fail(p, order[i]->line, "duplicate service name '%s' (first on line %d)",
                      order[i]->name, order[i - 1]->line);
            goto out;
        }
    for (size_t i = 0; i < c->n; i++) {
        struct conf_service *s = &c->svc[i];
        if (port_owner[s->port]) {
            struct conf_service *first = &c->svc[port_owner[s->port] - 1];
            rc = fail(p, s->port_line, "port %d of service '%s' is already taken by '%s'", s->port,
                      s->name, first->name);
            goto out;
        }
        port_owner[s->port] = (int)i + 1;
    }
out:
    free(order);
    free(port_owner);
    return rc;
}

int conf_parse(FILE *f, const char *path, struct conf *out, char *err, size_t errlen)
{
    struct parser p = {.path = path, .err = err, .errlen = errlen};
    struct conf c = {0};
    size_t cap = 0;
    unsigned seen = 0;
    char buf[CONF_LINE_MAX + 1];
    int rc = 0;
    for (size_t i = 0; i < N_HEADER_KEYS; i++)
        *(long *)((char *)&c + header_keys[i].off) = header_keys[i].dflt;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        p.line++;
        size_t n = strlen(buf);
        if (n == sizeof buf - 1 && buf[n - 1] != '\n' && !feof(f)) {
            rc = fail(&p, p.line, "line longer than %d bytes", CONF_LINE_MAX - 1);
            break;
        }
        char *s = trim(buf);
        if (!*s || *s == '#')
            continue;
        rc = *s == '[' ? parse_section(&p, &c, &cap, s) : parse_assignment(&p, &c, &seen, s);
    }
    if (rc == 0 && ferror(f))
        rc = fail(&p, p.line, "read error: %s", strerror(errno));
    if (rc == 0)
        rc = check_services(&p, &c);
    if (rc < 0) {
        conf_free(&c);
        memset(out, 0, sizeof *out);
        return -1;
    }
    *out = c;
    return 0;
}

int conf_load(const char *path, struct conf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        memset(out, 0, sizeof *out);
        return -1;
    }
    int rc = conf_parse(f, path, out, err, errlen);
    fclose(f);
    return rc;
}

void conf_free(struct conf *c)
{
    free(c->svc);
    c->svc = NULL;
    c->n = 0;
}
