/*
 * config_yaml: walks the libyaml document tree of a refproxy config into
 * struct config. Each mapping has a table of known keys; a key outside it is
 * either one of tsnsrv's Tailscale-only options (warned about once per key
 * name and ignored, so a tsnsrv config loads) or an error with a "did you
 * mean" hint. A YAML null ("key:" with no value, "~", "null") means "not set".
 * Cross-service checks (duplicates, loopback assignment, task defaults) are
 * config.c's, after the walk.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "edit_distance.h"
#include "tasks/task_spec.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* tsnsrv options with no meaning in refproxy. The index is the bit in
 * ctx->warned, so each key name is warned about once per file. */
static const char *const tsnsrv_keys[] = {
    "ephemeral",
    "funnel",
    "funnelOnly",
    "stateDir",
    "authkeyPath",
    "tags",
    "suppressWhois",
    "plaintext",
    "insecureHTTPS",
    "whoisTimeout",
    "suppressTailnetDialer",
    "tsnetVerbose",
    "certificateFile",
    "keyFile",
    "upstreamAllowInsecureHTTPS",
    "accessLog",
    /* forward-auth options of tsnsrv's multi-service fork */
    "authURL",
    "authPath",
    "authCopyHeaders",
    "authTimeout",
    "authBypassForTailnet",
};
enum { WARN_FORWARD_AUTH_FIRST = 16, WARN_SERVICE_PROMETHEUS = 40, WARN_FUNNEL_PREFIX = 41 };

static const char *const top_keys[] = {
    "prometheusAddr",
    "adminAllowRemote",
    "adminTokenFile",
    "architecture",
    "workers",
    "heapProfile",
    "profileHz",
    "limits",
    "tasks",
    "services",
    NULL,
};
static const char *const limits_keys[] = {
    "maxHeaderBytes",
    "maxRequestLine",
    "maxHeaders",
    "headerTimeout",
    "idleTimeout",
    "bodyTimeout",
    "upstreamConnectTimeout",
    "upstreamTimeout",
    "upstreamIdlePerService",
    "maxConnections",
    "shutdownGrace",
    "maxProfileSeconds",
    NULL,
};
static const char *const service_keys[] = {
    "name",        "listenAddr",      "upstream", "upstreamUnixAddr",  "respond", "prefixes",
    "stripPrefix", "upstreamHeaders", "timeout",  "readHeaderTimeout", "tasks",   NULL,
};
static const char *const respond_keys[] = {"status", "body", "headers", NULL};

/* --- tasks ---------------------------------------------------------------- */

/* Every task key has a slot (tasks/task_spec.h); the file's explicit keys are
 * the set bits of a mask, copied over the defaults once the architecture is
 * known. */
void config_tasks_overlay(struct tasks_config *dst, const struct tasks_config *src, uint64_t mask)
{
    for (size_t t = 0; t < TASK_COUNT; t++) {
        const struct task_spec *s = task_specs[t];
        char *d = (char *)dst + s->config_off;
        const char *from = (const char *)src + s->config_off;
        if (mask & (1ull << task_spec_slot(t, -1)))
            memcpy(d, from, sizeof(enum task_mode));
        for (size_t k = 0; k < s->nkeys; k++)
            if (mask & (1ull << task_spec_slot(t, (int)k)))
                task_key_put(&s->keys[k], d, task_key_get(&s->keys[k], from));
    }
}

/* --- mapping walk ---------------------------------------------------------- */

typedef int (*field_fn)(struct cfg_ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v,
                        void *arg);

static size_t edit_distance(const char *a, const char *b)
{
    /* no known key is longer than 40 bytes: anything longer suggests nothing */
    if (strlen(a) > 40 || strlen(b) > 40)
        return 99;
    return edit_distance_nocase(a, b);
}

/* Where tsnsrv's own keys may appear: only the top level and services. */
enum tsnsrv_scope { TSNSRV_NONE, TSNSRV_TOP, TSNSRV_SERVICE };

