/*
 * config_internal: what config.c (loading, cross-service checks),
 * config_yaml.c (walking the YAML tree) and config_value.c (one scalar at a
 * time: integers, durations, addresses, URLs, headers) share. Not part of the
 * contract in config.h; tests include it to reach the pure value parsers.
 *
 * Errors: every function that can fail returns -1 after recording the first
 * error in ctx->err ("file:line:column: field: what"); later errors are
 * dropped, so the user sees the first problem in file order.
 */
#ifndef REFPROXY_CONFIG_INTERNAL_H
#define REFPROXY_CONFIG_INTERNAL_H

#include <yaml.h>

#include "config.h"

/* Inputs larger than this are refused before parsing. */
#define CONFIG_MAX_FILE_BYTES (64u << 20)
/* A respond body is held in memory by every worker; keep it small. */
#define CONFIG_MAX_BODY_BYTES (1u << 20)
/* Entries in one header map (upstreamHeaders, respond.headers). */
#define CONFIG_MAX_HEADERS 100
/* Entries in one prefixes list. */
#define CONFIG_MAX_PREFIXES 1000

/* A tasks: mapping records the keys it set explicitly as bits of a uint64_t,
 * by slot (tasks/task_spec.h): every task's keys together stay below this. */
enum { TASK_SLOTS_MAX = 64 };

/* What the loader knows about a service beyond struct service_config. */
struct svc_extra {
    int listen_line, listen_column; /* listenAddr value, or the service when defaulted */
    bool listen_given;              /* listenAddr was written (else tsnsrv's ":443") */
    bool listen_hostless;           /* ":port": gets its own loopback address */
    uint16_t listen_port;
    uint64_t task_mask; /* per-service task keys set explicitly, by slot */
    struct tasks_config task_values;
    int tasks_line, tasks_column;
};

struct cfg_ctx {
    const char *path;
    FILE *warn;
    yaml_document_t *doc;
    struct config *cfg;
    char *err;          /* first error, malloc'd */
    char where[128];    /* prefix naming the service, e.g. "service 'api': " */
    uint64_t warned;    /* ignored tsnsrv keys already warned about */
    uint64_t task_mask; /* global task keys set explicitly, by slot */
    struct tasks_config task_values;
    int tasks_line, tasks_column;
    int admin_line, admin_column;
    int services_line, services_column;
    bool services_given;
    struct svc_extra *extra; /* one per service */
};

/* The default admin_text: static, so config_free must not free it. */
extern char config_default_admin_text[];

/* --- config_value.c ---------------------------------------------------- */

int cv_fail(struct cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cv_fail_at(struct cfg_ctx *c, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cv_warn(struct cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cv_warn_at(struct cfg_ctx *c, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cv_line(const yaml_node_t *n);
int cv_column(const yaml_node_t *n);

/* YAML null: a plain empty scalar, "~" or "null". Means "not set". */
bool cv_is_null(const yaml_node_t *n);
/* The scalar's text (NUL-terminated by libyaml), or NULL with an error that
 * says the field wanted `what`. */
const char *cv_scalar(struct cfg_ctx *c, const yaml_node_t *n, const char *field, const char *what);
int cv_string(struct cfg_ctx *c, const yaml_node_t *n, const char *field, char **out);
int cv_uint(struct cfg_ctx *c, const yaml_node_t *n, const char *field, uint32_t min, uint32_t max,
            uint32_t *out);
int cv_bool(struct cfg_ctx *c, const yaml_node_t *n, const char *field, bool *out);
int cv_duration(struct cfg_ctx *c, const yaml_node_t *n, const char *field, uint32_t min_ms,
                uint32_t *out_ms);
int cv_headers(struct cfg_ctx *c, const yaml_node_t *n, const char *field, struct kv **out,
               size_t *count);
int cv_listen(struct cfg_ctx *c, const yaml_node_t *n, struct service_config *s,
              struct svc_extra *x);
int cv_admin(struct cfg_ctx *c, const yaml_node_t *n);
int cv_upstream_url(struct cfg_ctx *c, const yaml_node_t *n, struct service_config *s,
                    bool resolve);
int cv_unix_path(struct cfg_ctx *c, const yaml_node_t *n, struct service_config *s);

/* Pure parsers, exposed for tests. */
/* Go duration ("1m30s", "250ms", "1.5h") or a plain integer of seconds, in
 * nanoseconds. 0 ok, -1 malformed or over ~292 years. */
int cv_parse_duration_ns(const char *s, uint64_t *ns);
/* "host:port", "[v6]:port" or ":port" (host_out becomes ""). 0 ok, -1 with
 * *why set. */
int cv_split_hostport(const char *s, char *host_out, size_t host_cap, uint16_t *port,
                      const char **why);
/* Numeric IPv4/IPv6 or "localhost" (127.0.0.1); no DNS. 0 ok, -1 otherwise. */
int cv_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
bool cv_is_loopback(const struct sockaddr_storage *ss);
bool cv_header_name_ok(const char *s);
bool cv_header_value_ok(const char *s, size_t len);
bool cv_service_name_ok(const char *s);
/* The k-th auto-assigned loopback address: 127.0.1.1, 127.0.1.2, ...,
 * 127.0.1.254, 127.0.2.1, ... (never 127.0.0.x, never .0 or .255). */
uint32_t cv_loopback_for_index(size_t k);
/* "ip:port" or "[ip6]:port" text for a numeric address, into out. */
void cv_format_addr(const struct sockaddr_storage *ss, char *out, size_t cap);

/* --- config_yaml.c ----------------------------------------------------- */

/* Walks the document's root into c->cfg and c->extra. */
int config_yaml_walk(struct cfg_ctx *c);
/* Copies the task keys whose slot bit is set in mask from src into dst. */
void config_tasks_overlay(struct tasks_config *dst, const struct tasks_config *src, uint64_t mask);

#endif
