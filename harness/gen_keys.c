/*
 * gen_keys: checking `scaleprof gen --set key=value` against the target's
 * key table (each target's file holds its table), so a bad key or value is
 * caught before a sweep starts, with the closest keys named; and listing the
 * keys. Keys starting "service." apply to every generated service.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit_distance.h"
#include "gen.h"

static const char *kind_name(enum gen_key_kind k)
{
    switch (k) {
    case K_STRING:
        return "string";
    case K_BOOL:
        return "bool";
    case K_UINT:
        return "integer";
    case K_DURATION:
        return "duration (250ms, 1s, 1m30s, or seconds)";
    case K_ENUM:
        return "one of";
    case K_ADDR:
        return "host:port";
    case K_URL:
        return "URL http://HOST:PORT";
    }
    return "?";
}

size_t gen_edit_distance(const char *a, const char *b)
{
    return edit_distance_nocase(a, b);
}

static const char *last_part(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

static int valid_duration(const char *v)
{
    /* Go duration ("1m30s", "250ms", "1.5s") or a plain integer of seconds */
    const char *p = v;
    if (!*p)
        return 0;
    char *end;
    strtoul(p, &end, 10);
    if (*end == '\0' && end != p)
        return 1;
    while (*p) {
        char *num_end;
        strtod(p, &num_end);
        if (num_end == p)
            return 0;
        p = num_end;
        static const char *const units[] = {"ns", "us", "ms", "h", "m", "s", NULL};
        int matched = 0;
        for (int i = 0; units[i]; i++) {
            size_t n = strlen(units[i]);
            if (!strncmp(p, units[i], n)) {
                p += n;
                matched = 1;
                break;
            }
        }
        if (!matched)
            return 0;
    }
    return 1;
}

static char *check_value(const struct gen_key *k, const char *value)
{
    char *msg = NULL;
    switch (k->kind) {
    case K_STRING:
        return NULL;
    case K_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false"))
            return NULL;
        break;
    case K_UINT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!errno && end != value && !*end && v >= k->min && v <= k->max)
            return NULL;
        if (asprintf(&msg, "--set %s=%s: expected an integer in %ld..%ld", k->key, value, k->min,
                     k->max) < 0)
            msg = NULL;
        return msg;
    }
    case K_DURATION:
        if (valid_duration(value))
            return NULL;
        break;
    case K_ENUM: {
        size_t n = strlen(value);
        for (const char *c = k->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && !strncmp(c, value, n))
                return NULL;
            c = bar ? bar + 1 : c + len;
        }
        if (asprintf(&msg, "--set %s=%s: expected one of %s", k->key, value, k->choices) < 0)
            msg = NULL;
        return msg;
    }
    case K_ADDR: {
        const char *colon = strrchr(value, ':');
        if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1))
            return NULL;
        break;
    }
    case K_URL: {
        char host[256];
        int port;
        if (gen_parse_url(value, host, sizeof host, &port) == 0)
            return NULL;
        break;
    }
    }
    if (asprintf(&msg, "--set %s=%s: expected %s", k->key, value, kind_name(k->kind)) < 0)
        msg = NULL;
    return msg;
}

int gen_parse_url(const char *url, char *host, size_t size, int *port)
{
    if (strncmp(url, "http://", 7))
        return -1;
    const char *h = url + 7, *colon;
    if (*h == '[') { /* [v6]:port */
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return -1;
        colon = close + 1;
    } else {
        colon = strchr(h, ':');
        if (!colon || strcspn(h, "/?#@") < (size_t)(colon - h))
            return -1;
    }
    size_t hlen = (size_t)(colon - h);
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (hlen == 0 || hlen >= size || errno || end == colon + 1 || p < 1 || p > 65535 ||
        (*end && strcmp(end, "/")) || colon[1] == '+' || colon[1] == '-')
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

char *gen_check_setting(const struct gen_target *t, const char *key, const char *value,
                        char **canon)
{
    char *msg = NULL;
    *canon = NULL;
    char alias[128];
    if (t->alias && t->alias(key, alias, sizeof alias))
        key = alias;
    const struct gen_key *keys = t->keys();
    if (!keys)
        return strdup("--set: out of memory");
    for (const struct gen_key *k = keys; k->key; k++) {
        if (strcmp(k->key, key))
            continue;
        msg = check_value(k, value);
        if (!msg)
            *canon = strdup(k->key);
        return msg;
    }
    /* Unknown: list the closest keys by whole-key or last-part distance. */
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b, "--set %s: unknown %s config key", key, t->name);
    size_t shown = 0, limit = strlen(key) / 4 > 2 ? strlen(key) / 4 : 2;
    /* first by the whole key (typos), then by its last part (a key in the wrong place) */
    for (int pass = 0; pass < 2 && shown == 0; pass++) {
        for (const struct gen_key *k = keys; k->key && shown < 5; k++) {
            bool close;
            if (pass == 0)
                close = gen_edit_distance(key, k->key) <= limit;
            else
                close = gen_edit_distance(last_part(key), last_part(k->key)) <= 1 ||
                        (strlen(last_part(key)) >= 4 && strcasestr(k->key, last_part(key)));
            if (close) {
                buf_printf(&b, "%s%s", shown ? ", " : "; did you mean ", k->key);
                shown++;
            }
        }
    }
    buf_puts(&b, shown ? "?" : "");
    buf_puts(&b, " (scaleprof gen --list-keys shows them all)");
    return buf_detach(&b, NULL);
}

void gen_list_keys(const struct gen_target *t, struct buf *out)
{
    const struct gen_key *keys = t->keys();
    for (const struct gen_key *k = keys; k && k->key; k++) {
        buf_printf(out, "  %-32s %s", k->key, kind_name(k->kind));
        if (k->kind == K_ENUM)
            buf_printf(out, " %s", k->choices);
        if (k->kind == K_UINT)
            buf_printf(out, " %ld..%ld", k->min, k->max);
        buf_puts(out, "\n");
    }
    if (t->list_extra)
        t->list_extra(out);
}