static int unknown_field(struct cfg_ctx *c, const yaml_node_t *k, const char *key,
                         const char *const *known, const char *what, enum tsnsrv_scope scope)
{
    for (size_t i = 0; i < COUNT(tsnsrv_keys) && scope != TSNSRV_NONE; i++) {
        if (strcmp(key, tsnsrv_keys[i]))
            continue;
        if (!(c->warned & (1ull << i))) {
            c->warned |= 1ull << i;
            cv_warn(c, k, "field '%s' is a tsnsrv %s option and is ignored by refproxy", key,
                    i >= WARN_FORWARD_AUTH_FIRST ? "forward-auth" : "Tailscale");
        }
        return 0;
    }
    if (scope == TSNSRV_SERVICE && !strcmp(key, "prometheusAddr")) {
        if (!(c->warned & (1ull << WARN_SERVICE_PROMETHEUS))) {
            c->warned |= 1ull << WARN_SERVICE_PROMETHEUS;
            cv_warn(c, k,
                    "field 'prometheusAddr' is a tsnsrv Tailscale option and is ignored by "
                    "refproxy inside a service (the top-level prometheusAddr is the admin "
                    "listener)");
        }
        return 0;
    }
    const char *best = NULL;
    size_t best_d = 99, len = strlen(key);
    for (const char *const *p = known; *p; p++) {
        size_t d = edit_distance(key, *p);
        if (d < best_d) {
            best_d = d;
            best = *p;
        }
    }
    if (best && (best_d <= 2 || best_d * 3 <= len) && best_d * 2 < len)
        return cv_fail(c, k, "unknown field '%s' in %s (did you mean '%s'?)", key, what, best);
    return cv_fail(c, k, "unknown field '%s' in %s", key, what);
}

static const char *kind_name(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE ? "a list"
           : n->type == YAML_SCALAR_NODE ? "a scalar"
                                         : "a mapping";
}

/* Calls fn for every known key whose value is not null. */
static int walk_map(struct cfg_ctx *c, yaml_node_t *n, const char *what, const char *const *known,
                    enum tsnsrv_scope scope, field_fn fn, void *arg)
{
    if (n->type != YAML_MAPPING_NODE)
        return cv_fail(c, n, "%s: expected a mapping, got %s", what, kind_name(n));
    yaml_node_pair_t *start = n->data.mapping.pairs.start, *top = n->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = cv_scalar(c, k, what, "a field name");
        if (!key)
            return -1;
        /* Known keys are few, so a mapping holds at most a few dozen distinct
         * keys before an error: this scan stays cheap. */
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *qk = yaml_document_get_node(c->doc, q->key);
            if (qk->type == YAML_SCALAR_NODE && !strcmp((const char *)qk->data.scalar.value, key))
                return cv_fail(c, k, "duplicate field '%s' in %s (first at line %d)", key, what,
                               cv_line(qk));
        }
        bool is_known = false;
        for (const char *const *q = known; *q && !is_known; q++)
            is_known = !strcmp(*q, key);
        if (!is_known) {
            if (unknown_field(c, k, key, known, what, scope) < 0)
                return -1;
            continue;
        }
        if (cv_is_null(v))
            continue;
        if (fn(c, key, k, v, arg) < 0)
            return -1;
    }
    return 0;
}

/* --- tasks: (keys, defaults and ranges from tasks/task_specs.c) ------------- */

struct tasks_walk {
    struct tasks_config *vals;
    uint64_t *mask;
    enum task_id task;
};

static int task_mode_parse(struct cfg_ctx *c, yaml_node_t *v, const struct task_spec *ts,
                           const char *field, void *dst)
{
    /* a task that accepts "shared" as per-service does not advertise it */
    char expect[64];
    task_spec_mode_words(ts, NULL, expect, sizeof expect);
    const char *s = cv_scalar(c, v, field, expect);
    if (!s)
        return -1;
    enum task_mode m;
    if (!strcmp(s, "off"))
        m = TASK_OFF;
    else if (!strcmp(s, "per-service"))
        m = TASK_PER_SERVICE;
    else if (!strcmp(s, "shared") && (ts->modes & (1u << TASK_SHARED)))
        m = TASK_SHARED;
    else if (!strcmp(s, "shared") && ts->shared_means_node)
        m = TASK_PER_SERVICE;
    else
        return cv_fail(c, v, "%s: expected %s, got '%s'", field, expect, s);
    memcpy(dst, &m, sizeof m);
    return 0;
}

