/*
 * gen_keys: the keys `scaleprof gen --set` accepts for each target, with
 * their types, so a bad key or value is caught before a sweep starts.
 * refproxy's keys are those of proxy/CONFIG.md; its tasks.* keys come from
 * the task specs refproxy itself loads its config with
 * (proxy/tasks/task_specs.c, pure data with no refproxy runtime behind it),
 * so a new task's keys reach gen without an edit here. Keys starting
 * "service." apply to every generated service.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit_distance.h"
#include "gen.h"
#include "tasks/task_spec.h"

enum key_kind { K_STRING, K_BOOL, K_UINT, K_DURATION, K_ENUM, K_ADDR };

struct gen_key {
    const char *key;
    enum key_kind kind;
    const char *choices; /* K_ENUM: '|'-separated */
    long min, max;       /* K_UINT */
};

/* refproxy: the keys before tasks.*, then the tasks' (refproxy_keys), then these. */
static const struct gen_key refproxy_head[] = {
    {"prometheusAddr", K_ADDR, NULL, 0, 0},
    {"adminAllowRemote", K_BOOL, NULL, 0, 0},
    {"adminTokenFile", K_STRING, NULL, 0, 0},
    {"architecture", K_ENUM, "shared|per-service", 0, 0},
    {"workers", K_UINT, NULL, 1, 1024},
    {"heapProfile", K_BOOL, NULL, 0, 0},
    {"profileHz", K_UINT, NULL, 1, 250},
    {"limits.maxHeaderBytes", K_UINT, NULL, 256, 1L << 30},
    {"limits.maxRequestLine", K_UINT, NULL, 64, 1L << 30},
    {"limits.maxHeaders", K_UINT, NULL, 1, 100000},
    {"limits.headerTimeout", K_DURATION, NULL, 0, 0},
    {"limits.idleTimeout", K_DURATION, NULL, 0, 0},
    {"limits.bodyTimeout", K_DURATION, NULL, 0, 0},
    {"limits.upstreamConnectTimeout", K_DURATION, NULL, 0, 0},
    {"limits.upstreamTimeout", K_DURATION, NULL, 0, 0},
    {"limits.upstreamIdlePerService", K_UINT, NULL, 0, 1000000},
    {"limits.maxConnections", K_UINT, NULL, 1, 10000000},
    {"limits.shutdownGrace", K_DURATION, NULL, 0, 0},
    {"limits.maxProfileSeconds", K_UINT, NULL, 1, 86400},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key refproxy_tail[] = {
    {"upstream", K_STRING, NULL, 0, 0}, /* every service proxies here instead of responding */
    {"service.timeout", K_DURATION, NULL, 0, 0},
    {"service.readHeaderTimeout", K_DURATION, NULL, 0, 0},
    {"service.stripPrefix", K_BOOL, NULL, 0, 0},
    {"service.respond.status", K_UINT, NULL, 100, 599},
    {"service.respond.body", K_STRING, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key tsnsrv_keys[] = {
    {"prometheusAddr", K_ADDR, NULL, 0, 0},
    {"upstream", K_STRING, NULL, 0, 0},
    {"service.ephemeral", K_BOOL, NULL, 0, 0},
    {"service.funnel", K_BOOL, NULL, 0, 0},
    {"service.listenAddr", K_ADDR, NULL, 0, 0},
    {"service.stateDir", K_STRING, NULL, 0, 0}, /* a base: each service gets <base>/<name> */
    {"service.suppressWhois", K_BOOL, NULL, 0, 0},
    {"service.timeout", K_DURATION, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

/* One gen key per task key: tasks.<task>.mode (the advertised modes), then
 * the task's keys. Appends to keys at *n; names and choices are malloc'd.
 * -1 when out of memory. */
static int add_task_keys(struct gen_key *keys, size_t *n)
{
    for (size_t t = 0; t < TASK_COUNT; t++) {
        const struct task_spec *ts = task_specs[t];
        char words[128];
        char *name = NULL;
        task_spec_mode_words(ts, "|", words, sizeof words);
        struct gen_key *k = &keys[(*n)++];
        *k = (struct gen_key){NULL, K_ENUM, strdup(words), 0, 0};
        if (asprintf(&name, "tasks.%s.mode", ts->name) < 0 || !k->choices)
            return -1;
        k->key = name;
        for (size_t i = 0; i < ts->nkeys; i++) {
            const struct task_key *tk = &ts->keys[i];
            k = &keys[(*n)++];
            *k = (struct gen_key){NULL, K_DURATION, NULL, 0, 0};
            if (tk->kind == TASK_KEY_COUNT)
                *k = (struct gen_key){NULL, K_UINT, NULL, tk->min, tk->max};
            if (tk->kind == TASK_KEY_CHOICE) {
                task_key_choice_words(tk, "|", words, sizeof words);
                if (!(k->choices = strdup(words)))
                    return -1;
                k->kind = K_ENUM;
            }
            if (asprintf(&name, "tasks.%s.%s", ts->name, tk->name) < 0)
                return -1;
            k->key = name;
        }
    }
    return 0;
}

/* refproxy's whole table, built on first use and kept for the process's
 * life; NULL when out of memory. */
static const struct gen_key *refproxy_keys(void)
{
    static struct gen_key *keys;
    if (keys)
        return keys;
    size_t head = 0, tail = 0;
    while (refproxy_head[head].key)
        head++;
    while (refproxy_tail[tail].key)
        tail++;
    struct gen_key *k = calloc(head + task_spec_slots() + tail + 1, sizeof(*k));
    if (!k)
        return NULL;
    size_t n = head;
    memcpy(k, refproxy_head, head * sizeof(*k));
    if (add_task_keys(k, &n) < 0) {
        for (size_t i = head; i < n; i++) {
            free((char *)k[i].key);
            free((char *)k[i].choices);
        }
        free(k);
        return NULL;
    }
    memcpy(k + n, refproxy_tail, (tail + 1) * sizeof(*k)); /* with the terminator */
    return keys = k;
}

static const struct gen_key *keys_for(enum gen_target t)
{
    return t == GEN_TSNSRV ? tsnsrv_keys : refproxy_keys();
}

static const char *kind_name(enum key_kind k)
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
    }
    if (asprintf(&msg, "--set %s=%s: expected %s", k->key, value, kind_name(k->kind)) < 0)
        msg = NULL;
    return msg;
}

char *gen_check_setting(enum gen_target t, const char *key, const char *value, char **canon)
{
    char *msg = NULL;
    *canon = NULL;
    char alias[64];
    /* Short names the design uses ("portlist=off"): the task's mode. */
    if (t == GEN_REFPROXY && task_spec_find(key)) {
        snprintf(alias, sizeof alias, "tasks.%s.mode", key);
        key = alias;
    }
    const struct gen_key *keys = keys_for(t);
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
    buf_printf(&b, "--set %s: unknown %s config key", key, t == GEN_TSNSRV ? "tsnsrv" : "refproxy");
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

void gen_list_keys(enum gen_target t, struct buf *out)
{
    const struct gen_key *keys = keys_for(t);
    for (const struct gen_key *k = keys; k && k->key; k++) {
        buf_printf(out, "  %-32s %s", k->key, kind_name(k->kind));
        if (k->kind == K_ENUM)
            buf_printf(out, " %s", k->choices);
        if (k->kind == K_UINT)
            buf_printf(out, " %ld..%ld", k->min, k->max);
        buf_puts(out, "\n");
    }
    if (t == GEN_REFPROXY) {
        buf_puts(out, " ");
        for (size_t i = 0; i < TASK_COUNT; i++)
            buf_printf(out, "%s%s", i ? "|" : " ", task_specs[i]->name);
        buf_puts(out, "   short for tasks.<name>.mode\n");
    }
}