static int task_choice_parse(struct cfg_ctx *c, yaml_node_t *v, const struct task_key *k,
                             const char *field, void *config)
{
    char expect[128];
    task_key_choice_words(k, NULL, expect, sizeof expect);
    const char *s = cv_scalar(c, v, field, expect);
    if (!s)
        return -1;
    for (uint32_t i = 0; k->choices[i]; i++)
        if (!strcmp(s, k->choices[i])) {
            task_key_put(k, config, i);
            return 0;
        }
    return cv_fail(c, v, "%s: expected %s, got '%s'", field, expect, s);
}

static int task_field(struct cfg_ctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v,
                      void *arg)
{
    struct tasks_walk *w = arg;
    const struct task_spec *ts = task_specs[w->task];
    void *config = (char *)w->vals + ts->config_off;
    char field[96];
    snprintf(field, sizeof field, "tasks.%s.%s", ts->name, key);
    int ki = -1; /* the mode */
    if (strcmp(key, "mode")) {
        for (ki = 0; (size_t)ki < ts->nkeys && strcmp(ts->keys[ki].name, key); ki++)
            ;
        if ((size_t)ki == ts->nkeys)
            return cv_fail(c, kn, "%s: internal error, no such task key", field);
    }
    size_t slot = task_spec_slot(w->task, ki);
    if (slot >= TASK_SLOTS_MAX)
        return cv_fail(c, kn, "%s: internal error, more than %d task keys", field, TASK_SLOTS_MAX);
    int r;
    if (ki < 0) {
        r = task_mode_parse(c, v, ts, field, config);
    } else {
        const struct task_key *k = &ts->keys[ki];
        void *dst = (char *)config + k->off;
        switch (k->kind) {
        case TASK_KEY_DURATION:
            r = cv_duration(c, v, field, k->min, dst);
            break;
        case TASK_KEY_COUNT:
            r = cv_uint(c, v, field, k->min, k->max, dst);
            break;
        default:
            r = task_choice_parse(c, v, k, field, config);
        }
    }
    if (r < 0)
        return -1;
    *w->mask |= 1ull << slot;
    return 0;
}

static int task_section(struct cfg_ctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v,
                        void *arg)
{
    struct tasks_walk *w = arg;
    for (w->task = 0; w->task < TASK_COUNT && strcmp(task_specs[w->task]->name, key); w->task++)
        ;
    if (w->task == TASK_COUNT)
        return cv_fail(c, kn, "tasks.%s: internal error, no such task", key);
    const struct task_spec *ts = task_specs[w->task];
    const char *known[TASK_SLOTS_MAX + 1]; /* mode and keys: fewer than all slots */
    size_t n = 0;
    known[n++] = "mode";
    for (size_t i = 0; i < ts->nkeys && n < COUNT(known) - 1; i++)
        known[n++] = ts->keys[i].name;
    known[n] = NULL;
    char what[64];
    snprintf(what, sizeof what, "tasks.%s", key);
    return walk_map(c, v, what, known, TSNSRV_NONE, task_field, w);
}

static int parse_tasks(struct cfg_ctx *c, yaml_node_t *v, struct tasks_config *vals, uint64_t *mask,
                       int *line, int *column)
{
    struct tasks_walk w = {vals, mask, 0};
    const char *names[TASK_COUNT + 1];
    for (size_t i = 0; i < TASK_COUNT; i++)
        names[i] = task_specs[i]->name;
    names[TASK_COUNT] = NULL;
    *line = cv_line(v);
    *column = cv_column(v);
    return walk_map(c, v, "tasks", names, TSNSRV_NONE, task_section, &w);
}

/* --- limits: ---------------------------------------------------------------- */

static int limits_field(struct cfg_ctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v,
                        void *arg)
{
    struct limits_config *l = &c->cfg->limits;
    char field[64];
    snprintf(field, sizeof field, "limits.%s", key);
    if (!strcmp(key, "maxHeaderBytes"))
        return cv_uint(c, v, field, 1024, 16u << 20, &l->max_header_bytes);
    if (!strcmp(key, "maxRequestLine"))
        return cv_uint(c, v, field, 64, 16u << 20, &l->max_request_line);
    if (!strcmp(key, "maxHeaders"))
        return cv_uint(c, v, field, 1, 10000, &l->max_headers);
    if (!strcmp(key, "headerTimeout"))
        return cv_duration(c, v, field, 1, &l->header_timeout_ms);
    if (!strcmp(key, "idleTimeout"))
        return cv_duration(c, v, field, 1, &l->idle_timeout_ms);
    if (!strcmp(key, "bodyTimeout"))
        return cv_duration(c, v, field, 1, &l->body_timeout_ms);
    if (!strcmp(key, "upstreamConnectTimeout"))
        return cv_duration(c, v, field, 1, &l->upstream_connect_timeout_ms);
    if (!strcmp(key, "upstreamTimeout"))
        return cv_duration(c, v, field, 1, &l->upstream_timeout_ms);
    if (!strcmp(key, "upstreamIdlePerService"))
        return cv_uint(c, v, field, 0, 65535, &l->upstream_idle_per_service);
    if (!strcmp(key, "maxConnections"))
        return cv_uint(c, v, field, 1, 1u << 24, &l->max_connections);
    if (!strcmp(key, "shutdownGrace"))
        return cv_duration(c, v, field, 0, &l->shutdown_grace_ms);
    return cv_uint(c, v, field, 1, 86400, &l->max_profile_seconds); /* maxProfileSeconds */
}

/* --- services ---------------------------------------------------------------- */

struct svc_walk {
    struct service_config *s;
    struct svc_extra *x;
    yaml_node_t *upstream, *unix_addr, *respond;
};

static int respond_field(struct cfg_ctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v,
                         void *arg)
{
    struct service_config *s = arg;
    if (!strcmp(key, "status")) {
        uint32_t st;
        if (cv_uint(c, v, "respond.status", 200, 599, &st) < 0)
            return -1;
        s->respond_status = (int)st;
        return 0;
    }
    if (!strcmp(key, "headers"))
        return cv_headers(c, v, "respond.headers", &s->respond_headers, &s->num_respond_headers);
    const char *body = cv_scalar(c, v, "respond.body", "a string");
    if (!body)
        return -1;
    if (v->data.scalar.length > CONFIG_MAX_BODY_BYTES)
        return cv_fail(c, v, "respond.body: %zu bytes is over the %u byte limit",
                       v->data.scalar.length, CONFIG_MAX_BODY_BYTES);
    if (cv_string(c, v, "respond.body", &s->respond_body) < 0)
        return -1;
    s->respond_body_len = v->data.scalar.length;
    return 0;
}

static int parse_respond(struct cfg_ctx *c, yaml_node_t *v, struct service_config *s)
{
    s->upstream_kind = UPSTREAM_RESPOND;
    s->respond_status = 200;
    if (walk_map(c, v, "respond", respond_keys, TSNSRV_NONE, respond_field, s) < 0)
        return -1;
    if ((s->respond_status == 204 || s->respond_status == 304) && s->respond_body_len)
        return cv_fail(c, v, "respond: status %d cannot have a body", s->respond_status);
    if (!s->respond_body)
        s->respond_body = strdup("");
    return s->respond_body ? 0 : cv_fail(c, v, "out of memory");
}

static int parse_prefixes(struct cfg_ctx *c, yaml_node_t *v, struct service_config *s)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return cv_fail(c, v, "prefixes: expected a list of path prefixes, got %s", kind_name(v));
    yaml_node_item_t *start = v->data.sequence.items.start, *top = v->data.sequence.items.top;
    size_t n = (size_t)(top - start);
    if (n > CONFIG_MAX_PREFIXES)
        return cv_fail(c, v, "prefixes: more than %u prefixes", CONFIG_MAX_PREFIXES);
    s->prefixes = calloc(n ? n : 1, sizeof *s->prefixes);
    if (!s->prefixes)
        return cv_fail(c, v, "out of memory");
    for (yaml_node_item_t *it = start; it < top; it++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, *it);
        const char *p = cv_scalar(c, item, "prefixes", "a path prefix");
        if (!p)
            return -1;
        /* tsnsrv scopes a prefix to one network; refproxy has only one. */
        if (!strncmp(p, "tailnet:", 8)) {
            p += 8;
        } else if (!strncmp(p, "funnel:", 7)) {
            p += 7;
            if (!(c->warned & (1ull << WARN_FUNNEL_PREFIX))) {
                c->warned |= 1ull << WARN_FUNNEL_PREFIX;
                cv_warn(c, item,
                        "prefix '%s': funnel-only prefixes are served like plain "
                        "prefixes by refproxy",
                        p - 7);
            }
        }
        if (*p != '/')
            return cv_fail(c, item, "prefixes: '%s' must start with '/'", p);
        for (const char *q = p; *q; q++)
            if ((unsigned char)*q <= ' ' || *q == 0x7f)
                return cv_fail(c, item, "prefixes: '%s' contains a space or control character", p);
        s->prefixes[s->num_prefixes] = strdup(p);
        if (!s->prefixes[s->num_prefixes])
            return cv_fail(c, item, "out of memory");
        s->num_prefixes++;
    }
    return 0;
}

static int service_field(struct cfg_ctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v,
                         void *arg)
{
    struct svc_walk *w = arg;
    struct service_config *s = w->s;
    if (!strcmp(key, "name"))
        return 0; /* read before the walk so messages can name the service */
    if (!strcmp(key, "listenAddr"))
        return cv_listen(c, v, s, w->x);
    if (!strcmp(key, "upstream")) {
        w->upstream = v;
        return 0;
    }
    if (!strcmp(key, "upstreamUnixAddr")) {
        w->unix_addr = v;
        return 0;
    }
    if (!strcmp(key, "respond")) {
        w->respond = v;
        return 0;
    }
    if (!strcmp(key, "prefixes"))
        return parse_prefixes(c, v, s);
    if (!strcmp(key, "stripPrefix"))
        return cv_bool(c, v, "stripPrefix", &s->strip_prefix);
    if (!strcmp(key, "upstreamHeaders"))
        return cv_headers(c, v, "upstreamHeaders", &s->upstream_headers, &s->num_upstream_headers);
    if (!strcmp(key, "timeout"))
        return cv_duration(c, v, "timeout", 0, &s->timeout_ms);
    if (!strcmp(key, "readHeaderTimeout"))
        return cv_duration(c, v, "readHeaderTimeout", 0, &s->read_header_timeout_ms);
    return parse_tasks(c, v, &w->x->task_values, &w->x->task_mask, &w->x->tasks_line,
                       &w->x->tasks_column); /* tasks */
}

static const yaml_node_t *later(const yaml_node_t *a, const yaml_node_t *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a->start_mark.index > b->start_mark.index ? a : b;
}

static int parse_service(struct cfg_ctx *c, yaml_node_t *n, size_t i)
{
    struct service_config *s = &c->cfg->services[i];
    struct svc_extra *x = &c->extra[i];
    snprintf(c->where, sizeof c->where, "services[%zu]: ", i);
    if (n->type != YAML_MAPPING_NODE)
        return cv_fail(c, n, "expected a service mapping (name, upstream, ...), got %s",
                       kind_name(n));
    s->line = cv_line(n);
    s->column = cv_column(n);
    s->strip_prefix = true; /* tsnsrv's default */
    x->listen_line = s->line;
    x->listen_column = s->column;

    /* The name first, so that every later message can say which service. */
    yaml_node_t *name_node = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, "name")) {
            name_node = yaml_document_get_node(c->doc, p->value);
            break;
        }
    }
    if (!name_node || cv_is_null(name_node))
        return cv_fail(c, n, "missing required field 'name'");
    if (cv_string(c, name_node, "name", &s->name) < 0)
        return -1;
    if (!cv_service_name_ok(s->name))
        return cv_fail(c, name_node,
                       "name: '%s' is not a valid service name (1 to 63 of A-Z a-z 0-9 . _ -)",
                       s->name);
    snprintf(c->where, sizeof c->where, "service '%s': ", s->name);

    struct svc_walk w = {s, x, NULL, NULL, NULL};
    if (walk_map(c, n, "service", service_keys, TSNSRV_SERVICE, service_field, &w) < 0)
        return -1;

    if (w.respond && (w.upstream || w.unix_addr))
        return cv_fail(c, later(w.respond, later(w.upstream, w.unix_addr)),
                       "a service has exactly one of upstream, upstreamUnixAddr or respond "
                       "(this one has respond and an upstream)");
    if (w.respond)
        return parse_respond(c, w.respond, s);
    if (w.unix_addr) {
        /* tsnsrv pairs upstreamUnixAddr with an upstream URL ("http://unix")
         * that gives the Host header and base path; the socket is dialled. */
        s->upstream_kind = UPSTREAM_UNIX;
        if (cv_unix_path(c, w.unix_addr, s) < 0)
            return -1;
        if (w.upstream)
            return cv_upstream_url(c, w.upstream, s, false);
        s->upstream_host = strdup("localhost");
        s->upstream_base_path = strdup("");
        return s->upstream_host && s->upstream_base_path ? 0 : cv_fail(c, n, "out of memory");
    }
    if (w.upstream) {
        s->upstream_kind = UPSTREAM_HTTP;
        return cv_upstream_url(c, w.upstream, s, true);
    }
    return cv_fail(c, n, "missing one of upstream, upstreamUnixAddr or respond");
}

static int parse_services(struct cfg_ctx *c, yaml_node_t *v)
{
    struct config *cfg = c->cfg;
    if (v->type != YAML_SEQUENCE_NODE)
        return cv_fail(c, v, "services: expected a list of services, got %s", kind_name(v));
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!n)
        return 0; /* "no services" is reported after the walk */
    cfg->services = calloc(n, sizeof *cfg->services);
    c->extra = calloc(n, sizeof *c->extra);
    if (!cfg->services || !c->extra)
        return cv_fail(c, v, "out of memory for %zu services", n);
    for (size_t i = 0; i < n; i++) {
        cfg->num_services = i + 1; /* config_free frees what was filled so far */
        yaml_node_t *item = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        int r = parse_service(c, item, i);
        c->where[0] = '\0';
        if (r < 0)
            return -1;
    }
    return 0;
}

/* --- top level ---------------------------------------------------------------- */

static int top_field(struct cfg_ctx *c, const char *key, yaml_node_t *kn, yaml_node_t *v, void *arg)
{
    struct config *cfg = c->cfg;
    if (!strcmp(key, "prometheusAddr"))
        return cv_admin(c, v);
    if (!strcmp(key, "adminAllowRemote"))
        return cv_bool(c, v, key, &cfg->admin_allow_remote);
    if (!strcmp(key, "adminTokenFile"))
        return cv_string(c, v, key, &cfg->admin_token_file);
    if (!strcmp(key, "architecture")) {
        const char *s = cv_scalar(c, v, key, "shared or per-service");
        if (!s)
            return -1;
        if (!strcmp(s, "shared"))
            cfg->architecture = ARCH_SHARED;
        else if (!strcmp(s, "per-service"))
            cfg->architecture = ARCH_PER_SERVICE;
        else
            return cv_fail(c, v, "architecture: expected shared or per-service, got '%s'", s);
        return 0;
    }
    if (!strcmp(key, "workers"))
        return cv_uint(c, v, key, 1, 1024, &cfg->workers);
    if (!strcmp(key, "heapProfile"))
        return cv_bool(c, v, key, &cfg->heap_profile);
    if (!strcmp(key, "profileHz"))
        return cv_uint(c, v, key, 1, 250, &cfg->profile_hz);
    if (!strcmp(key, "limits"))
        return walk_map(c, v, "limits", limits_keys, TSNSRV_NONE, limits_field, NULL);
    if (!strcmp(key, "tasks"))
        return parse_tasks(c, v, &c->task_values, &c->task_mask, &c->tasks_line, &c->tasks_column);
    /* services */
    c->services_given = true;
    c->services_line = cv_line(v);
    c->services_column = cv_column(v);
    return parse_services(c, v);
}

int config_yaml_walk(struct cfg_ctx *c)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (root->type != YAML_MAPPING_NODE)
        return cv_fail(c, root,
                       "expected a mapping of fields (services:, ...) at the top "
                       "level, got %s",
                       kind_name(root));
    return walk_map(c, root, "the top level", top_keys, TSNSRV_TOP, top_field, NULL);
}
